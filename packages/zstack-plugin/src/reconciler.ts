/**
 * The reconciler: makes every VM's FT intent true and keeps it true. Level-triggered: each
 * pass reads the whole store, asks the planner for each VM's next step and runs it; events
 * (a driver change, an API write) only shorten the wait before the next pass. At most
 * `concurrency` steps run at once, one per VM; a VM whose step failed waits an exponential
 * backoff; an operation the driver does not support is not retried until something about
 * the VM changes. Only the lease holder acts; a new leader first closes the steps the last
 * one left open (runner.recover).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { FtDriver, PairObservation } from './driver.js';
import { FencedError, messageOf } from './errors.js';
import type { LeaderLease } from './leader.js';
import type { PlannedStep, Step, Vm } from './model.js';
import { planVm, usageOf, type VmFacts } from './planner.js';
import { type StepOutcome, type StepProgress, StepRunner } from './runner.js';
import { deriveStatus, sameStatus } from './status.js';
import type { FtStore, World } from './store/store.js';

export interface ReconcilerOptions {
  /** Steps under way at once (different VMs). Default 4. */
  concurrency?: number;
  /** The longest wait between passes when nothing happens. Default 2000 ms. */
  intervalMs?: number;
  /** Backoff after a failed step: base * 2^(failures-1), at most max. Default 500 ms .. 30 s. */
  backoff?: { baseMs: number; maxMs: number };
}

export interface ReconcilerEvents {
  progress: [StepProgress];
  pass: [{ durationMs: number; vms: number; started: number }];
  failover: [{ vmId: string; detectionMs: number | undefined }];
  error: [err: unknown];
}

interface Backoff {
  failures: number;
  until: number;
}

export class Reconciler extends EventEmitter<ReconcilerEvents> {
  readonly runner: StepRunner;
  private readonly concurrency: number;
  private readonly intervalMs: number;
  private readonly backoffOpts: { baseMs: number; maxMs: number };
  private readonly inFlight = new Map<string, { step: Step | undefined; done: Promise<void> }>();
  private readonly backoff = new Map<string, Backoff>();
  /** VM -> the plan key an unsupported operation was refused for; skipped until it changes. */
  private readonly unsupported = new Map<string, string>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private abort = new AbortController();
  private recoveredFor: number | undefined;
  private readonly unsubscribe: () => void;
  private writes = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: FtStore,
    private readonly driver: FtDriver,
    private readonly lease: Pick<LeaderLease, 'current'>,
    private readonly log: Logger,
    options: ReconcilerOptions = {},
  ) {
    super();
    this.concurrency = options.concurrency ?? 4;
    this.intervalMs = options.intervalMs ?? 2000;
    this.backoffOpts = options.backoff ?? { baseMs: 500, maxMs: 30_000 };
    this.runner = new StepRunner(store, driver);
    this.runner.on('progress', (p) => this.emit('progress', p));
    this.unsubscribe = driver.subscribe((o) => void this.observed(o));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.run();
  }

  /**
   * Ends the loop; steps under way are aborted and awaited (a step cut short stays open in
   * the journal: the next leader checks the world). Changes the driver reports are still
   * recorded until detach().
   */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort(new Error('the reconciler is stopping'));
    this.wake();
    await this.loop;
    await Promise.allSettled([...this.inFlight.values()].map((f) => f.done));
  }

  /** Stops recording driver changes, after the ones under way are written. */
  async detach(): Promise<void> {
    this.unsubscribe();
    while (this.writes.size > 0) await Promise.allSettled([...this.writes.values()]);
  }

  /** Leadership was lost: abort what runs, recover again on the next acquisition. */
  demoted(): void {
    this.abort.abort(new Error('leadership lost'));
    this.abort = new AbortController();
    this.recoveredFor = undefined;
    this.wake();
  }

  /** Shortens the wait before the next pass (events only do this; they never act themselves). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Steps under way now. */
  get busy(): number {
    return this.inFlight.size;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.pass();
      } catch (err) {
        if (err instanceof FencedError)
          this.log.warn({ err: messageOf(err) }, 'fenced: another instance leads');
        else this.log.error({ err: messageOf(err) }, 'reconcile pass failed');
        this.emit('error', err);
      }
      await this.wait(this.intervalMs);
    }
  }

  private wait(ms: number): Promise<void> {
    if (this.woken || !this.running) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        this.woken = false;
        done();
      };
    });
  }

  /** One level-triggered pass over every VM. */
  async pass(): Promise<void> {
    const fence = this.lease.current;
    if (fence === undefined) return;
    const started = performance.now();
    let world = await this.store.loadWorld();
    if (this.recoveredFor !== fence) {
      await this.recover(world, fence);
      this.recoveredFor = fence;
      world = await this.store.loadWorld();
    }
    const usage = usageOf(
      world,
      [...this.inFlight.values()].flatMap((f) => (f.step ? [f.step] : [])),
    );
    let startedSteps = 0;
    for (const vm of world.vms) {
      if (this.inFlight.has(vm.id)) continue;
      const b = this.backoff.get(vm.id);
      if (b && b.until > Date.now()) continue;
      const facts = this.factsOf(world, vm);
      if (!facts) continue;
      const plan = planVm(facts, world.hosts, usage);
      if (plan.kind === 'step') {
        const key = planKey(plan.step, facts);
        if (this.unsupported.get(vm.id) === key) continue;
        if (this.inFlight.size >= this.concurrency) continue;
        this.launch(plan.step, facts, world, fence, key);
        startedSteps++;
      } else if (plan.kind === 'refuse-request') {
        await this.serial(vm.id, () =>
          this.store.write(fence, async (w) => {
            await w.finishRequest(plan.request.id, 'failed', undefined, plan.why);
            await w.addEvent({
              vmId: vm.id,
              kind: 'action',
              message: `${plan.request.action} refused: ${plan.why}`,
            });
          }),
        );
      } else {
        // Idle or blocked: keep the status in line with the record and the intent.
        if (this.unsupported.has(vm.id)) continue;
        const shown = {
          ...(plan.kind === 'blocked' ? { blocked: { reason: plan.reason, detail: plan.detail } } : {}),
          ...(facts.live?.figures ? { figures: facts.live.figures } : {}),
        };
        const record = facts.live?.record ?? facts.stored?.record;
        const next = deriveStatus({
          vm,
          intent: facts.intent,
          record,
          previous: facts.stored?.status,
          ...shown,
        });
        if (!sameStatus(facts.stored?.status, next)) {
          await this.serial(vm.id, () =>
            this.store.write(fence, (w) =>
              this.runner.putStatus(w, facts, this.driver.observe(vm.id)?.record ?? record, shown),
            ),
          );
        }
      }
    }
    this.emit('pass', {
      durationMs: performance.now() - started,
      vms: world.vms.length,
      started: startedSteps,
    });
  }

  private factsOf(world: World, vm: Vm): VmFacts | undefined {
    const intent = world.intents.get(vm.id);
    if (!intent) return undefined;
    return {
      vm,
      intent,
      stored: world.statuses.get(vm.id),
      live: this.driver.observe(vm.id),
      requests: world.pendingRequests.filter((r) => r.vmId === vm.id),
    };
  }

  private launch(planned: PlannedStep, facts: VmFacts, world: World, fence: number, key: string): void {
    const entry: { step: Step | undefined; done: Promise<void> } = {
      step: { id: 0, ...planned, state: 'started', fence, startedAt: new Date().toISOString() },
      done: Promise.resolve(),
    };
    const signal = this.abort.signal;
    entry.done = this.serial(planned.vmId, () =>
      this.runner.run(planned, {
        fence,
        signal,
        vm: facts.vm,
        intent: facts.intent,
        stored: facts.stored,
        record: facts.live?.record ?? facts.stored?.record,
        hosts: world.hosts,
      }),
    )
      .then((outcome) => this.settled(planned.vmId, outcome, key))
      .catch((err) => {
        this.failed(planned.vmId);
        if (!signal.aborted) {
          this.log.error(
            { vmId: planned.vmId, step: planned.kind, err: messageOf(err) },
            'step could not be journaled',
          );
          this.emit('error', err);
        }
      })
      .finally(() => {
        this.inFlight.delete(planned.vmId);
        this.wake();
      });
    this.inFlight.set(planned.vmId, entry);
  }

  private settled(vmId: string, outcome: StepOutcome, key: string): void {
    const { step } = outcome;
    if (outcome.unsupported) {
      this.unsupported.set(vmId, key);
      this.log.warn(
        { vmId, step: step.kind, stepId: step.id, err: outcome.unsupported.message },
        'not supported by the driver',
      );
    } else if (outcome.error) {
      this.failed(vmId);
      this.log.warn({ vmId, step: step.kind, stepId: step.id, err: outcome.error.message }, 'step failed');
    } else {
      this.backoff.delete(vmId);
      this.unsupported.delete(vmId);
      this.log.info({ vmId, step: step.kind, stepId: step.id }, 'step done');
    }
  }

  private failed(vmId: string): void {
    const failures = (this.backoff.get(vmId)?.failures ?? 0) + 1;
    const { baseMs, maxMs } = this.backoffOpts;
    this.backoff.set(vmId, { failures, until: Date.now() + Math.min(maxMs, baseMs * 2 ** (failures - 1)) });
  }

  /** Closes the steps an earlier leader left open, checking the world first. */
  private async recover(world: World, fence: number): Promise<void> {
    for (const step of world.openSteps) {
      const vm = world.vms.find((v) => v.id === step.vmId);
      const facts = vm && this.factsOf(world, vm);
      if (!facts) {
        await this.store.write(fence, async (w) => {
          await w.finishStep(step, 'interrupted', 'the VM no longer exists');
        });
        continue;
      }
      const outcome = await this.serial(step.vmId, () =>
        this.runner.recover(step, {
          fence,
          signal: this.abort.signal,
          vm: facts.vm,
          intent: facts.intent,
          stored: facts.stored,
          record: facts.stored?.record,
          hosts: world.hosts,
        }),
      );
      this.log.info({ vmId: step.vmId, stepId: step.id, state: outcome.step.state }, 'open step closed');
    }
  }

  /** A change the driver saw by itself (a failover, a lost secondary): record it. */
  private async observed(o: PairObservation): Promise<void> {
    const fence = this.lease.current;
    if (fence === undefined) return;
    const vmId = o.record.vmId;
    try {
      await this.serial(vmId, async () => {
        const [vm, intent, stored] = await Promise.all([
          this.store.getVm(vmId),
          this.store.getIntent(vmId),
          this.store.getStatus(vmId),
        ]);
        if (!vm || !intent) return;
        const figures = { ...stored?.status.figures, ...o.figures };
        if (o.failover) {
          figures.failovers = (figures.failovers ?? 0) + 1;
          if (o.failover.detectionMs !== undefined) figures.lastDetectionMs = o.failover.detectionMs;
        }
        await this.store.write(fence, async (w) => {
          if (o.failover) {
            await w.addEvent({
              vmId,
              kind: 'failover',
              message: `failed over to ${o.record.primary.host}${o.failover.detectionMs !== undefined ? ` (detected in ${o.failover.detectionMs} ms)` : ''}`,
              data: {
                ...(o.failover.detectionMs !== undefined ? { detectionMs: o.failover.detectionMs } : {}),
              },
            });
          }
          // The driver's view now, not the one in `o`: a step may have moved it on meanwhile.
          const record = this.driver.observe(vmId)?.record ?? o.record;
          await this.runner.putStatus(w, { vm, intent }, record, { figures });
        });
      });
      if (o.failover) this.emit('failover', { vmId, detectionMs: o.failover.detectionMs });
      // Something changed by itself: forget refusals, the next pass plans afresh.
      this.unsupported.delete(vmId);
      this.wake();
    } catch (err) {
      this.log.warn({ vmId, err: messageOf(err) }, 'could not record a change seen by the driver');
      this.emit('error', err);
    }
  }

  /** Runs `fn` after the VM's earlier writes (a step's close and a driver change never interleave). */
  private serial<T>(vmId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.writes.get(vmId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(
      () => {},
      () => {},
    );
    this.writes.set(vmId, tail);
    void tail.then(() => {
      if (this.writes.get(vmId) === tail) this.writes.delete(vmId);
    });
    return next;
  }
}

/** What makes a plan "the same" for the unsupported-operation memory. */
function planKey(step: PlannedStep, facts: VmFacts): string {
  const rec = facts.live?.record ?? facts.stored?.record;
  return `${step.kind}:${facts.intent.generation}:${rec?.state ?? 'none'}:${step.params.requestId ?? ''}`;
}

export type { StepProgress };
