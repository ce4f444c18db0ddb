/**
 * QEMU COLO behind the FtEngine seam: stock QEMU's primary/secondary fault tolerance
 * (docs/COLO-FT.txt), driven over QMP only, through @cuju/qmp's typed client.
 *
 * - Launch: the secondary waits with `-incoming tcp:ADDRESS:PORT`; both are NIC-less, and
 *   diskless unless colo.disk asks for block replication (colo-args.ts).
 * - FT on: `x-colo` on the secondary as soon as it is up, `x-colo` and `x-checkpoint-delay`
 *   on the primary, then the primary's `migrate`.
 * - Protected: the primary's migration status is `colo` and the secondary's
 *   `query-colo-status` says mode `secondary`.
 * - Primary lost: the secondary emits `COLO_EXIT {mode: secondary, reason: error}` at once
 *   (its FT link closed); the engine answers with `x-colo-lost-heartbeat` and the
 *   secondary's RESUME after that is the takeover.
 * - Secondary lost: the primary notices nothing until its next checkpoint (it waits for
 *   the checkpoint timer), so when the pair records the secondary's death the engine sends
 *   `x-colo-lost-heartbeat` to the primary, which leaves COLO and runs on. A primary that
 *   does notice first (`COLO_EXIT {mode: primary, reason: error}`) is told the same.
 *
 * A COLO VM's monitor may be opened at any time (no Cuju issue #13 here). Its answers can
 * be slow while the primary checkpoints: every call has the caller's deadline.
 */
import { QmpClient } from '@cuju/qmp';
import { CujuArgumentError, FtPairError } from '../errors.js';
import type { Host } from '../hosts/host.js';
import type { CujuMarker } from '../markers.js';
import type { CujuVmSpec } from '../spec.js';
import {
  COLO_DISK,
  COLO_NETWORK,
  type ColoOptions,
  checkColoOptions,
  checkColoVmSpec,
  coloSecondaryArgv,
  coloVmArgv,
  primaryDrives,
  primaryNetwork,
  type ResolvedColoOptions,
} from './colo-args.js';
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

/** A COLO VM's QMP monitor as the pair keeps it. */
export interface ColoVmMonitor extends EngineMonitor {
  readonly qmp: QmpClient;
  /** `host:path`, for messages. */
  readonly endpoint: string;
}

/** How often protection is asked for while it is not there yet. */
const POLL_MS = 50;
/** The deadline of a `x-colo-lost-heartbeat` the engine sends by itself (a VM's COLO_EXIT, a lost partner). */
const LOST_HEARTBEAT_MS = 30_000;
/** The line QEMU 7.2's secondary prints when its link to the primary closes (colo.c). */
const SECONDARY_LINK_EOF = /Can't receive COLO message/;

/** Where a secondary listens, as receiverArgv() put it on its command line. */
interface Listen {
  address: string;
  port: number;
}

/** A receiver being made ready: `x-colo` set on it (once its monitor is open). */
interface Receiver {
  listen: Listen;
  ready: Promise<void>;
}

/** The FtEngine of QEMU COLO (see the module comment). */
export class ColoEngine implements FtEngine<ColoVmMonitor> {
  readonly name = 'colo';
  readonly variant = 'qemu';
  readonly monitorSafeDuringFt = true;
  readonly options: ResolvedColoOptions;
  /** The address each backup spec's host has (checkPair), for its -incoming. */
  readonly #hostAddress = new WeakMap<CujuVmSpec, string>();
  /** The address of each primary spec's host (checkPair): colo.network's ports listen there. */
  readonly #primaryAddress = new WeakMap<CujuVmSpec, string>();
  /** The primary's host address for each backup spec (checkPair): its filters connect there. */
  readonly #partnerAddress = new WeakMap<CujuVmSpec, string>();
  /** What receiverArgv() gave each receiver spec. */
  readonly #listens = new WeakMap<CujuVmSpec, Listen>();
  /** Receivers launched, by `hostAddress:port` (the target startFt() is given). */
  readonly #receivers = new Map<string, Receiver & { vm: FtVm<ColoVmMonitor> }>();
  /** A secondary's primary (confirmProtected): told when its secondary is lost. */
  readonly #partner = new WeakMap<FtVm<ColoVmMonitor>, FtVm<ColoVmMonitor>>();
  /** `x-colo-lost-heartbeat` sent to a VM in this round of FT (one per VM and round). */
  readonly #heartbeatLost = new WeakMap<FtVm<ColoVmMonitor>, Promise<void>>();
  /** The COLO mode each watched VM had when its monitor was first watched (see #learnRole). */
  readonly #modes = new Map<FtVm<ColoVmMonitor>, 'primary' | 'secondary'>();
  /** A VM died before its role was learned (see forget()). */
  #lostBeforeRoles = false;
  /** VMs launched with colo.disk's images open or colo.network's objects (until they are forgotten). */
  readonly #replicaVms = new Set<FtVm<ColoVmMonitor>>();

  constructor(options?: ColoOptions) {
    this.options = checkColoOptions(options ?? {});
  }

  checkPair(plan: EnginePairPlan): void {
    checkColoVmSpec(plan.primary.spec, 'vm');
    checkColoVmSpec(plan.backup.spec, 'backupVm');
    if (
      plan.primary.host.address === plan.backup.host.address &&
      plan.primary.spec.monitorPath === plan.backup.spec.monitorPath
    ) {
      throw new CujuArgumentError(
        'backupVm.monitorPath',
        `must differ from the primary's when both VMs run on ${plan.primary.host.address}`,
      );
    }
    if ((this.options.disk || this.options.network) && [...this.#replicaVms].some((vm) => vm.running)) {
      throw new FtPairError(
        'STATE',
        'a new secondary for a pair with colo.disk or colo.network needs the disk resynchronised from the survivor (drive-mirror) and its network objects added again, which this engine does not do: down() and up() the pair instead',
      );
    }
    this.#hostAddress.set(plan.backup.spec, plan.backup.host.address);
    this.#primaryAddress.set(plan.primary.spec, plan.primary.host.address);
    this.#partnerAddress.set(plan.backup.spec, plan.primary.host.address);
  }

  primaryArgv(spec: CujuVmSpec): string[] {
    checkColoVmSpec(spec, 'vm');
    const { disk, network } = this.options;
    const address = this.#primaryAddress.get(spec) ?? '127.0.0.1';
    return coloVmArgv(spec, [
      ...(disk ? primaryDrives(disk) : []),
      ...(network ? primaryNetwork(network, address) : []),
    ]);
  }

  receiverArgv(spec: CujuVmSpec, ftPort: number): string[] {
    checkColoVmSpec(spec, 'backupVm');
    // Without a host address (a spec checkPair never saw): every address, as Cuju's tcp:0:PORT.
    const address = this.options.listenAddress ?? this.#hostAddress.get(spec) ?? '0.0.0.0';
    const listen = { address, port: ftPort };
    this.#listens.set(spec, listen);
    const { disk, network } = this.options;
    const primaryAddress = this.#partnerAddress.get(spec) ?? '127.0.0.1';
    return coloSecondaryArgv(spec, listen, {
      disk,
      ...(network ? { network: { network, primaryAddress } } : {}),
    });
  }

  classify(role: PairRole, line: string): EngineSignal | undefined {
    if (role === 'backup' && SECONDARY_LINK_EOF.test(line)) return { kind: 'link-eof' };
    return undefined;
  }

  markerOf(_line: string): CujuMarker | undefined {
    return undefined;
  }

  async openMonitor(host: Host, spec: CujuVmSpec, options: EngineCallOptions): Promise<ColoVmMonitor> {
    const endpoint = `${host.name}:${spec.monitorPath}`;
    const socket = await bounded(host.connectMonitor(spec.monitorPath), {
      what: `connecting to ${endpoint}`,
      signal: options.signal,
    });
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect({
        socket,
        name: endpoint,
        greetingTimeoutMs: Math.min(5_000, Math.max(1, options.timeoutMs)),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return { qmp, endpoint, close: () => qmp.close() };
  }

  observe(_vm: FtVm<ColoVmMonitor>, _line: string): void {}

  /** The guest runs, and the VM is not a COLO secondary (whose guest runs too, as a replica). */
  async checkRunning(vm: FtVm<ColoVmMonitor>, options: EngineCallOptions): Promise<boolean> {
    const qmp = this.#qmp(vm, 'check that it runs');
    const call = callOf(options);
    const status = await qmp.execute('query-status', {}, call);
    if (!status.running) return false;
    const colo = await qmp.execute('query-colo-status', {}, call);
    return colo.mode !== 'secondary';
  }

  async enableFt(primary: FtVm<ColoVmMonitor>, options: EngineCallOptions): Promise<void> {
    const qmp = this.#qmp(primary, 'enable COLO');
    // A survivor that is still leaving its last round of COLO takes no new capability yet.
    await this.#heartbeatLost.get(primary)?.catch(() => {});
    this.#heartbeatLost.delete(primary);
    const call = callOf(options);
    await qmp.execute(
      'migrate-set-capabilities',
      { capabilities: [{ capability: 'x-colo', state: true }] },
      call,
    );
    await qmp.execute(
      'migrate-set-parameters',
      { 'x-checkpoint-delay': this.options.checkpointDelayMs },
      call,
    );
  }

  async startFt(
    primary: FtVm<ColoVmMonitor>,
    target: { host: string; port: number },
    options: EngineCallOptions,
  ): Promise<void> {
    const receiver = this.#receivers.get(`${target.host}:${target.port}`);
    if (!receiver) {
      throw new FtPairError(
        'NOT_PROTECTED',
        `no COLO secondary of this engine listens at ${target.host}:${target.port}`,
        'launch-failed',
      );
    }
    await bounded(receiver.ready, {
      what: 'setting x-colo on the secondary',
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    const address = receiver.listen.address === '0.0.0.0' ? target.host : receiver.listen.address;
    const qmp = this.#qmp(primary, 'start COLO');
    const disk = this.options.disk;
    if (disk) {
      // The primary's quorum gets a second child: the replication driver, writing to the secondary over NBD.
      await qmp.execute(
        'blockdev-add',
        {
          driver: 'replication',
          'node-name': COLO_DISK.primaryChild,
          mode: 'primary',
          file: {
            driver: 'nbd',
            server: { type: 'inet', host: address, port: String(disk.nbdPort) },
            export: COLO_DISK.parent,
          },
        },
        callOf(options),
      );
      await qmp.execute(
        'x-blockdev-change',
        { parent: COLO_DISK.quorum, node: COLO_DISK.primaryChild },
        callOf(options),
      );
    }
    await qmp.execute('migrate', { uri: `tcp:${address}:${target.port}` }, callOf(options));
  }

  /**
   * A receiver's preparation: `x-colo`, and with colo.disk its NBD server (on its listen
   * address) exporting its image to the primary's replication driver.
   */
  async #prepareReceiver(vm: FtVm<ColoVmMonitor>, listen: Listen): Promise<void> {
    const qmp = this.#qmp(vm, 'make it a COLO secondary');
    await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-colo', state: true }] });
    const disk = this.options.disk;
    if (!disk) return;
    const host = listen.address === '0.0.0.0' ? vm.host.address : listen.address;
    await qmp.execute('nbd-server-start', {
      addr: { type: 'inet', data: { host, port: String(disk.nbdPort) } },
    });
    await qmp.execute('nbd-server-add', { device: COLO_DISK.parent, writable: true });
  }

  /**
   * The primary's migration status is `colo` and the secondary's COLO mode is
   * `secondary`; asked every POLL_MS. A migration that failed ends it at once; a monitor
   * that does not answer in time is named in the error.
   */
  async confirmProtected(
    primary: FtVm<ColoVmMonitor>,
    backup: FtVm<ColoVmMonitor>,
    options: EngineCallOptions,
  ): Promise<void> {
    this.#partner.set(backup, primary);
    const deadline = performance.now() + options.timeoutMs;
    const primaryQmp = this.#qmp(primary, 'confirm protection');
    const backupQmp = this.#qmp(backup, 'confirm protection');
    let last = 'nothing asked yet';
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new FtPairError(
          'NOT_PROTECTED',
          `COLO protection was not confirmed within ${options.timeoutMs} ms (last seen: ${last})`,
          'sync-timeout',
        );
      }
      const call = { timeoutMs: Math.max(1, left), ...(options.signal ? { signal: options.signal } : {}) };
      const migration = await asked(
        primaryQmp.execute('query-migrate', {}, call),
        'primary',
        'query-migrate',
      );
      if (migration.status === 'failed' || migration.status === 'cancelled') {
        throw new FtPairError(
          'NOT_PROTECTED',
          `the primary's migration to the secondary ${migration.status}${migration['error-desc'] ? `: ${migration['error-desc']}` : ''}`,
          'sync-timeout',
        );
      }
      const colo = await asked(
        backupQmp.execute('query-colo-status', {}, call),
        'secondary',
        'query-colo-status',
      );
      last = `primary migration ${migration.status ?? 'none'}, secondary COLO mode ${colo.mode}`;
      if (migration.status === 'colo' && colo.mode === 'secondary') return;
      await sleep(Math.min(POLL_MS, Math.max(1, left)), options.signal, 'confirming COLO protection');
    }
  }

  /** The primary leaves COLO (`x-colo-lost-heartbeat`) and runs on; the pair stops the secondary. */
  async stopFt(
    primary: FtVm<ColoVmMonitor>,
    _backup: FtVm<ColoVmMonitor>,
    options: EngineCallOptions,
  ): Promise<StopFtOutcome> {
    await this.#loseHeartbeat(primary, 'primary', options);
    return 'stop-secondary';
  }

  /** The secondary takes over: `x-colo-lost-heartbeat` (once; the engine may have sent it already). */
  async promote(backup: FtVm<ColoVmMonitor>, options: EngineCallOptions): Promise<void> {
    await this.#loseHeartbeat(backup, 'secondary', options);
  }

  async heartbeat(vm: FtVm<ColoVmMonitor>, _role: PairRole, options: EngineCallOptions): Promise<void> {
    await this.#qmp(vm, 'probe it').execute('query-status', {}, callOf(options));
  }

  /**
   * COLO_EXIT of a secondary: its link to the primary closed (`link-eof`), and it is told
   * to take over; its RESUME after that is `resumed`. COLO_EXIT of a primary with an
   * error: it lost its secondary (`partner-lost`), and it is told to run on.
   */
  watchMonitor(vm: FtVm<ColoVmMonitor>, onSignal: (signal: EngineSignal) => void): () => void {
    const qmp = vm.monitor?.qmp;
    if (!qmp) return () => {};
    const listener = (event: { event: string; data?: unknown }) => {
      if (event.event === 'COLO_EXIT') {
        const data = (event.data ?? {}) as { mode?: string; reason?: string };
        if (data.reason === 'request') return; // the answer to our own x-colo-lost-heartbeat
        if (data.mode === 'secondary') {
          onSignal({ kind: 'link-eof' });
          this.#loseHeartbeat(vm, 'secondary', { timeoutMs: LOST_HEARTBEAT_MS }).catch(() => {});
        } else if (data.mode === 'primary') {
          onSignal({ kind: 'partner-lost' });
          this.#loseHeartbeat(vm, 'primary', { timeoutMs: LOST_HEARTBEAT_MS }).catch(() => {});
        }
      } else if (event.event === 'RESUME' && this.#heartbeatLost.has(vm)) {
        onSignal({ kind: 'resumed' });
      }
    };
    qmp.on('event', listener);
    this.#learnRole(vm, qmp);
    return () => qmp.off('event', listener);
  }

  /**
   * A VM adopted in COLO (attach()): its mode tells which is the secondary, so that its
   * loss still tells the primary to run on. Only when this engine holds exactly one VM
   * of each mode (one pair's), and confirmProtected() did not say already.
   */
  #learnRole(vm: FtVm<ColoVmMonitor>, qmp: QmpClient): void {
    qmp.execute('query-colo-status', {}, { timeoutMs: LOST_HEARTBEAT_MS }).then(
      (status) => {
        if (status.mode !== 'primary' && status.mode !== 'secondary') return;
        this.#modes.set(vm, status.mode === 'primary' ? 'primary' : 'secondary');
        if (status.mode === 'primary') this.#releaseLonePrimary();
        const live = [...this.#modes].filter(([v]) => v.running);
        const primaries = live.filter(([, mode]) => mode === 'primary');
        const secondaries = live.filter(([, mode]) => mode === 'secondary');
        if (primaries.length !== 1 || secondaries.length !== 1) return;
        const backup = secondaries[0]![0];
        if (!this.#partner.has(backup)) this.#partner.set(backup, primaries[0]![0]);
      },
      () => {},
    );
  }

  /** A receiver is up: `x-colo` is set on it now, and startFt() waits for that. */
  launched(vm: FtVm<ColoVmMonitor>): void {
    if (this.options.disk || this.options.network) this.#replicaVms.add(vm);
    const listen = this.#listens.get(vm.spec);
    if (!listen) return;
    const ready = this.#prepareReceiver(vm, listen);
    ready.catch(() => {}); // startFt() awaits it and reports its failure
    this.#receivers.set(`${vm.host.address}:${listen.port}`, { vm, listen, ready });
  }

  setInFt(_vm: FtVm<ColoVmMonitor>, _inFt: boolean): void {}

  /**
   * A VM is gone or no longer the pair's. A secondary whose primary still runs in COLO:
   * the primary is told to leave COLO and run on (it would otherwise stop at its next
   * checkpoint, waiting for a secondary that is gone).
   */
  forget(vm: FtVm<ColoVmMonitor>): void {
    const mode = this.#modes.get(vm);
    this.#modes.delete(vm);
    this.#replicaVms.delete(vm);
    for (const [key, receiver] of this.#receivers) if (receiver.vm === vm) this.#receivers.delete(key);
    const primary = this.#partner.get(vm);
    this.#partner.delete(vm);
    if (primary?.running && primary.monitor && !vm.running) {
      this.#loseHeartbeat(primary, 'primary', { timeoutMs: LOST_HEARTBEAT_MS }).catch(() => {});
    } else if (!primary && !vm.running && mode !== 'primary') {
      // Gone before its role was learned (killed right after attach()): if it was the
      // secondary, the primary is told once its own role is known.
      this.#lostBeforeRoles = true;
      this.#releaseLonePrimary();
    }
  }

  /**
   * A VM that died before the roles were learned may have been the secondary: the one
   * live primary in COLO, with no live secondary beside it, is told to run on.
   */
  #releaseLonePrimary(): void {
    if (!this.#lostBeforeRoles) return;
    const live = [...this.#modes].filter(([v]) => v.running);
    if (live.some(([, m]) => m === 'secondary')) return;
    const primaries = live.filter(([, m]) => m === 'primary');
    const lone = primaries.length === 1 ? primaries[0]![0] : undefined;
    if (!lone?.monitor) return;
    this.#lostBeforeRoles = false;
    this.#loseHeartbeat(lone, 'primary', { timeoutMs: LOST_HEARTBEAT_MS }).catch(() => {});
  }

  /**
   * `x-colo-lost-heartbeat`, sent once per VM and round of FT (later callers share it).
   * With colo.disk, first what docs/COLO-FT.txt does before it: a secondary stops its NBD
   * server; a primary drops the replication child from its quorum.
   */
  #loseHeartbeat(
    vm: FtVm<ColoVmMonitor>,
    role: 'primary' | 'secondary',
    options: EngineCallOptions,
  ): Promise<void> {
    let sent = this.#heartbeatLost.get(vm);
    if (!sent) {
      const qmp = this.#qmp(vm, 'end its COLO');
      sent = this.#leaveReplication(qmp, role, options)
        .then(() => qmp.execute('x-colo-lost-heartbeat', {}, callOf(options)))
        .then(() => (role === 'secondary' ? this.#afterTakeover(qmp, options) : undefined))
        .then(
          () => {},
          (err: unknown) => {
            this.#heartbeatLost.delete(vm); // refused or timed out: a later caller may try again
            throw err;
          },
        );
      this.#heartbeatLost.set(vm, sent);
    }
    return sent;
  }

  /**
   * The block replication's and network comparison's part of leaving COLO (as
   * docs/COLO-FT.txt orders it); a step that fails does not stop the failover.
   */
  async #leaveReplication(
    qmp: QmpClient,
    role: 'primary' | 'secondary',
    options: EngineCallOptions,
  ): Promise<void> {
    const call = callOf(options);
    if (this.options.disk) {
      if (role === 'secondary') await qmp.execute('nbd-server-stop', {}, call).catch(() => {});
      else {
        await qmp
          .execute('x-blockdev-change', { parent: COLO_DISK.quorum, child: 'children.1' }, call)
          .then(() => qmp.execute('blockdev-del', { 'node-name': COLO_DISK.primaryChild }, call))
          .catch(() => {});
      }
    }
    // The primary's comparison goes before it runs alone: nothing holds its packets back any more.
    if (this.options.network && role === 'primary') {
      for (const id of COLO_NETWORK.primaryObjects)
        await qmp.execute('object-del', { id }, call).catch(() => {});
    }
  }

  /** After a secondary took over: its redirectors to the dead primary go (they would reconnect forever). */
  async #afterTakeover(qmp: QmpClient, options: EngineCallOptions): Promise<void> {
    if (!this.options.network) return;
    const call = callOf(options);
    for (const id of COLO_NETWORK.secondaryObjects)
      await qmp.execute('object-del', { id }, call).catch(() => {});
    for (const id of COLO_NETWORK.secondaryChardevs) {
      await qmp.execute('chardev-remove', { id }, call).catch(() => {});
    }
  }

  #qmp(vm: FtVm<ColoVmMonitor>, what: string): QmpClient {
    const monitor = vm.monitor;
    if (monitor) return monitor.qmp;
    throw new FtPairError('NO_MONITOR', `cannot ${what}: the ${vm.name} VM's QMP monitor is not open`);
  }
}

function callOf(options: EngineCallOptions): { timeoutMs: number; signal?: AbortSignal } {
  return { timeoutMs: Math.max(1, options.timeoutMs), ...(options.signal ? { signal: options.signal } : {}) };
}

/** A monitor call whose failure names the VM and the command (a slow primary's deadline, a refusal). */
async function asked<T>(call: Promise<T>, who: string, command: string): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new FtPairError(
      'NOT_PROTECTED',
      `the ${who}'s ${command} did not answer: ${message}`,
      'sync-timeout',
      err,
    );
  }
}
