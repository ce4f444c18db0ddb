/**
 * Cuju behind the FtEngine seam: the command lines of runvm.sh and recv.sh for one build,
 * ftmode.sh's two lines, the stdout markers of that build, protection as the build can
 * show it, FT turned off (`cuju-migrate-cancel` where the build has it), promotion
 * (`cuju-failover` on a receiver in FT), and Cuju's hazards: no monitor opened during FT
 * (issue #13), no connection to a group join port.
 *
 * Stdout: every profiled build makes QEMU's stdout line-buffered itself
 * (`os_set_line_buffering()`, vl.c@21f9f0b:4439, @d2e55fe:4446, @4b17b51:4459, before
 * `VM init finished`), so markers are not held back in a pipe buffer and `stdbuf` is not
 * needed. Whatever a binary does with its stdout, nothing here depends on a marker alone:
 * a VM is up when its monitor answers, protection on master is confirmed by
 * `cuju-get-ft-mode` as well, and a takeover by the secondary's status or RESUME (cuju-sim's
 * `-sim-stdout-buffered` holds markers back to test exactly that).
 */
import { HmpClient, QmpClient } from '@cuju/qmp';
import { type CujuBuildProfile, cujuBuild } from '../builds.js';
import { CujuArgumentError, CujuMonitorDuringFtError, FtPairError } from '../errors.js';
import { cujuFtRegistry } from '../ft-registry.js';
import type { Host } from '../hosts/host.js';
import { primaryArgv, receiverArgv } from '../launch.js';
import { type CujuMarker, parseMarker } from '../markers.js';
import { CujuMonitor, monitorEndpointKey } from '../monitor.js';
import type { CujuVmSpec } from '../spec.js';
import type {
  EngineCallOptions,
  EngineMonitor,
  EnginePairPlan,
  EngineSignal,
  FtEngine,
  FtVm,
  PairRole,
  StopFtOutcome,
} from './engine.js';
import { bounded, sleep } from './wait.js';

/** A Cuju VM's monitors as the pair keeps them: the readline monitor, and QMP beside it when the spec has one. */
export interface CujuVmMonitor extends EngineMonitor {
  readonly cuju: CujuMonitor;
  /** The QMP connection (spec.qmpPath), opened with the readline one: RESUME comes on it at once. */
  readonly qmp: QmpClient | undefined;
  /** The key the VM is recorded under in cujuFtRegistry. */
  readonly endpointKey: string;
}

/** How often protection and a takeover are asked for over the monitor while no marker has come. */
const POLL_MS = 50;

/** The FtEngine of Cuju, for one build. */
export class CujuEngine implements FtEngine<CujuVmMonitor> {
  readonly name = 'cuju';
  readonly build: CujuBuildProfile;
  /** Cuju issue #13 is open in every build: a monitor opened during FT segfaults QEMU. */
  readonly monitorSafeDuringFt = false;
  private readonly joinPorts = new WeakMap<FtVm<CujuVmMonitor>, { host: string; port: number }>();
  private readonly seen = new WeakMap<FtVm<CujuVmMonitor>, Set<CujuMarker['kind']>>();

  constructor(build: Parameters<typeof cujuBuild>[0]) {
    this.build = cujuBuild(build, 'build');
  }

  get variant(): string {
    return this.build.name;
  }

  checkPair(plan: EnginePairPlan): void {
    this.primaryArgv(plan.primary.spec);
    this.receiverArgv(plan.backup.spec, plan.ftPort);
    const gft = this.build.gft;
    if (!gft?.joinPortAlwaysBound || plan.primary.host.address !== plan.backup.host.address) return;
    const primaryPort = plan.primary.spec.joinPort ?? gft.defaultJoinPort;
    const backupPort = plan.backup.spec.joinPort ?? gft.defaultJoinPort;
    if (primaryPort === backupPort) {
      throw new CujuArgumentError(
        'backupVm.joinPort',
        `must differ from the primary's join port (${primaryPort}) when both VMs run on ${plan.primary.host.address}: every ${this.build.name} VM binds its -ft-join-port (default ${gft.defaultJoinPort}) and aborts when it cannot`,
      );
    }
  }

  primaryArgv(spec: CujuVmSpec): string[] {
    return primaryArgv(spec, this.build);
  }

  receiverArgv(spec: CujuVmSpec, ftPort: number): string[] {
    return receiverArgv(spec, { port: ftPort }, this.build);
  }

  markerOf(line: string): CujuMarker | undefined {
    return parseMarker(line, this.build);
  }

  classify(_role: PairRole, line: string): EngineSignal | undefined {
    const marker = this.markerOf(line);
    switch (marker?.kind) {
      case 'vm-init-finished':
        return { kind: 'ready' };
      case 'ft-incoming':
        return { kind: 'receiver-loaded' };
      case 'first-commit':
        return { kind: 'receiver-synced' };
      case 'timer-tick':
        return { kind: 'epoch', count: marker.count };
      case 'ft-trans-close':
      case 'read-pages-disconn':
      case 'read-headers-disconn':
        return { kind: 'link-eof' };
      case 'failover-vm-started':
        return { kind: 'takeover-done' };
      case 'ft-ack-failed':
        return { kind: 'partner-lost' };
      case 'migration-load-failed':
        return { kind: 'error', message: `load of migration failed: ${marker.reason}` };
      default:
        return undefined;
    }
  }

  /**
   * Opens the readline monitor (and QMP beside it when the spec has `qmpPath`), refusing a
   * VM this process put into FT: a new connection then can crash it (issue #13).
   */
  async openMonitor(host: Host, spec: CujuVmSpec, options: EngineCallOptions): Promise<CujuVmMonitor> {
    const endpointKey = monitorEndpointKey({ host, path: spec.monitorPath });
    if (cujuFtRegistry.isFt(endpointKey)) throw new CujuMonitorDuringFtError(endpointKey);
    const bannerTimeoutMs = Math.min(5_000, Math.max(1, options.timeoutMs));
    const socket = await bounded(host.connectMonitor(spec.monitorPath), {
      what: `connecting to ${endpointKey}`,
      signal: options.signal,
    });
    let hmp: HmpClient;
    try {
      hmp = await HmpClient.connect({
        socket,
        name: endpointKey,
        bannerTimeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      socket.destroy();
      throw err;
    }
    const cuju = new CujuMonitor(hmp, { build: this.build, endpointKey });
    let qmp: QmpClient | undefined;
    if (spec.qmpPath !== undefined) {
      try {
        const qmpSocket = await bounded(host.connectMonitor(spec.qmpPath), {
          what: `connecting to ${spec.qmpPath}`,
          signal: options.signal,
        });
        qmp = await QmpClient.connect({
          socket: qmpSocket,
          name: `${endpointKey} (QMP)`,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (err) {
        await cuju.close().catch(() => {});
        throw err;
      }
    }
    return {
      cuju,
      qmp,
      endpointKey,
      close: async () => {
        await Promise.allSettled([cuju.close(), qmp?.close()]);
      },
    };
  }

  observe(vm: FtVm<CujuVmMonitor>, line: string): void {
    const marker = this.markerOf(line);
    if (!marker) return;
    const kinds = this.seen.get(vm) ?? new Set<CujuMarker['kind']>();
    this.seen.set(vm, kinds);
    kinds.add(marker.kind);
    vm.monitor?.cuju.observe(marker);
  }

  async checkRunning(vm: FtVm<CujuVmMonitor>, options: EngineCallOptions): Promise<boolean> {
    return (await this.monitorOf(vm, 'check that it runs').cuju.status(options)).running;
  }

  async enableFt(primary: FtVm<CujuVmMonitor>, options: EngineCallOptions): Promise<void> {
    await this.monitorOf(primary, 'enable FT').cuju.enableFt(options);
  }

  async startFt(
    primary: FtVm<CujuVmMonitor>,
    target: { host: string; port: number },
    options: EngineCallOptions,
  ): Promise<void> {
    await this.monitorOf(primary, 'start FT').cuju.startFt(target, options);
  }

  /**
   * The backup holds a committed epoch (`first commit`, or on master `cuju_ft_mode: 5`) and
   * the primary's epochs run (`ft_started: 1` on master, `info migrate` in Cuju's FT state
   * elsewhere). Asked again on every marker of either VM and every POLL_MS.
   */
  async confirmProtected(
    primary: FtVm<CujuVmMonitor>,
    backup: FtVm<CujuVmMonitor>,
    options: EngineCallOptions,
  ): Promise<void> {
    const deadline = performance.now() + options.timeoutMs;
    const primaryMonitor = this.monitorOf(primary, 'confirm protection');
    const backupMonitor = this.monitorOf(backup, 'confirm protection');
    const hasFtMode = this.build.commands['cuju-get-ft-mode'] !== undefined;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new FtPairError(
          'NOT_PROTECTED',
          `protection was not confirmed within ${options.timeoutMs} ms (the backup's first commit and the primary's epochs)`,
          'sync-timeout',
        );
      }
      const call = { timeoutMs: Math.max(1, left), signal: options.signal };
      let synced = this.seen.get(backup)?.has('first-commit') === true;
      if (!synced && hasFtMode) synced = (await backupMonitor.cuju.ftMode(call)).value === 5;
      // Without cuju-get-ft-mode and with no marker at all from the backup (a buffered
      // stdout), the primary's epochs running is the evidence left: they wait for its ACK.
      const blind = !hasFtMode && !this.prints(backup);
      if ((synced || blind) && (await primaryMonitor.cuju.ftRunning(call))) return;
      await sleep(Math.min(POLL_MS, Math.max(1, left)), options.signal, 'confirming protection');
    }
  }

  async stopFt(
    primary: FtVm<CujuVmMonitor>,
    _backup: FtVm<CujuVmMonitor>,
    options: EngineCallOptions,
  ): Promise<StopFtOutcome> {
    // groupft and blk-server have no way to end FT and keep both VMs: the secondary goes.
    if (this.build.commands['cuju-migrate-cancel'] === undefined || !primary.monitor) return 'stop-secondary';
    await primary.monitor.cuju.cancelFt(options);
    return 'cancelled';
  }

  async promote(backup: FtVm<CujuVmMonitor>, options: EngineCallOptions): Promise<void> {
    await this.monitorOf(backup, 'promote it').cuju.failover(options);
  }

  async heartbeat(vm: FtVm<CujuVmMonitor>, _role: PairRole, options: EngineCallOptions): Promise<void> {
    await this.monitorOf(vm, 'probe it').cuju.status(options);
  }

  watchMonitor(vm: FtVm<CujuVmMonitor>, onSignal: (signal: EngineSignal) => void): () => void {
    const qmp = vm.monitor?.qmp;
    if (!qmp) return () => {};
    const listener = (event: { event: string }) => {
      if (event.event === 'RESUME') onSignal({ kind: 'resumed' });
    };
    qmp.on('event', listener);
    return () => qmp.off('event', listener);
  }

  launched(vm: FtVm<CujuVmMonitor>): void {
    const gft = this.build.gft;
    if (!gft?.joinPortAlwaysBound) return;
    // groupft binds 0:join-port on every VM: a connection there aborts it (never probe it).
    const entry = { host: vm.host.address, port: vm.spec.joinPort ?? gft.defaultJoinPort };
    cujuFtRegistry.addJoinPort(entry.host, entry.port);
    this.joinPorts.set(vm, entry);
  }

  setInFt(vm: FtVm<CujuVmMonitor>, inFt: boolean): void {
    const key = monitorEndpointKey({ host: vm.host, path: vm.spec.monitorPath });
    if (inFt) cujuFtRegistry.markFt(key);
    else cujuFtRegistry.clearFt(key);
  }

  forget(vm: FtVm<CujuVmMonitor>): void {
    cujuFtRegistry.clearFt(monitorEndpointKey({ host: vm.host, path: vm.spec.monitorPath }));
    const entry = this.joinPorts.get(vm);
    if (entry) cujuFtRegistry.removeJoinPort(entry.host, entry.port);
    this.joinPorts.delete(vm);
  }

  /** Whether the VM's stdout has shown any marker (a buffered one shows none). */
  private prints(vm: FtVm<CujuVmMonitor>): boolean {
    return (this.seen.get(vm)?.size ?? 0) > 0;
  }

  private monitorOf(vm: FtVm<CujuVmMonitor>, what: string): CujuVmMonitor {
    if (vm.monitor) return vm.monitor;
    throw new FtPairError(
      'NO_MONITOR',
      `cannot ${what}: the ${vm.name} VM's monitor is not open (it was in FT when this pair attached, and opening it then can crash it: Cuju issue #13)`,
    );
  }
}
