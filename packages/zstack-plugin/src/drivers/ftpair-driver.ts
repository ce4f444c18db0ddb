/**
 * The FtDriver over today's @cuju/sdk: a VM without FT is the primary's command line
 * spawned on its host; a protected VM is an FtPair (launch both, protect, watch), whose
 * state events become observations. What today's FtPair cannot do (Turn On for a running
 * VM, Turn Off keeping the primary, Restart Secondary, re-attach after a restart) throws
 * DriverUnsupportedError naming the SDK call that will do it (issue 11).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  type CujuBinary,
  type CujuBuildName,
  type CujuVmSpec,
  type FailoverReport,
  FtPair,
  type FtPairStateChange,
  type Host,
  isCujuBuildName,
  primaryArgv,
  type VmProcess,
  waitForLine,
} from '@cuju/sdk';
import {
  type DriverCallOptions,
  DriverFailedError,
  type FailoverResult,
  type FtDriver,
  type HostRef,
  type LaunchRequest,
  type PairObservation,
  type PairRecord,
  type PairState,
  type SecondaryTarget,
} from '../driver.js';
import { type DriverOperationName, DriverUnsupportedError, FtServiceError, messageOf } from '../errors.js';

export interface FtPairDriverOptions {
  /** The SDK host behind each service host name. */
  hosts: ReadonlyMap<string, Host>;
  /** The Cuju binary of each build name (`master`, `groupft`; cuju-sim in tests and the console). */
  builds: Readonly<Record<string, CujuBinary>>;
  /** Where monitors and logs go on every host (short: Unix socket paths are limited to 107 bytes). */
  runDir: string;
  /** Stop every VM this driver started on close() (the simulated cluster); default false. */
  stopOnClose?: boolean;
  /** A free TCP port on a host for the secondary's -incoming (default: a free port of this machine). */
  freePort?: (host: HostRef) => Promise<number>;
  timeouts?: { launchMs?: number; syncMs?: number; failoverMs?: number };
}

type Held =
  | { kind: 'plain'; vm: VmProcess; record: PairRecord; dir: string }
  | { kind: 'pair'; pair: FtPair; hosts: TrackingHost[]; record: PairRecord; dir: string };

const ISSUE_11 = 'the FT pair lifecycle of @cuju/sdk (issue 11)';
const UNSUPPORTED: Partial<Record<DriverOperationName, string>> = {
  turnOn: `needs FtPair.turnOn for a VM that already runs, from ${ISSUE_11}`,
  turnOff: `needs FtPair.turnOff (FT ends, the primary keeps running), from ${ISSUE_11}`,
  restartSecondary: `needs FtPair.restartSecondary (a new secondary from the survivor), from ${ISSUE_11}`,
  attach: `needs FtPair.attach(record) to adopt VMs started by an earlier process, from ${ISSUE_11}`,
};

export class FtPairDriver implements FtDriver {
  readonly name = 'ftpair';
  private readonly held = new Map<string, Held>();
  /**
   * VM -> the step id of the incarnation this process stopped (a failed launch, down()):
   * attach() can vouch that those VMs are gone without issue 11's attach.
   */
  private readonly stoppedHere = new Map<string, number>();
  private readonly listeners = new Set<(o: PairObservation) => void>();

  constructor(private readonly options: FtPairDriverOptions) {
    mkdirSync(options.runDir, { recursive: true });
  }

  supports(operation: DriverOperationName): boolean {
    return UNSUPPORTED[operation] === undefined;
  }

  async launch(req: LaunchRequest, o: DriverCallOptions): Promise<PairRecord> {
    const host = this.host(req.primary.name);
    const binary = this.binary(req, 'launch');
    const dir = this.dirFor(req.stepId);
    const spec = this.spec(req, dir);
    o.onProgress?.(`starting ${req.vmId} on ${req.primary.name}`);
    const vm = await host.spawnVm(
      [binary.path, ...(binary.args ?? []), ...primaryArgv(spec, this.buildOf(req))],
      {
        logPath: join(dir, 'primary.log'),
      },
    );
    const record: PairRecord = {
      ...this.baseRecord(req, 'running'),
      primary: {
        host: req.primary.name,
        monitorPath: spec.monitorPath,
        logPath: join(dir, 'primary.log'),
        pid: vm.pid,
      },
    };
    try {
      await abortable(
        waitForLine(vm, 'VM init finished', { timeoutMs: this.options.timeouts?.launchMs ?? 20_000 }),
        o.signal,
      );
    } catch (err) {
      await stopVm(vm);
      rmSync(dir, { recursive: true, force: true });
      this.stoppedHere.set(req.vmId, req.stepId);
      throw new DriverFailedError(
        `${req.vmId} did not start: ${messageOf(err)}`,
        { ...record, state: 'stopped' },
        err,
      );
    }
    const held: Held = { kind: 'plain', vm, record, dir };
    this.held.set(req.vmId, held);
    vm.exited.then(
      (exit) => {
        if (this.held.get(req.vmId) !== held) return;
        held.record = {
          ...held.record,
          state: 'stopped',
          detail: `the VM exited (${exit.signal ?? `code ${exit.code}`})`,
        };
        this.publish({ record: held.record });
      },
      () => {},
    );
    return record;
  }

  async protect(req: LaunchRequest, secondary: SecondaryTarget, o: DriverCallOptions): Promise<PairRecord> {
    const primary = new TrackingHost(this.host(req.primary.name));
    const backup = new TrackingHost(this.host(secondary.host.name));
    const binary = this.binary(req, 'protect');
    const dir = this.dirFor(req.stepId);
    const spec = this.spec(req, dir);
    const ftPort = await (this.options.freePort ?? localFreePort)(secondary.host);
    const pair = new FtPair({
      primary,
      backup,
      build: this.buildOf(req),
      vm: spec,
      backupVm: { monitorPath: join(dir, 'backup.monitor') },
      binary,
      ftPort,
      logDir: dir,
      ...(this.options.timeouts ? { timeouts: this.options.timeouts } : {}),
    });
    const record: PairRecord = {
      ...this.baseRecord(req, 'starting'),
      primary: { host: req.primary.name, monitorPath: spec.monitorPath },
      secondary: { host: secondary.host.name, monitorPath: join(dir, 'backup.monitor') },
      ftPort,
    };
    const held: Held = { kind: 'pair', pair, hosts: [primary, backup], record, dir };
    this.held.set(req.vmId, held);
    pair.on('state', (change) => this.pairChanged(req.vmId, held, change));
    pair.on('failover', (report) => this.pairFailedOver(req.vmId, held, report));
    o.onProgress?.(`starting ${req.vmId} on ${req.primary.name} and its secondary on ${secondary.host.name}`);
    try {
      await pair.up({ signal: o.signal });
    } catch (err) {
      this.held.delete(req.vmId);
      await pair.down();
      await Promise.all([primary.reap(), backup.reap()]);
      rmSync(dir, { recursive: true, force: true });
      this.stoppedHere.set(req.vmId, req.stepId);
      throw new DriverFailedError(
        `FT did not come up for ${req.vmId}: ${messageOf(err)}`,
        { ...record, state: 'stopped', detail: messageOf(err) },
        err,
      );
    }
    // The pids, for the record (and issue 11's attach).
    const [p, b] = [primary.spawned[0], backup.spawned[0]];
    held.record = {
      ...held.record,
      primary: { ...held.record.primary, ...(p ? { pid: p.pid, logPath: p.logPath } : {}) },
      ...(held.record.secondary
        ? { secondary: { ...held.record.secondary, ...(b ? { pid: b.pid, logPath: b.logPath } : {}) } }
        : {}),
    };
    return held.record;
  }

  async turnOn(record: PairRecord): Promise<PairRecord> {
    throw this.unsupported('turnOn', record);
  }

  async turnOff(record: PairRecord): Promise<PairRecord> {
    throw this.unsupported('turnOff', record);
  }

  async restartSecondary(record: PairRecord): Promise<PairRecord> {
    throw this.unsupported('restartSecondary', record);
  }

  async attach(record: PairRecord): Promise<PairRecord> {
    const held = this.held.get(record.vmId);
    if (held) return held.record;
    const stepId = record.extra.stepId;
    if (typeof stepId === 'number' && this.stoppedHere.get(record.vmId) === stepId) {
      return { ...record, state: 'stopped', detail: 'stopped by this process' };
    }
    throw this.unsupported('attach', record);
  }

  async testFailover(record: PairRecord, o: DriverCallOptions): Promise<FailoverResult> {
    const held = this.held.get(record.vmId);
    if (held?.kind !== 'pair') {
      throw new FtServiceError(
        'FTS_CONFLICT',
        `Test Failover needs a protected pair; ${record.vmId} has none here`,
      );
    }
    o.onProgress?.(`killing the primary of ${record.vmId} on ${record.primary.host}`);
    let report: FailoverReport;
    try {
      report = await abortable(held.pair.testFailover(), o.signal);
    } catch (err) {
      throw new DriverFailedError(
        `Test Failover of ${record.vmId} failed: ${messageOf(err)}`,
        held.record,
        err,
      );
    }
    return {
      record: held.record,
      ...(report.detectionMs !== undefined ? { detectionMs: report.detectionMs } : {}),
    };
  }

  async down(record: PairRecord, o: DriverCallOptions): Promise<PairRecord> {
    const held = this.held.get(record.vmId);
    if (!held) throw this.unsupported('attach', record);
    o.onProgress?.(`stopping ${record.vmId}`);
    await this.stopHeld(record.vmId, held);
    return held.record;
  }

  observe(vmId: string): PairObservation | undefined {
    const held = this.held.get(vmId);
    return held && { record: held.record };
  }

  subscribe(listener: (o: PairObservation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.options.stopOnClose) {
      await Promise.allSettled([...this.held].map(([vmId, held]) => this.stopHeld(vmId, held)));
    }
    this.held.clear();
  }

  // ---- internals ------------------------------------------------------------------------

  private async stopHeld(vmId: string, held: Held): Promise<void> {
    this.held.delete(vmId);
    const stepId = held.record.extra.stepId;
    if (typeof stepId === 'number') this.stoppedHere.set(vmId, stepId);
    if (held.kind === 'pair') {
      await held.pair.down();
      await Promise.all(held.hosts.map((h) => h.reap()));
    } else {
      await stopVm(held.vm);
    }
    rmSync(held.dir, { recursive: true, force: true });
    held.record = { ...held.record, state: 'stopped', detail: 'stopped by the FT service' };
    this.publish({ record: held.record });
  }

  private pairChanged(vmId: string, held: Held, change: FtPairStateChange): void {
    if (this.held.get(vmId) !== held) return;
    // A failover is published by pairFailedOver, with its figures.
    if (change.state === 'failed-over') return;
    const state = pairStateOf(change);
    if (state === held.record.state && change.detail === held.record.detail) return;
    held.record = { ...held.record, state, ...(change.detail ? { detail: change.detail } : {}) };
    if (state === 'secondary-lost') {
      const { secondary: _gone, ...rest } = held.record;
      held.record = rest;
    }
    this.publish({ record: held.record });
  }

  private pairFailedOver(vmId: string, held: Held, report: FailoverReport): void {
    if (this.held.get(vmId) !== held) return;
    const survivor = held.record.secondary ?? held.record.primary;
    const { secondary: _old, ...rest } = held.record;
    held.record = { ...rest, state: 'failed-over', primary: survivor, detail: `via ${report.via}` };
    this.publish({
      record: held.record,
      failover: {
        at: report.detectedAt.toISOString(),
        ...(report.detectionMs !== undefined ? { detectionMs: report.detectionMs } : {}),
      },
    });
  }

  private publish(o: PairObservation): void {
    for (const l of this.listeners) l(o);
  }

  private unsupported(operation: DriverOperationName, record: PairRecord): DriverUnsupportedError {
    return new DriverUnsupportedError(
      this.name,
      operation,
      `${UNSUPPORTED[operation] ?? ISSUE_11} (VM ${record.vmId})`,
    );
  }

  private host(name: string): Host {
    const host = this.options.hosts.get(name);
    if (!host) throw new FtServiceError('FTS_NOT_FOUND', `the ftpair driver has no host named ${name}`);
    return host;
  }

  private binary(req: LaunchRequest, operation: DriverOperationName): CujuBinary {
    if (req.engine !== 'cuju') {
      throw new DriverUnsupportedError(this.name, operation, `the ${req.engine} engine is not available yet`);
    }
    const binary = this.options.builds[req.build];
    if (!binary) {
      throw new DriverFailedError(
        `no Cuju build named ${req.build} (known: ${Object.keys(this.options.builds).join(', ')})`,
      );
    }
    return binary;
  }

  /** The Cuju build profile the request names (the binary for it was checked by binary()). */
  private buildOf(req: LaunchRequest): CujuBuildName {
    if (!isCujuBuildName(req.build)) {
      throw new DriverFailedError(
        `${req.build} is not a Cuju build the SDK knows (master, groupft, blk-server)`,
      );
    }
    return req.build;
  }

  private dirFor(stepId: number): string {
    const dir = join(this.options.runDir, `s${stepId}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  private spec(req: LaunchRequest, dir: string): CujuVmSpec {
    return { name: req.vmId, memory: req.memoryMiB, monitorPath: join(dir, 'primary.monitor') };
  }

  private baseRecord(req: LaunchRequest, state: PairState): Omit<PairRecord, 'primary'> {
    return {
      version: 1,
      driver: this.name,
      vmId: req.vmId,
      engine: req.engine,
      build: req.build,
      state,
      extra: { stepId: req.stepId },
    };
  }
}

/**
 * A Host that remembers every VM process started through it, so that the driver owns
 * them whatever FtPair does: after a failed or aborted up() (today's FtPair can leave a
 * VM behind then: issue 11) and after down(), any still running is killed.
 */
class TrackingHost implements Host {
  readonly spawned: VmProcess[] = [];
  constructor(private readonly inner: Host) {}
  get name() {
    return this.inner.name;
  }
  get address() {
    return this.inner.address;
  }
  run(...args: Parameters<Host['run']>) {
    return this.inner.run(...args);
  }
  async spawnVm(...args: Parameters<Host['spawnVm']>) {
    const vm = await this.inner.spawnVm(...args);
    this.spawned.push(vm);
    return vm;
  }
  writeFile(...args: Parameters<Host['writeFile']>) {
    return this.inner.writeFile(...args);
  }
  connectMonitor(...args: Parameters<Host['connectMonitor']>) {
    return this.inner.connectMonitor(...args);
  }
  close() {
    return this.inner.close();
  }
  /** Stops what still runs of what was started here. */
  async reap(): Promise<void> {
    await Promise.allSettled(this.spawned.map((vm) => stopVm(vm)));
  }
}

/** FtPair's states in the driver's words. */
function pairStateOf(change: FtPairStateChange): PairState {
  switch (change.state) {
    case 'idle':
    case 'launching':
    case 'backup-ready':
    case 'enabling':
    case 'syncing':
      return 'starting';
    case 'protected':
      return 'protected';
    case 'failing-over':
      return 'failing-over';
    case 'failed-over':
      return 'failed-over';
    case 'stopped':
      return 'stopped';
    case 'not-protected':
      // The backup went away while protected: the primary runs on alone.
      if (change.reason === 'secondary-lost') return 'secondary-lost';
      return 'error';
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function stopVm(vm: VmProcess): Promise<void> {
  if (!vm.running) return;
  await vm.kill('SIGTERM');
  const gone = await Promise.race([
    vm.exited.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
  ]);
  if (!gone) await vm.kill('SIGKILL');
  await vm.exited.catch(() => undefined);
}

/** A free TCP port of this machine (the simulated hosts are loopback addresses of it). */
export function localFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
