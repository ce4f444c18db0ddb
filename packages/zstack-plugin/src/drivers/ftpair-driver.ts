/**
 * The FtDriver over @cuju/sdk's FtPair, one pair per VM, whatever its FT state: a VM
 * without FT is a pair started with start() (FT off, `disabled`), a protected VM one
 * brought up with up(). Every lifecycle operation is the pair's own (turnOn, turnOff,
 * restartSecondary, testFailover, down), and the pair's JSON record travels in the
 * service's record (`extra.pair`), so that after a restart or a takeover attach() adopts
 * the VMs with FtPair.attach() without launching anything.
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
  type FtPairRecord,
  type FtPairState,
  type Host,
  isCujuBuildName,
  type VmRecord,
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
  type PairSide,
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
  /** Stop every VM this driver holds on close() (the simulated cluster); default false: they keep running. */
  stopOnClose?: boolean;
  /** A free TCP port on a host for a secondary's -incoming (default: a free port of this machine). */
  freePort?: (host: HostRef) => Promise<number>;
  timeouts?: { launchMs?: number; syncMs?: number; failoverMs?: number };
  /**
   * The secondary's VM name (`-name`) for a service VM id; undefined: the primary's. An
   * IaaS that keys on domain names must not see the primary's name on a second host
   * (ZStack: zstackBackupName gives `cuju-bk-<uuid>`).
   */
  backupName?: (vmId: string) => string | undefined;
}

/** A pair this process holds, with the directory of its files and the record last published. */
interface Held {
  pair: FtPair;
  dir: string;
  record: PairRecord;
  /** The FT port of the current secondary. */
  ftPort: number | undefined;
}

export class FtPairDriver implements FtDriver {
  readonly name = 'ftpair';
  private readonly held = new Map<string, Held>();
  private readonly listeners = new Set<(o: PairObservation) => void>();
  /**
   * Each SDK host under its service name: a pair's record names its hosts by these, so
   * attach() finds them again (all simulated hosts are LocalHosts, which share one name).
   */
  private readonly hosts: ReadonlyMap<string, Host>;

  constructor(private readonly options: FtPairDriverOptions) {
    mkdirSync(options.runDir, { recursive: true });
    this.hosts = new Map([...options.hosts].map(([name, host]) => [name, new ServiceHost(name, host)]));
  }

  supports(_operation: DriverOperationName): boolean {
    return true;
  }

  async launch(req: LaunchRequest, o: DriverCallOptions): Promise<PairRecord> {
    const host = this.host(req.primary.name);
    o.onProgress?.(`starting ${req.vmId} on ${req.primary.name}`);
    return this.begin(req, host, host, undefined, 'launch', (pair) => pair.start({ signal: o.signal }));
  }

  async protect(req: LaunchRequest, secondary: SecondaryTarget, o: DriverCallOptions): Promise<PairRecord> {
    const primary = this.host(req.primary.name);
    const backup = this.host(secondary.host.name);
    const ftPort = await this.freePort(secondary.host);
    o.onProgress?.(`starting ${req.vmId} on ${req.primary.name} and its secondary on ${secondary.host.name}`);
    return this.begin(req, primary, backup, ftPort, 'protect', (pair) => pair.up({ signal: o.signal }));
  }

  async turnOn(record: PairRecord, secondary: SecondaryTarget, o: DriverCallOptions): Promise<PairRecord> {
    const held = this.holding(record, 'Turn On');
    o.onProgress?.(`starting a secondary for ${record.vmId} on ${secondary.host.name}`);
    return this.withSecondary(held, record, secondary, o, 'Turn On', (options) => held.pair.turnOn(options));
  }

  async restartSecondary(
    record: PairRecord,
    secondary: SecondaryTarget,
    o: DriverCallOptions,
  ): Promise<PairRecord> {
    const held = this.holding(record, 'Restart Secondary');
    o.onProgress?.(`starting a new secondary for ${record.vmId} on ${secondary.host.name}`);
    return this.withSecondary(held, record, secondary, o, 'Restart Secondary', (options) =>
      held.pair.restartSecondary(options),
    );
  }

  async turnOff(record: PairRecord, o: DriverCallOptions): Promise<PairRecord> {
    const held = this.holding(record, 'Turn Off');
    o.onProgress?.(`turning FT off for ${record.vmId}; its primary keeps running`);
    try {
      await held.pair.turnOff({ signal: o.signal });
    } catch (err) {
      throw new DriverFailedError(
        `Turn Off of ${record.vmId} failed: ${messageOf(err)}`,
        this.refresh(held),
        err,
      );
    }
    held.ftPort = undefined;
    return this.refresh(held);
  }

  async testFailover(record: PairRecord, o: DriverCallOptions): Promise<FailoverResult> {
    const held = this.holding(record, 'Test Failover');
    o.onProgress?.(`killing the primary of ${record.vmId} on ${record.primary.host}`);
    let report: FailoverReport;
    try {
      report = await held.pair.testFailover({ signal: o.signal });
    } catch (err) {
      throw new DriverFailedError(
        `Test Failover of ${record.vmId} failed: ${messageOf(err)}`,
        this.refresh(held),
        err,
      );
    }
    const detectionMs = detectionOf(report);
    return { record: this.refresh(held), ...(detectionMs !== undefined ? { detectionMs } : {}) };
  }

  async down(record: PairRecord, o: DriverCallOptions): Promise<PairRecord> {
    const held = this.held.get(record.vmId) ?? (await this.adopt(record, o));
    if (!held) return { ...record, state: 'stopped', detail: 'nothing of it runs' };
    o.onProgress?.(`stopping ${record.vmId}`);
    await this.stopHeld(record.vmId, held);
    return held.record;
  }

  async attach(record: PairRecord, o: DriverCallOptions): Promise<PairRecord> {
    const held = this.held.get(record.vmId) ?? (await this.adopt(record, o));
    return held ? held.record : { ...record, state: 'stopped', detail: 'nothing of it runs' };
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
    const all = [...this.held];
    this.held.clear();
    await Promise.allSettled(
      all.map(([vmId, held]) =>
        // detach() lets the VMs run on for the next process's attach(); it is refused while
        // an operation runs, and then the pair is stopped rather than left half-held.
        this.options.stopOnClose
          ? this.stopHeld(vmId, held)
          : held.pair.detach().catch(() => this.stopHeld(vmId, held)),
      ),
    );
  }

  // ---- internals ------------------------------------------------------------------------

  /** A new pair for a VM, started by `start`; on failure nothing of it is left. */
  private async begin(
    req: LaunchRequest,
    primary: Host,
    backup: Host,
    ftPort: number | undefined,
    operation: DriverOperationName,
    start: (pair: FtPair) => Promise<void>,
  ): Promise<PairRecord> {
    const binary = this.binary(req, operation);
    const dir = this.dirFor(req.stepId);
    const vm: CujuVmSpec = {
      name: req.vmId,
      memory: req.memoryMiB,
      monitorPath: join(dir, 'primary.monitor'),
    };
    const pair = new FtPair({
      primary,
      backup,
      build: this.buildOf(req),
      vm,
      backupVm: { monitorPath: join(dir, 'backup.monitor'), ...this.backupNameOf(req.vmId) },
      binary,
      ...(ftPort !== undefined ? { ftPort } : {}),
      logDir: dir,
      ...(this.options.timeouts ? { timeouts: this.options.timeouts } : {}),
    });
    const base: PairRecord = {
      version: 1,
      driver: this.name,
      vmId: req.vmId,
      engine: req.engine,
      build: req.build,
      state: ftPort === undefined ? 'launching' : 'starting',
      primary: { host: req.primary.name, monitorPath: vm.monitorPath },
      ...(ftPort !== undefined ? { ftPort } : {}),
      ...(req.epochUs !== undefined ? { epochUs: req.epochUs } : {}),
      extra: { stepId: req.stepId },
    };
    const held: Held = { pair, dir, record: base, ftPort };
    this.held.set(req.vmId, held);
    this.follow(req.vmId, held);
    try {
      await start(pair);
    } catch (err) {
      this.held.delete(req.vmId);
      await pair.down().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      const what =
        operation === 'launch' ? `${req.vmId} did not start` : `FT did not come up for ${req.vmId}`;
      throw new DriverFailedError(
        `${what}: ${messageOf(err)}`,
        { ...base, state: 'stopped', detail: messageOf(err) },
        err,
      );
    }
    return this.refresh(held);
  }

  /** turnOn() or restartSecondary(): a new secondary on `secondary.host`, in the pair's directory. */
  private async withSecondary(
    held: Held,
    record: PairRecord,
    secondary: SecondaryTarget,
    o: DriverCallOptions,
    what: string,
    run: (options: {
      backup: Host;
      ftPort: number;
      backupVm: Partial<CujuVmSpec>;
      signal: AbortSignal;
    }) => Promise<void>,
  ): Promise<PairRecord> {
    const ftPort = await this.freePort(secondary.host);
    try {
      // Each secondary gets its own monitor: on the simulated cluster all hosts share one
      // file system, and the VM it replaces may still hold its socket.
      await run({
        backup: this.host(secondary.host.name),
        ftPort,
        backupVm: { monitorPath: join(held.dir, `s${o.stepId}.monitor`), ...this.backupNameOf(record.vmId) },
        signal: o.signal,
      });
    } catch (err) {
      throw new DriverFailedError(
        `${what} of ${record.vmId} failed: ${messageOf(err)}`,
        this.refresh(held),
        err,
      );
    }
    held.ftPort = ftPort;
    return this.refresh(held);
  }

  /** The pair of a record this process does not hold, adopted with FtPair.attach(). */
  private async adopt(record: PairRecord, o: DriverCallOptions): Promise<Held | undefined> {
    const saved = record.extra.pair as FtPairRecord | undefined;
    if (saved === undefined) {
      // Only a record whose VMs never started lacks the pair's record (a launch cut short
      // before its first VM ran writes none): there is nothing to adopt.
      if (record.state === 'stopped' || record.state === 'launching' || record.state === 'starting') {
        return undefined;
      }
      throw new DriverFailedError(`${record.vmId}'s record holds no FT pair record to attach to`, record);
    }
    const binary = this.binary(record, 'attach');
    let pair: FtPair;
    try {
      pair = await FtPair.attach(saved, {
        hosts: Object.fromEntries(this.hosts),
        binary,
        ...(this.options.timeouts ? { timeouts: this.options.timeouts } : {}),
        signal: o.signal,
      });
    } catch (err) {
      throw new DriverFailedError(`cannot attach to ${record.vmId}: ${messageOf(err)}`, record, err);
    }
    const stepId = record.extra.stepId;
    const held: Held = {
      pair,
      dir: this.dirFor(typeof stepId === 'number' ? stepId : o.stepId),
      record,
      ftPort: record.ftPort,
    };
    if (pair.state === 'stopped') {
      held.record = this.recordOf(held);
      return held;
    }
    this.held.set(record.vmId, held);
    this.follow(record.vmId, held);
    this.refresh(held);
    return held;
  }

  /** Publishes the pair's changes as they happen (a failover, a lost secondary, a VM that exited). */
  private follow(vmId: string, held: Held): void {
    held.pair.on('state', (change) => {
      if (this.held.get(vmId) !== held) return;
      // A failover is published by its report, with the figures.
      if (change.state === 'failed-over') return;
      const before = held.record;
      const after = this.refresh(held);
      if (after.state !== before.state || after.detail !== before.detail) this.publish({ record: after });
    });
    held.pair.on('failover', (report) => {
      if (this.held.get(vmId) !== held) return;
      held.ftPort = undefined;
      const detectionMs = detectionOf(report);
      this.publish({
        record: this.refresh(held),
        failover: {
          at: report.detectedAt.toISOString(),
          ...(detectionMs !== undefined ? { detectionMs } : {}),
        },
      });
    });
  }

  /** The held record, brought up to date from the pair. */
  private refresh(held: Held): PairRecord {
    held.record = this.recordOf(held);
    return held.record;
  }

  private recordOf(held: Held): PairRecord {
    const saved = held.pair.record();
    const { secondary: _old, ftPort: _port, ...rest } = held.record;
    const primary = saved.primary ? this.side(saved.primary) : held.record.primary;
    const secondary = saved.backup ? this.side(saved.backup) : undefined;
    const detail = detailOf(saved);
    return {
      ...rest,
      state: pairStateOf(saved.state, saved.reason),
      primary,
      ...(secondary ? { secondary } : {}),
      ...(secondary && held.ftPort !== undefined ? { ftPort: held.ftPort } : {}),
      ...(detail ? { detail } : {}),
      extra: { ...held.record.extra, pair: saved },
    };
  }

  private side(vm: VmRecord): PairSide {
    return { host: vm.host.name, monitorPath: vm.spec.monitorPath, logPath: vm.logPath, pid: vm.pid };
  }

  private async stopHeld(vmId: string, held: Held): Promise<void> {
    if (this.held.get(vmId) === held) this.held.delete(vmId);
    await held.pair.down();
    rmSync(held.dir, { recursive: true, force: true });
    held.record = { ...this.recordOf(held), state: 'stopped', detail: 'stopped by the FT service' };
    this.publish({ record: held.record });
  }

  private publish(o: PairObservation): void {
    for (const l of this.listeners) l(o);
  }

  /** The pair this process holds for `record`; an operation on a VM held nowhere is a conflict. */
  private holding(record: PairRecord, what: string): Held {
    const held = this.held.get(record.vmId);
    if (!held) {
      throw new FtServiceError(
        'FTS_CONFLICT',
        `${what} needs a running VM; ${record.vmId} is not held here (attach it first)`,
      );
    }
    return held;
  }

  private backupNameOf(vmId: string): { name?: string } {
    const name = this.options.backupName?.(vmId);
    return name === undefined ? {} : { name };
  }

  private host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new FtServiceError('FTS_NOT_FOUND', `the ftpair driver has no host named ${name}`);
    return host;
  }

  private binary(req: { engine: string; build: string }, operation: DriverOperationName): CujuBinary {
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

  private freePort(host: HostRef): Promise<number> {
    return (this.options.freePort ?? localFreePort)(host);
  }

  private dirFor(stepId: number): string {
    const dir = join(this.options.runDir, `s${stepId}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }
}

/**
 * An SDK host under its service name (records name hosts by it); everything else is the
 * host's own.
 */
class ServiceHost implements Host {
  constructor(
    readonly name: string,
    private readonly inner: Host,
  ) {}
  get address() {
    return this.inner.address;
  }
  run(...args: Parameters<Host['run']>) {
    return this.inner.run(...args);
  }
  spawnVm(...args: Parameters<Host['spawnVm']>) {
    return this.inner.spawnVm(...args);
  }
  writeFile(...args: Parameters<Host['writeFile']>) {
    return this.inner.writeFile(...args);
  }
  connectMonitor(...args: Parameters<Host['connectMonitor']>) {
    return this.inner.connectMonitor(...args);
  }
  adoptVm(...args: Parameters<NonNullable<Host['adoptVm']>>) {
    if (!this.inner.adoptVm) {
      throw new FtServiceError('FTS_DRIVER_FAILED', `host ${this.name} cannot adopt a running VM`);
    }
    return this.inner.adoptVm(...args);
  }
  close() {
    return this.inner.close();
  }
}

/** FtPair's states in the driver's words. */
function pairStateOf(state: FtPairState, reason: FtPairRecord['reason']): PairState {
  switch (state) {
    case 'idle':
    case 'launching':
      return 'launching';
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
    case 'disabled':
      return 'running';
    case 'stopping':
      return 'stopping';
    case 'stopped':
      return 'stopped';
    case 'not-protected':
      // The primary runs on alone (its secondary lost, gone unresponsive, or a Turn On or
      // Restart Secondary that failed); anything else leaves no VM the service can vouch for.
      return reason === 'secondary-lost' ||
        reason === 'secondary-unresponsive' ||
        reason === 'sync-timeout' ||
        reason === 'launch-failed' ||
        reason === 'aborted'
        ? 'secondary-lost'
        : 'error';
  }
}

/** The service's detection time: from the primary's death to the secondary running the guest. */
function detectionOf(report: FailoverReport): number | undefined {
  return report.deathToRunningMs ?? report.detectionMs;
}

function detailOf(record: FtPairRecord): string | undefined {
  return record.reason ? record.reason.replaceAll('-', ' ') : undefined;
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
