/**
 * The step runner: carries out one planned step against the driver, journaling it BEFORE
 * it acts and closing it after, each in one fenced transaction with the VM's new status
 * and history. After a crash or a takeover, `recover` closes the steps left `started` by
 * checking the world (driver.attach) first: `recovered` when the step had taken effect,
 * `interrupted` when it had not; nothing is repeated blindly.
 */
import { EventEmitter } from 'node:events';
import {
  type DriverCallOptions,
  DriverFailedError,
  type FtDriver,
  type HostRef,
  type LaunchRequest,
  type PairRecord,
  PairRecord as PairRecordSchema,
} from './driver.js';
import { DriverUnsupportedError, FencedError, FtServiceError, messageOf } from './errors.js';
import type {
  FtIntent,
  FtStatus,
  Host,
  NotProtectedReason,
  PlannedStep,
  Step,
  StepKind,
  Vm,
} from './model.js';
import { canonical, deriveStatus, describeStatus, sameStatus } from './status.js';
import type { FtStore, StoredStatus, StoreWriter } from './store/store.js';

export type StepPhase = 'started' | 'progress' | 'done' | 'failed' | 'recovered' | 'interrupted';

export interface StepProgress {
  stepId: number;
  vmId: string;
  kind: StepKind;
  phase: StepPhase;
  message: string;
  at: string;
}

export interface RunnerEvents {
  progress: [StepProgress];
}

export interface StepContext {
  fence: number;
  signal: AbortSignal;
  vm: Vm;
  intent: FtIntent;
  stored: StoredStatus | undefined;
  /** The pair record to act on (live view first, else the stored one). */
  record: PairRecord | undefined;
  hosts: readonly Host[];
}

export interface StepOutcome {
  step: Step;
  /** The step could not be done by this driver (recorded as the VM's status, no retry until something changes). */
  unsupported?: DriverUnsupportedError;
  error?: Error;
}

/** What a step of each kind leaves true when it took effect (used to judge a crashed step). */
const EFFECT: Record<StepKind, (r: PairRecord) => boolean> = {
  launch: (r) => r.state === 'running',
  protect: (r) => r.state === 'protected' || r.state === 'starting',
  'turn-on': (r) => r.state === 'protected' || r.state === 'starting',
  'turn-off': (r) => r.state === 'running',
  'restart-secondary': (r) => r.state === 'protected' || r.state === 'starting',
  'test-failover': (r) => r.state === 'failed-over' || r.state === 'failing-over',
  attach: () => true,
  stop: (r) => r.state === 'stopped',
};

export class StepRunner extends EventEmitter<RunnerEvents> {
  constructor(
    private readonly store: FtStore,
    private readonly driver: FtDriver,
  ) {
    super();
  }

  async run(planned: PlannedStep, ctx: StepContext): Promise<StepOutcome> {
    const { fence, vm, intent } = ctx;
    const hostRef = (name: string | undefined): HostRef => {
      const h = ctx.hosts.find((x) => x.name === name);
      if (!h) throw new FtServiceError('FTS_NOT_FOUND', `host ${name ?? '(none)'} is not known`);
      return { name: h.name, address: h.address };
    };
    // 1. The journal first: the step, and for a launch the record it is about to create
    // (so that a crash right after the launch still leaves a record to attach to).
    const step = await this.store.write(fence, async (w) => {
      const s = await w.startStep(planned, fence);
      if (planned.kind === 'launch' || planned.kind === 'protect') {
        const launching: PairRecord = {
          version: 1,
          driver: this.driver.name,
          vmId: vm.id,
          engine: intent.engine,
          build: intent.build,
          state: 'launching',
          primary: { host: planned.params.primaryHost ?? vm.host },
          ...(planned.params.secondaryHost ? { secondary: { host: planned.params.secondaryHost } } : {}),
          ...(intent.epochUs ? { epochUs: intent.epochUs } : {}),
          extra: { stepId: s.id },
        };
        await this.putStatus(w, ctx, launching);
      }
      await w.addEvent({
        vmId: vm.id,
        kind: 'step',
        message: `${planned.kind} started: ${planned.params.why}`,
        data: { stepId: s.id, step: planned.kind, phase: 'started' },
      });
      return s;
    });
    this.progress(step, 'started', planned.params.why);

    // 2. Act.
    const options: DriverCallOptions = {
      signal: ctx.signal,
      fence,
      stepId: step.id,
      onProgress: (message) => this.progress(step, 'progress', message),
    };
    let record: PairRecord | undefined;
    let failure: Error | undefined;
    try {
      record = await this.act(step, ctx, options, hostRef);
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      if (failure instanceof DriverFailedError && failure.record) record = failure.record;
    }

    // 3. Close the step, with the status it leaves, in one transaction.
    if (ctx.signal.aborted && failure) {
      // Stopping or demoted: leave the step `started`; whoever leads next checks the world.
      throw failure;
    }
    const unsupported = failure instanceof DriverUnsupportedError ? failure : undefined;
    const finished = await this.store.write(fence, async (w) => {
      const done = await w.finishStep(
        step,
        failure ? 'failed' : 'done',
        failure ? messageOf(failure) : undefined,
      );
      if (planned.params.requestId !== undefined) {
        await w.finishRequest(
          planned.params.requestId,
          failure ? 'failed' : 'done',
          step.id,
          failure && messageOf(failure),
        );
      }
      await w.addEvent({
        vmId: vm.id,
        kind: 'step',
        message: failure ? `${planned.kind} failed: ${messageOf(failure)}` : `${planned.kind} done`,
        data: { stepId: step.id, step: planned.kind, phase: failure ? 'failed' : 'done' },
      });
      if (planned.kind === 'stop' && !failure) {
        await w.deleteVm(vm.id);
        return done;
      }
      const after =
        record ?? (failure && isLaunch(planned.kind) ? stoppedCopy(ctx, planned, failure) : ctx.record);
      const shown = unsupported ? unsupportedStatus(planned.kind, unsupported) : {};
      await this.putStatus(w, ctx, after, shown);
      return done;
    });
    this.progress(finished, failure ? 'failed' : 'done', failure ? messageOf(failure) : 'done');
    return {
      step: finished,
      ...(unsupported ? { unsupported } : {}),
      ...(failure ? { error: failure } : {}),
    };
  }

  /**
   * Closes a step a crashed or demoted leader left `started`: attach to what its record
   * says, then `recovered` or `interrupted` by what actually runs.
   */
  async recover(step: Step, ctx: StepContext): Promise<StepOutcome> {
    const { fence, vm } = ctx;
    let record: PairRecord | undefined;
    let failure: Error | undefined;
    if (ctx.record) {
      try {
        record = await this.driver.attach(ctx.record, { signal: ctx.signal, fence, stepId: step.id });
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
    } else {
      // Journaled but no record written: nothing was launched for it.
      failure = undefined;
    }
    const tookEffect = record !== undefined && EFFECT[step.kind](record);
    const state = tookEffect ? 'recovered' : 'interrupted';
    const why = failure
      ? `the world could not be checked: ${messageOf(failure)}`
      : tookEffect
        ? `it had taken effect (the pair is ${record!.state})`
        : `it had not taken effect (${record ? `the pair is ${record.state}` : 'nothing was launched'})`;
    const unsupported = failure instanceof DriverUnsupportedError ? failure : undefined;
    const closed = await this.store.write(fence, async (w) => {
      const done = await w.finishStep(step, state, failure ? messageOf(failure) : undefined);
      if (step.params.requestId !== undefined && tookEffect) {
        await w.finishRequest(step.params.requestId, 'done', step.id);
      }
      await w.addEvent({
        vmId: vm.id,
        kind: 'step',
        message: `${step.kind} (step ${step.id}) was left unfinished by an earlier leader: ${state}, ${why}`,
        data: { stepId: step.id, step: step.kind, phase: state },
      });
      if (step.kind === 'stop' && tookEffect) {
        await w.deleteVm(vm.id);
        return done;
      }
      await this.putStatus(
        w,
        ctx,
        record ?? ctx.record,
        failure ? { blocked: { reason: 'controller-restarted', detail: why } } : {},
      );
      return done;
    });
    this.progress(closed, state, why);
    return { step: closed, ...(unsupported ? { unsupported } : {}), ...(failure ? { error: failure } : {}) };
  }

  private async act(
    step: Step,
    ctx: StepContext,
    options: DriverCallOptions,
    hostRef: (name: string | undefined) => HostRef,
  ): Promise<PairRecord | undefined> {
    const { vm, intent, record } = ctx;
    const p = step.params;
    const need = (): PairRecord => {
      if (!record)
        throw new FtServiceError('FTS_CONFLICT', `${step.kind} needs a pair record and ${vm.id} has none`);
      return record;
    };
    const launch = (): LaunchRequest => ({
      vmId: vm.id,
      name: vm.name,
      memoryMiB: vm.memoryMiB,
      engine: intent.engine,
      build: intent.build,
      ...(intent.epochUs ? { epochUs: intent.epochUs } : {}),
      primary: hostRef(p.primaryHost ?? vm.host),
      stepId: step.id,
    });
    switch (step.kind) {
      case 'launch':
        return this.driver.launch(launch(), options);
      case 'protect':
        return this.driver.protect(launch(), { host: hostRef(p.secondaryHost) }, options);
      case 'turn-on':
        return this.driver.turnOn(need(), { host: hostRef(p.secondaryHost) }, options);
      case 'turn-off':
        return this.driver.turnOff(need(), options);
      case 'restart-secondary':
        return this.driver.restartSecondary(need(), { host: hostRef(p.secondaryHost) }, options);
      case 'test-failover':
        return (await this.driver.testFailover(need(), options)).record;
      case 'attach':
        return this.driver.attach(need(), options);
      case 'stop':
        if (!record || record.state === 'stopped') return record;
        return this.driver.down(record, options);
    }
  }

  /**
   * Writes the VM's status (and an event when what users see changed), derived from the
   * status as committed (read in the same transaction), so that a step's close and a
   * change the driver reported meanwhile never undo each other.
   */
  async putStatus(
    w: StoreWriter,
    ctx: Pick<StepContext, 'vm' | 'intent'>,
    record: PairRecord | undefined,
    shown: StatusOverride = {},
  ): Promise<FtStatus> {
    const current = await w.readStatus(ctx.vm.id);
    const previous = current?.status;
    const status = deriveStatus({ vm: ctx.vm, intent: ctx.intent, record, previous, ...shown });
    const recordChanged = canonical(record) !== canonical(current?.record);
    if (sameStatus(previous, status) && !recordChanged) return status;
    await w.putStatus(status, record && PairRecordSchema.parse(record));
    if (
      !previous ||
      previous.state !== status.state ||
      previous.reason !== status.reason ||
      previous.detail !== status.detail
    ) {
      await w.addEvent({
        vmId: ctx.vm.id,
        kind: 'status',
        message: describeStatus(status),
        data: { state: status.state, ...(status.reason ? { reason: status.reason } : {}) },
      });
    }
    return status;
  }

  private progress(step: Step, phase: StepPhase, message: string): void {
    this.emit('progress', {
      stepId: step.id,
      vmId: step.vmId,
      kind: step.kind,
      phase,
      message,
      at: new Date().toISOString(),
    });
  }
}

const isLaunch = (k: StepKind) => k === 'launch' || k === 'protect';

/** A failed launch leaves nothing running (the driver's contract): its record says so. */
function stoppedCopy(ctx: StepContext, planned: PlannedStep, failure: Error): PairRecord {
  return {
    version: 1,
    driver: 'unknown',
    vmId: ctx.vm.id,
    engine: ctx.intent.engine,
    build: ctx.intent.build,
    state: 'stopped',
    primary: { host: planned.params.primaryHost ?? ctx.vm.host },
    detail: messageOf(failure),
    extra: {},
  };
}

/** What a status shows beyond the record: a reason it is blocked, or a note. */
export interface StatusOverride {
  blocked?: { reason: NotProtectedReason; detail: string };
  note?: string;
  figures?: FtStatus['figures'];
}

/** How an unsupported operation shows in the status. */
function unsupportedStatus(kind: StepKind, err: DriverUnsupportedError): StatusOverride {
  // A Turn Off that cannot be done leaves the VM as it was (protected): say so in a note,
  // not by claiming it is unprotected.
  if (kind === 'turn-off') return { note: err.message };
  return {
    blocked: {
      reason: kind === 'attach' ? 'controller-restarted' : 'driver-unsupported',
      detail: err.message,
    },
  };
}

export { FencedError };
