import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { HmpClient } from '@cuju/qmp';
import type * as TypedEmitterModule from 'typed-emitter';
import { type CujuBuildName, type CujuBuildProfile, cujuBuild } from './builds.js';
import { CujuArgumentError, CujuMonitorDuringFtError, FtPairError, type FtPairReason } from './errors.js';
import {
  checkBackupSpec,
  checkFtPairOptions,
  checkTestFailoverOptions,
  checkUpOptions,
} from './ft-pair-options.js';
import { cujuFtRegistry } from './ft-registry.js';
import type { Host, VmProcess } from './hosts/host.js';
import { primaryArgv, receiverArgv } from './launch.js';
import { type CujuMarker, parseMarker } from './markers.js';
import { CujuMonitor, monitorEndpointKey } from './monitor.js';
import type { CujuVmSpec } from './spec.js';
import { checkPort } from './validate.js';

/** Where an FT pair is in its life (see the README's state list). */
export type FtPairState =
  | 'idle'
  | 'launching'
  | 'backup-ready'
  | 'enabling'
  | 'syncing'
  | 'protected'
  | 'not-protected'
  | 'failing-over'
  | 'failed-over'
  | 'stopped';

/**
 * Why the pair is not protected: `secondary-lost` (the backup VM exited while protected),
 * `primary-lost-before-sync` (the primary died before the first epoch committed: the
 * backup had nothing to run), `failover-failed` (the primary died and the backup did not
 * take over in time), `sync-timeout`, `launch-failed`, `ft-stopped`.
 */
export type NotProtectedReason = FtPairReason;

/** One change of state, with the time and, when not protected, why. */
export interface FtPairStateChange {
  state: FtPairState;
  previous: FtPairState;
  at: Date;
  reason?: NotProtectedReason;
  /** More about what happened, for people. */
  detail?: string;
}

/** What a failover looked like: when the backup took over and how it was seen. */
export interface FailoverReport {
  /** When the backup was seen running on its own. */
  detectedAt: Date;
  /** When the primary was known to be gone (killed by testFailover, or its exit seen). */
  primaryLostAt: Date | undefined;
  /** detectedAt - primaryLostAt, when both are known. */
  detectionMs: number | undefined;
  /** What showed the takeover: Cuju's stdout marker or the backup's `info status`. */
  via: 'backup-marker' | 'backup-status';
}

/** One line of Cuju's stdout that the SDK recognised, and which VM printed it. */
export interface MarkerEvent {
  side: 'primary' | 'backup';
  marker: CujuMarker;
  line: string;
}

/** The events an `FtPair` emits: every state change, the failover report, each recognised stdout line. */
export type FtPairEvents = {
  /** Every change of state, in order. */
  state: (change: FtPairStateChange) => void;
  /** Once per failover: when the backup took over and how it was seen. */
  failover: (report: FailoverReport) => void;
  /** Each line of Cuju's stdout the SDK recognised, from either VM. */
  marker: (event: MarkerEvent) => void;
};

/** The Cuju binary: the built QEMU on a lab host, or cuju-sim (`node .../cuju-sim.mjs`). */
export interface CujuBinary {
  path: string;
  /** Arguments placed before Cuju's own (e.g. the simulator's script path). */
  args?: readonly string[];
}

/** `new FtPair()` options: the two hosts, the VM, Cuju's binary, the FT port, deadlines. */
export interface FtPairOptions {
  primary: Host;
  backup: Host;
  /**
   * The Cuju build the binary is (builds.ts): what the command lines may contain, how
   * protection is confirmed, which join ports the VMs bind. cuju-sim is told the same
   * build with `-sim-build NAME` in `binary.args`.
   */
  build: CujuBuildName | CujuBuildProfile;
  /** The primary VM. The backup gets the same spec with `backupVm` laid over it. */
  vm: CujuVmSpec;
  /** Differences of the backup (its monitor path, tap): default monitor `<name>r.monitor` beside the primary's. */
  backupVm?: Partial<CujuVmSpec>;
  binary: CujuBinary;
  /** The backup's -incoming port (default 4441). */
  ftPort?: number;
  /** Where each host keeps the VM logs (default: beside the monitor socket). */
  logDir?: string;
  sudo?: boolean;
  timeouts?: { launchMs?: number; syncMs?: number; failoverMs?: number };
}

/** `up()` options. */
export interface UpOptions {
  signal?: AbortSignal;
}

type TypedEmitter<E extends TypedEmitterModule.EventMap> = TypedEmitterModule.default<E>;
const Emitter = EventEmitter as new () => TypedEmitter<FtPairEvents>;

/** Deadlines for starting a VM, for reaching the first committed epoch, and for a takeover. */
const DEFAULTS = { launchMs: 20_000, syncMs: 30_000, failoverMs: 10_000 };
/** How long a failover report waits for the primary's exit to be seen (see failoverAfterPrimaryExit). */
const PRIMARY_EXIT_GRACE_MS = 500;

/**
 * A Cuju FT pair: starts the receiver on the backup host and the primary on its host,
 * turns FT on, confirms protection (the backup's `first commit`, the primary's
 * `Enter FT mode`, and the primary's epochs running, asked the way the build allows:
 * `ft_started: 1` on master, `info migrate` in Cuju's FT state elsewhere), then watches
 * both sides. It reports a failover once, from whichever comes first: the backup's
 * `cuju_ft_trans_close vm_started.` or the backup running after the primary was lost;
 * and `not-protected` with a reason when the backup goes away.
 *
 * Each monitor is opened once, before FT starts, and kept until down(): a monitor opened
 * while FT runs can crash QEMU (Cuju issue #13). Both monitors learn FT state from the
 * VMs' stdout, so their guards (no failover but on a receiver in FT) hold.
 */
export class FtPair extends Emitter {
  private current: FtPairState = 'idle';
  private primaryVm: VmProcess | undefined;
  private backupVm: VmProcess | undefined;
  private primaryMonitor: CujuMonitor | undefined;
  private backupMonitor: CujuMonitor | undefined;
  private readonly markers = { primary: new Set<string>(), backup: new Set<string>() };
  private markerWaiters: Array<() => void> = [];
  private primaryLostAt: Date | undefined;
  private failedOver = false;
  private readonly created: Array<{ host: Host; path: string }> = [];
  private readonly unsubscribe: Array<() => void> = [];
  private readonly timeouts: typeof DEFAULTS;
  private readonly ftPort: number;
  private readonly build: CujuBuildProfile;
  /** Registry entries this pair made (monitor endpoints in FT, join ports), undone by down(). */
  private readonly endpointKeys = { primary: '', backup: '' };
  private readonly joinPorts: Array<{ host: string; port: number }> = [];

  constructor(private readonly options: FtPairOptions) {
    super();
    checkFtPairOptions(options);
    this.build = cujuBuild(options.build, 'build');
    this.ftPort = options.ftPort ?? 4441;
    checkPort('ftPort', this.ftPort);
    this.timeouts = { ...DEFAULTS, ...options.timeouts };
    checkBackupSpec(this.backupSpec, options.backupVm);
    this.checkJoinPorts();
  }

  /** What logs show of a pair: its state, never its options (extraArgs may hold secrets). */
  toJSON(): { state: FtPairState } {
    return { state: this.current };
  }

  /** What `console.log` and `util.inspect` show: the state and the hosts, no secret. */
  [inspect.custom](): string {
    return `FtPair { state: '${this.current}' }`;
  }

  /** The build this pair drives. */
  get cujuBuild(): CujuBuildProfile {
    return this.build;
  }

  /** The current state. */
  get state(): FtPairState {
    return this.current;
  }

  /**
   * The backup's spec, as recv.sh derives it from runvm.sh: the monitor `<name>r.monitor`
   * beside the primary's, the next tap (tap0 → tap1), then `backupVm` laid over it.
   */
  get backupSpec(): CujuVmSpec {
    const { vm, backupVm } = this.options;
    const withR = (path: string) => path.replace(/(\.[^./]+)?$/, (ext) => `r${ext}`);
    const nextTap = (tap: string) => tap.replace(/(\d+)$/, (n) => String(Number(n) + 1));
    return {
      ...vm,
      monitorPath: withR(vm.monitorPath),
      ...(vm.qmpPath ? { qmpPath: withR(vm.qmpPath) } : {}),
      ...(vm.nic ? { nic: { ...vm.nic, tap: nextTap(vm.nic.tap) } } : {}),
      ...backupVm,
    };
  }

  /** Launches both VMs and turns FT on; resolves once the pair is protected. */
  async up(upOptions?: UpOptions): Promise<void> {
    const options = checkUpOptions(upOptions);
    if (this.current !== 'idle')
      throw new FtPairError('STATE', `up() needs a fresh pair; this one is ${this.current}`);
    const { signal } = options;
    const { primary, backup, binary } = this.options;
    // Both command lines are built (and checked against the build) before anything starts.
    const backupSpec = this.backupSpec;
    const backupArgv = [
      ...(binary.args ?? []),
      ...receiverArgv(backupSpec, { port: this.ftPort }, this.build),
    ];
    const primaryArgs = [...(binary.args ?? []), ...primaryArgv(this.options.vm, this.build)];
    try {
      this.setState('launching');
      this.backupVm = await this.launch('backup', backup, backupArgv, backupSpec, signal);
      this.backupMonitor = await this.monitor('backup', backup, backupSpec.monitorPath);
      this.setState('backup-ready');
      this.primaryVm = await this.launch('primary', primary, primaryArgs, this.options.vm, signal);
      this.primaryMonitor = await this.monitor('primary', primary, this.options.vm.monitorPath);
      this.setState('enabling');
      await this.primaryMonitor.enableFt({ ...(signal ? { signal } : {}) });
      this.setState('syncing');
      await this.primaryMonitor.startFt(
        { host: backup.address, port: this.ftPort },
        { ...(signal ? { signal } : {}) },
      );
      await this.waitForMarkers(
        [
          ['backup', 'first-commit'],
          ['primary', 'enter-ft-mode'],
        ],
        this.timeouts.syncMs,
        signal,
      );
      // The backup prints `first commit` before its ACK1 reaches the primary: give the
      // primary the rest of the sync deadline to report its epochs running (ft_started on
      // master; groupft and blk-server lack that command: `info migrate` there).
      await this.until(
        () => this.primaryMonitor!.ftRunning(),
        this.timeouts.syncMs,
        this.build.ftRunningCheck === 'ft-started'
          ? 'the primary reports ft_started: 0 after the first commit'
          : "the primary's info migrate does not show Cuju's FT state after the first commit",
      );
      this.setState('protected');
    } catch (err) {
      // (Read through the getter: TypeScript narrowed `current` to 'idle' above, but it moved on.)
      const now: FtPairState = this.state;
      if (now !== 'not-protected' && now !== 'failed-over' && now !== 'stopped') {
        this.setState(
          'not-protected',
          err instanceof FtPairError && err.reason ? err.reason : 'launch-failed',
          (err as Error).message,
        );
      }
      throw err;
    }
  }

  /** Kills the primary on purpose and resolves once the backup has taken over. */
  async testFailover(failoverOptions?: { timeoutMs?: number }): Promise<FailoverReport> {
    const options = checkTestFailoverOptions(failoverOptions);
    if (this.current !== 'protected')
      throw new FtPairError('STATE', `testFailover() needs a protected pair; this one is ${this.current}`);
    const report = new Promise<FailoverReport>((resolve) => this.once('failover', resolve));
    this.primaryLostAt = new Date();
    await this.primaryVm?.kill('SIGKILL');
    const timeoutMs = options.timeoutMs ?? this.timeouts.failoverMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new FtPairError('FAILOVER_TIMEOUT', `the backup did not take over within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const result = await Promise.race([report, timeout]);
      const status = (await this.backupMonitor?.info())?.status;
      if (!status?.running)
        throw new FtPairError(
          'FAILOVER_FAILED',
          `the backup reported a takeover but is ${status?.status ?? 'unreachable'}`,
        );
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops both VMs and removes the logs and sockets this pair created. */
  async down(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await Promise.allSettled([this.primaryMonitor?.close(), this.backupMonitor?.close()]);
    await Promise.allSettled([stop(this.primaryVm), stop(this.backupVm)]);
    // The VMs are gone: their monitors and join ports are no danger any more.
    for (const key of Object.values(this.endpointKeys)) if (key) cujuFtRegistry.clearFt(key);
    for (const { host, port } of this.joinPorts.splice(0)) cujuFtRegistry.removeJoinPort(host, port);
    await Promise.allSettled(this.created.map(({ host, path }) => host.run(['rm', '-f', path])));
    this.created.length = 0;
    if (this.current !== 'stopped') this.setState('stopped');
  }

  // ---- internals --------------------------------------------------------------------

  private setState(state: FtPairState, reason?: NotProtectedReason, detail?: string): void {
    if (state === this.current) return;
    const change: FtPairStateChange = {
      state,
      previous: this.current,
      at: new Date(),
      ...(reason ? { reason } : {}),
      ...(detail ? { detail } : {}),
    };
    this.current = state;
    this.emit('state', change);
  }

  private async launch(
    side: 'primary' | 'backup',
    host: Host,
    argv: string[],
    spec: CujuVmSpec,
    signal?: AbortSignal,
  ): Promise<VmProcess> {
    const [bin, ...args] = [this.options.binary.path, ...argv];
    const logDir = this.options.logDir ?? dirname(spec.monitorPath);
    const logPath = join(logDir, `${side}-${Date.now()}.log`);
    this.created.push({ host, path: logPath }, { host, path: spec.monitorPath });
    if (spec.qmpPath) this.created.push({ host, path: spec.qmpPath });
    const vm = await host.spawnVm([bin!, ...args], { logPath, ...(this.options.sudo ? { sudo: true } : {}) });
    const gft = this.build.gft;
    if (gft?.joinPortAlwaysBound) {
      // groupft binds 0:join-port on every VM: a connection there aborts it (never probe it).
      const entry = { host: host.address, port: spec.joinPort ?? gft.defaultJoinPort };
      cujuFtRegistry.addJoinPort(entry.host, entry.port);
      this.joinPorts.push(entry);
    }
    this.unsubscribe.push(vm.onLine((line) => this.onLine(side, line)));
    // Over SSH `exited` rejects when the connection to the host is lost: that says nothing
    // about the VM, which may still run, so it is not taken for a death.
    vm.exited.then(
      () => this.onExit(side),
      () => {},
    );
    await this.waitForMarkers([[side, 'vm-init-finished']], this.timeouts.launchMs, signal, vm);
    return vm;
  }

  /**
   * Opens the side's monitor: once, before FT starts (CujuMonitor records the endpoint as
   * in FT from then on, so nothing reopens it while FT runs).
   */
  private async monitor(side: 'primary' | 'backup', host: Host, path: string): Promise<CujuMonitor> {
    const key = monitorEndpointKey({ host, path });
    if (cujuFtRegistry.isFt(key)) throw new CujuMonitorDuringFtError(key);
    const socket = await host.connectMonitor(path);
    this.endpointKeys[side] = key;
    return new CujuMonitor(await HmpClient.connect({ socket, name: key }), {
      build: this.build,
      endpointKey: key,
    });
  }

  /** On one host, groupft's VMs need distinct join ports: each binds its own or aborts. */
  private checkJoinPorts(): void {
    const gft = this.build.gft;
    const { primary, backup, vm } = this.options;
    if (!gft?.joinPortAlwaysBound || primary.address !== backup.address) return;
    const primaryPort = vm.joinPort ?? gft.defaultJoinPort;
    const backupPort = this.backupSpec.joinPort ?? gft.defaultJoinPort;
    if (primaryPort === backupPort) {
      throw new CujuArgumentError(
        'backupVm.joinPort',
        `must differ from the primary's join port (${primaryPort}) when both VMs run on ${primary.address}: every ${this.build.name} VM binds its -ft-join-port (default ${gft.defaultJoinPort}) and aborts when it cannot`,
      );
    }
  }

  private onLine(side: 'primary' | 'backup', line: string): void {
    const marker = parseMarker(line, this.build);
    if (!marker) return;
    (side === 'primary' ? this.primaryMonitor : this.backupMonitor)?.observe(marker);
    this.markers[side].add(marker.kind);
    this.emit('marker', { side, marker, line });
    for (const w of this.markerWaiters.splice(0)) w();
    if (side === 'backup' && marker.kind === 'failover-vm-started')
      void this.failoverAfterPrimaryExit('backup-marker');
  }

  private onExit(side: 'primary' | 'backup'): void {
    if (this.endpointKeys[side]) cujuFtRegistry.clearFt(this.endpointKeys[side]);
    for (const w of this.markerWaiters.splice(0)) w();
    if (this.current === 'stopped') return;
    if (side === 'backup') {
      if (this.current === 'protected' || this.current === 'failing-over') {
        this.setState(
          'not-protected',
          this.current === 'failing-over' ? 'failover-failed' : 'secondary-lost',
          'the backup VM exited',
        );
      }
      return;
    }
    this.primaryLostAt ??= new Date();
    if (this.current === 'protected') {
      this.setState('failing-over', undefined, 'the primary VM exited');
      void this.confirmTakeover();
    }
  }

  /** After the primary is gone: the marker usually comes first; else ask the backup. */
  private async confirmTakeover(): Promise<void> {
    const deadline = Date.now() + this.timeouts.failoverMs;
    while (!this.failedOver && Date.now() < deadline && this.backupVm?.running) {
      const status = await this.backupMonitor?.info().catch(() => undefined);
      if (status?.status.running) {
        this.failover('backup-status');
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!this.failedOver && this.current === 'failing-over') {
      const reason = this.markers.backup.has('first-commit') ? 'failover-failed' : 'primary-lost-before-sync';
      this.setState('not-protected', reason, 'the backup did not take over');
    }
  }

  /**
   * The backup's marker can come before the primary's exit is seen (the FT links close
   * first). Give the exit a moment, so the report can say how long the takeover took; a
   * primary still running then (its links were cut, not the VM) is reported without it.
   */
  private async failoverAfterPrimaryExit(via: FailoverReport['via']): Promise<void> {
    const primary = this.primaryVm;
    if (!this.primaryLostAt && primary?.running) {
      await Promise.race([primary.exited, new Promise((r) => setTimeout(r, PRIMARY_EXIT_GRACE_MS))]);
    }
    this.failover(via);
  }

  private failover(via: FailoverReport['via']): void {
    if (this.failedOver) return;
    this.failedOver = true;
    if (this.current === 'protected') this.setState('failing-over');
    const detectedAt = new Date();
    const report: FailoverReport = {
      detectedAt,
      primaryLostAt: this.primaryLostAt,
      detectionMs: this.primaryLostAt ? detectedAt.getTime() - this.primaryLostAt.getTime() : undefined,
      via,
    };
    this.setState('failed-over');
    this.emit('failover', report);
  }

  /** Polls `check` until it is true; rejects with NOT_PROTECTED (sync-timeout) past the deadline. */
  private async until(check: () => Promise<boolean>, timeoutMs: number, failure: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      const dead = this.deadSide();
      if (dead) throw new FtPairError('VM_EXITED', dead, 'primary-lost-before-sync');
      if (Date.now() > deadline) throw new FtPairError('NOT_PROTECTED', failure, 'sync-timeout');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Resolves when every [side, marker] has been seen; rejects on timeout, abort or a VM exiting. */
  private waitForMarkers(
    wanted: Array<['primary' | 'backup', CujuMarker['kind']]>,
    timeoutMs: number,
    signal?: AbortSignal,
    launching?: VmProcess,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        if (wanted.every(([side, kind]) => this.markers[side].has(kind))) return resolve();
        if (signal?.aborted) return reject(new FtPairError('ABORTED', 'aborted', undefined, signal.reason));
        const dead = launching && !launching.running ? 'the VM exited while starting' : this.deadSide();
        if (dead) {
          const reason: NotProtectedReason =
            this.current === 'syncing' && !this.markers.backup.has('first-commit')
              ? 'primary-lost-before-sync'
              : 'launch-failed';
          return reject(new FtPairError('VM_EXITED', dead, reason));
        }
        if (Date.now() - started > timeoutMs) {
          const missing = wanted
            .filter(([side, kind]) => !this.markers[side].has(kind))
            .map(([s, k]) => `${s} ${k}`);
          return reject(
            new FtPairError(
              'TIMEOUT',
              `no ${missing.join(', ')} within ${timeoutMs} ms`,
              this.current === 'syncing' ? 'sync-timeout' : 'launch-failed',
            ),
          );
        }
        this.markerWaiters.push(check);
        setTimeout(() => {
          const i = this.markerWaiters.indexOf(check);
          if (i !== -1) {
            this.markerWaiters.splice(i, 1);
            check();
          }
        }, 100);
      };
      check();
    });
  }

  private deadSide(): string | undefined {
    if (this.primaryVm && !this.primaryVm.running) return 'the primary VM exited';
    if (this.backupVm && !this.backupVm.running) return 'the backup VM exited';
    return undefined;
  }
}

async function stop(vm: VmProcess | undefined): Promise<void> {
  if (!vm?.running) return;
  await vm.kill('SIGTERM');
  const gone = await Promise.race([
    vm.exited.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
  ]);
  if (!gone) await vm.kill('SIGKILL');
  await vm.exited;
}
