import { EventEmitter } from 'node:events';
import { dirname, posix } from 'node:path';
import { inspect } from 'node:util';
import type * as TypedEmitterModule from 'typed-emitter';
import { type CujuBuildProfile, cujuBuild } from './builds.js';
import { CujuArgumentError, FtPairError } from './errors.js';
import {
  checkAttachOptions,
  checkBackupSpec,
  checkFtPairOptions,
  checkOperationOptions,
  checkRecord,
  checkSecondaryOptions,
  checkTestFailoverOptions,
} from './ft-pair-options.js';
import type { Host, VmExit } from './hosts/host.js';
import type {
  AttachOptions,
  CujuBinary,
  FailoverReport,
  FenceEvent,
  FtPairEvents,
  FtPairOptions,
  FtPairRecord,
  FtPairTimeouts,
  OperationOptions,
  SecondaryOptions,
  TestFailoverOptions,
  VmRecord,
  WatchdogOptions,
} from './pair/api.js';
import { ColoEngine } from './pair/colo-engine.js';
import { CujuEngine } from './pair/cuju-engine.js';
import type { EngineMonitor, EngineSignal, FtEngine, PairRole } from './pair/engine.js';
import { SessionOwner, VmSession } from './pair/session.js';
import { type FtPairEvent, type FtPairReason, type FtPairState, transitionOf } from './pair/states.js';
import { abortedError, anySignal, bounded, sleep } from './pair/wait.js';
import { Watchdog } from './pair/watchdog.js';
import { type CujuVmSpec, checkVmSpec } from './spec.js';
import { checkPort } from './validate.js';

export type {
  AttachOptions,
  CujuBinary,
  FailoverReport,
  FenceEvent,
  FtPairEvents,
  FtPairOptions,
  FtPairRecord,
  FtPairTimeouts,
  HostRef,
  MarkerEvent,
  OperationOptions,
  SecondaryOptions,
  TestFailoverOptions,
  VmRecord,
  WatchdogOptions,
} from './pair/api.js';
export type { FtPairEvent, FtPairReason, FtPairState, FtPairStateChange } from './pair/states.js';

/**
 * @internal For a sibling that shares a pair's lifecycle (BlockServerPair): fires an event
 * the pair's table knows (`block-server-died`), as if the pair had seen it. Not exported
 * from the package.
 */
export let firePairEvent: (pair: FtPair, event: FtPairEvent, detail: string) => boolean;

/** Why the pair is not protected (the `reason` of a `state` change): see FtPairReason. */
export type NotProtectedReason = FtPairReason;
/** up()'s options (the same as every operation's). */
export type UpOptions = OperationOptions;

type TypedEmitter<E extends TypedEmitterModule.EventMap> = TypedEmitterModule.default<E>;
const Emitter = EventEmitter as new () => TypedEmitter<FtPairEvents>;

type Session = VmSession<EngineMonitor>;
type Timeouts = Required<FtPairTimeouts>;
type WatchdogSettings = Required<WatchdogOptions>;

const DEFAULT_TIMEOUTS: Timeouts = {
  launchMs: 20_000,
  syncMs: 30_000,
  failoverMs: 10_000,
  stopGraceMs: 2_000,
};
const DEFAULT_WATCHDOG: WatchdogSettings = {
  enabled: true,
  intervalMs: 500,
  thresholdMs: 3_000,
  thresholdEpochs: 400,
  epochUs: 5_000,
  onPrimaryUnresponsive: 'report',
  promoteUnfenced: false,
};
/** After the primary's death is recorded, how long the secondary gets to take over by itself before it is promoted. */
const PROMOTE_GRACE_MS = 1_000;
/** How long a failover report waits for the old primary's death record (it is usually there first). */
const DEATH_RECORD_GRACE_MS = 1_000;
/** How often the secondary's monitor is asked whether it runs, during a failover. */
const TAKEOVER_POLL_MS = 50;

/** The operation running now: its name, its controller (down() aborts it), its end. */
interface Operation {
  name: string;
  controller: AbortController;
  done: Promise<void>;
}

/** A failover under way: from its first sign to the secondary running the guest. */
interface FailoverWatch {
  firstSign: FailoverReport['firstSign'];
  firstSignAt: number;
  oldPrimary: Session;
  backup: Session;
  running?: { via: FailoverReport['via']; at: number };
  controller: AbortController;
}

/** The pair's configuration, checked, with its defaults. */
interface Config {
  primary: Host;
  backup: Host;
  vm: CujuVmSpec;
  backupVm: Partial<CujuVmSpec> | undefined;
  binary: CujuBinary;
  ftPort: number;
  logDir: string | undefined;
  sudo: boolean;
  timeouts: Timeouts;
  watchdog: WatchdogSettings;
}

/** The states of an operation bringing FT up: a VM's death there is the operation's to handle. */
const STARTING: ReadonlySet<FtPairState> = new Set(['launching', 'backup-ready', 'enabling', 'syncing']);

/** How a pair comes into being: from options, or (attach) from a record. */
const FROM_RECORD = Symbol('FtPair.attach');

/**
 * A fault-tolerant pair of VMs: a primary and a secondary (receiver) that commits every
 * epoch of it, on two hosts, with the whole FT lifecycle in vSphere FT's words: up()
 * (launch both, protect), start() and turnOn() (FT for a VM that runs), turnOff() (FT
 * ends, the primary keeps running: `disabled`), testFailover(), restartSecondary() (a
 * new secondary from the survivor, protected again, repeatable), down(), and record() /
 * FtPair.attach() to hand the pair to another process.
 *
 * Every change of state is decided by one table (pair/states.ts). Every VM the pair starts
 * is owned from the moment its process exists: no failure, abort or concurrent down()
 * leaves a process, socket or log behind, and an operation settles at once when down() is
 * called or its AbortSignal aborts.
 *
 * Failover is seen as it happens: the primary's death as its host records it (a monotonic
 * stamp), the secondary's FT-link EOF, takeover marker or RESUME, whichever comes first;
 * the report gives death-to-detection and death-to-running from the host's stamp. A
 * watchdog reports a primary or secondary that stops making progress, and, when asked,
 * fences a hung primary (SIGKILL through its host, death confirmed) before the secondary
 * is promoted.
 *
 * What is Cuju-specific (command lines, monitor lines, markers, protection evidence)
 * sits behind the FtEngine seam (pair/engine.ts).
 */
export class FtPair extends Emitter {
  #state: FtPairState = 'idle';
  #reason: FtPairReason | undefined;
  readonly #config: Config;
  readonly #engine: FtEngine<EngineMonitor>;
  readonly #build: CujuBuildProfile | undefined;
  readonly #owner = new SessionOwner<EngineMonitor>();
  #primary: Session | undefined;
  #backup: Session | undefined;
  /** VMs that were the pair's and are gone or replaced: their files go at down(). */
  #retired: Session[] = [];
  /** The spec of the VM a new secondary replaces by default (the one lost last). */
  #replaceable: CujuVmSpec | undefined;
  #backupSynced = false;
  #op: Operation | undefined;
  #stopping: Promise<void> | undefined;
  /** Aborted when down()'s own signal aborts: the grace before SIGKILL ends at once. */
  #stopNow = new AbortController();
  #failover: FailoverWatch | undefined;
  #watchdog: Watchdog | undefined;
  /** testFailover()'s kill, for the report: sent, and done by the host. */
  #kill: { sentAt: number; doneAt?: number } | undefined;
  #detached = false;
  readonly #unwatch = new Map<Session, () => void>();
  readonly #deathSeenAt = new WeakMap<Session, number>();

  static {
    firePairEvent = (pair, event, detail) => pair.#fire(event, { detail });
  }

  constructor(options: FtPairOptions);
  /** @internal attach() */
  constructor(options: FtPairOptions, from: typeof FROM_RECORD);
  constructor(options: FtPairOptions, _from?: typeof FROM_RECORD) {
    super();
    checkFtPairOptions(options);
    const engine = options.engine ?? 'cuju';
    this.#build = engine === 'cuju' ? cujuBuild(options.build!, 'build') : undefined;
    if (options.colo !== undefined && engine !== 'colo')
      throw new CujuArgumentError('colo', "is for engine 'colo' only");
    this.#engine =
      engine === 'cuju'
        ? new CujuEngine(this.#build!)
        : engine === 'colo'
          ? new ColoEngine(options.colo)
          : engine;
    const ftPort = options.ftPort ?? 4441;
    checkPort('ftPort', ftPort);
    this.#config = {
      primary: options.primary,
      backup: options.backup,
      vm: options.vm,
      backupVm: options.backupVm,
      binary: options.binary,
      ftPort,
      logDir: options.logDir,
      sudo: options.sudo === true,
      timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
      watchdog: { ...DEFAULT_WATCHDOG, ...options.watchdog },
    };
    checkBackupSpec(this.backupSpec, options.backupVm);
    this.#engine.checkPair(this.#plan(this.#config.backup, this.backupSpec, ftPort));
  }

  /**
   * Adopts the VMs of a record (written by record(), in this process or an earlier one)
   * without launching anything: each VM is found from its pid and log through its host
   * (Host.adoptVm), its recent stdout read to learn what happened while nobody watched,
   * and its monitor opened only where that cannot crash it (not during FT: Cuju issue
   * #13). The pair's state is what was found: `protected`, `disabled`, `failed-over`,
   * `not-protected` (with the reason), or `stopped` when the VMs are gone.
   */
  static async attach(record: FtPairRecord, options: AttachOptions): Promise<FtPair> {
    const o = checkAttachOptions(options);
    const r = checkRecord(record, o.hosts);
    const hostOf = (ref: { name: string }, field: string): Host => {
      const host = o.hosts[ref.name];
      if (!host)
        throw new FtPairError(
          'RECORD',
          `record.${field} names ${ref.name}, which options.hosts does not give`,
        );
      return host;
    };
    if (r.engine !== 'cuju' && !o.engine) {
      throw new FtPairError('RECORD', `record.engine is ${r.engine}: give options.engine for it`);
    }
    const pair = new FtPair(
      {
        primary: hostOf(r.hosts.primary, 'hosts.primary'),
        backup: hostOf(r.hosts.backup, 'hosts.backup'),
        build: r.variant as FtPairOptions['build'],
        vm: r.vm,
        ...(r.backupVm ? { backupVm: r.backupVm } : {}),
        binary: o.binary,
        ftPort: r.ftPort,
        ...(o.logDir ? { logDir: o.logDir } : {}),
        ...(o.timeouts ? { timeouts: o.timeouts } : {}),
        ...(o.watchdog ? { watchdog: o.watchdog } : {}),
        ...(o.engine ? { engine: o.engine } : {}),
        ...(o.colo ? { colo: o.colo } : {}),
      },
      FROM_RECORD,
    );
    await pair.#adopt(r, o.hosts, o.signal);
    return pair;
  }

  /** What logs show of a pair: its state, never its options (extraArgs may hold secrets). */
  toJSON(): { state: FtPairState } {
    return { state: this.#state };
  }

  /** What `console.log` and `util.inspect` show: the state, no secret. */
  [inspect.custom](): string {
    return `FtPair { state: '${this.#state}' }`;
  }

  /** The current state. */
  get state(): FtPairState {
    return this.#state;
  }

  /** Why the pair is not protected (or stopped), when it is. */
  get reason(): FtPairReason | undefined {
    return this.#reason;
  }

  /** The engine behind the pair (Cuju for a build, unless another was given). */
  get engine(): FtEngine<EngineMonitor> {
    return this.#engine;
  }

  /** The Cuju build this pair drives (its engine's, for the Cuju engine). */
  get cujuBuild(): CujuBuildProfile {
    if (this.#build) return this.#build;
    throw new FtPairError('STATE', `this pair runs the ${this.#engine.name} engine, not a Cuju build`);
  }

  /**
   * The backup's spec, as recv.sh derives it from runvm.sh: the monitor `<name>r.monitor`
   * beside the primary's, the next tap (tap0 → tap1), then `backupVm` laid over it.
   */
  get backupSpec(): CujuVmSpec {
    const { vm, backupVm } = this.#config;
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
  async up(options?: OperationOptions): Promise<void> {
    const { signal } = checkOperationOptions(options);
    return this.#operation('up', signal, ['idle', 'stopped'], async (op) => {
      const { primary, backup, vm, ftPort } = this.#config;
      const backupSpec = this.backupSpec;
      this.#engine.checkPair(this.#plan(backup, backupSpec, ftPort));
      const receiverArgv = this.#engine.receiverArgv(backupSpec, ftPort);
      const primaryArgv = this.#engine.primaryArgv(vm);
      this.#startAnew();
      this.#fire('up');
      try {
        const launches = await Promise.allSettled([
          this.#launch('backup', backup, backupSpec, receiverArgv, op).then((s) => {
            this.#backup = s;
            this.#fire('backup-launched');
            return s;
          }),
          this.#launch('primary', primary, vm, primaryArgv, op).then((s) => {
            this.#primary = s;
            return s;
          }),
        ]);
        const failed = launches.find((l) => l.status === 'rejected');
        if (failed) throw failed.reason;
        await this.#protect(this.#primary!, this.#backup!, op);
      } catch (err) {
        throw await this.#startFailed(err, op);
      }
    });
  }

  /** Launches the primary alone, FT off (`disabled`): a VM that turnOn() can protect later. */
  async start(options?: OperationOptions): Promise<void> {
    const { signal } = checkOperationOptions(options);
    return this.#operation('start', signal, ['idle', 'stopped'], async (op) => {
      const { primary, vm } = this.#config;
      const argv = this.#engine.primaryArgv(vm);
      this.#startAnew();
      this.#fire('start');
      try {
        this.#primary = await this.#launch('primary', primary, vm, argv, op);
        this.#fire('primary-launched');
      } catch (err) {
        throw await this.#startFailed(err, op);
      }
    });
  }

  /**
   * FT for the running primary (vSphere's Turn On): a receiver on `options.backup` (default
   * the pair's backup host), FT enabled and started, protection confirmed. On failure the
   * new receiver is stopped and the primary runs on (`not-protected`, with the reason).
   */
  async turnOn(options?: SecondaryOptions): Promise<void> {
    const o = checkSecondaryOptions(options);
    return this.#operation('turnOn', o.signal, ['disabled'], async (op) => {
      const primary = this.#livePrimary('turnOn');
      await this.#protectWith('turn-on', primary, this.#freeSpec(primary), o, op);
    });
  }

  /**
   * After a failover or a lost secondary: the surviving VM is the primary, a new receiver
   * starts on `options.backup` (default the pair's backup host), FT starts from the
   * survivor, and the pair is `protected` again. Repeatable. The new receiver takes the
   * spec of the VM it replaces, `options.backupVm` laid over it.
   */
  async restartSecondary(options?: SecondaryOptions): Promise<void> {
    const o = checkSecondaryOptions(options);
    return this.#operation('restartSecondary', o.signal, ['failed-over', 'not-protected'], async (op) => {
      if (this.#reason === 'primary-unresponsive') {
        throw new FtPairError(
          'STATE',
          'restartSecondary() needs a primary that answers; this one is unresponsive: fail over (watchdog policy) or turnOff() first',
        );
      }
      const primary = this.#livePrimary('restartSecondary');
      const old = this.#backup;
      if (old) {
        this.#backup = undefined;
        await old.stop({ graceMs: this.#config.timeouts.stopGraceMs, signal: op });
        this.#retire(old);
      }
      if (!primary.monitor) {
        // A survivor adopted while in FT had none; out of FT now, it may be opened.
        primary.monitor = await this.#engine.openMonitor(primary.host, primary.spec, {
          timeoutMs: this.#config.timeouts.launchMs,
          signal: op,
        });
        this.#watchMonitor(primary);
      }
      await this.#protectWith(
        'restart-secondary',
        primary,
        this.#replaceable ?? this.#freeSpec(primary),
        o,
        op,
      );
    });
  }

  /**
   * FT ends and the primary keeps running (vSphere's Turn Off): `disabled`. Master ends it
   * with `cuju-migrate-cancel` (the secondary exits by itself); a build without it (groupft,
   * blk-server) has the secondary stopped, which its primary survives.
   */
  async turnOff(options?: OperationOptions): Promise<void> {
    const { signal } = checkOperationOptions(options);
    return this.#operation('turnOff', signal, ['protected', 'not-protected', 'failed-over'], async (op) => {
      const primary = this.#livePrimary('turnOff');
      const backup = this.#backup;
      this.#stopWatchdog();
      this.#failover?.controller.abort();
      this.#failover = undefined;
      this.#fire('turn-off');
      if (!backup) return;
      this.#backup = undefined;
      const { syncMs, stopGraceMs } = this.#config.timeouts;
      let outcome: 'cancelled' | 'stop-secondary' = 'stop-secondary';
      if (backup.running && primary.monitor) {
        outcome = await this.#engine
          .stopFt(primary, backup, { timeoutMs: syncMs, signal: op })
          .catch(() => 'stop-secondary' as const);
      }
      if (outcome === 'cancelled') {
        // The secondary exits by itself once it has answered the cancel.
        await bounded(backup.died, {
          what: 'turnOff()',
          signal: op,
          timeoutMs: Math.max(stopGraceMs, 1_000),
        }).catch(() => {});
      }
      await backup.stop({ graceMs: stopGraceMs, signal: op });
      this.#retire(backup);
    });
  }

  /**
   * Kills the primary (SIGKILL through its host) and resolves once the secondary runs the
   * guest, with the report: death to detection and to running from the host's stamp, the
   * kill's own round trip, and kill to death seen.
   */
  async testFailover(options?: TestFailoverOptions): Promise<FailoverReport> {
    const o = checkTestFailoverOptions(options);
    return this.#operation('testFailover', o.signal, ['protected'], async (op) => {
      const primary = this.#livePrimary('testFailover');
      const timeoutMs = o.timeoutMs ?? this.#config.timeouts.failoverMs;
      const report = this.#nextFailover();
      this.#kill = { sentAt: performance.now() };
      try {
        const { doneAt } = await primary.kill('SIGKILL');
        this.#kill.doneAt = doneAt;
      } catch (err) {
        this.#kill = undefined;
        throw new FtPairError(
          'UNREACHABLE',
          `cannot kill the primary on ${primary.host.name}`,
          undefined,
          err,
        );
      }
      return bounded(report, {
        what: 'testFailover()',
        signal: op,
        timeoutMs,
        onTimeout: () =>
          new FtPairError('FAILOVER_TIMEOUT', `the backup did not take over within ${timeoutMs} ms`),
      });
    });
  }

  /**
   * Stops both VMs and removes the logs and sockets the pair created: `stopping`, then
   * `stopped`. Interrupts the operation under way (it rejects at once with
   * CUJU_FT_PAIR_STOPPED). Idempotent; concurrent calls share one stop. When `signal`
   * aborts, the grace before SIGKILL ends at once and down() rejects (CUJU_FT_PAIR_ABORTED)
   * while the stop completes.
   */
  async down(options?: OperationOptions): Promise<void> {
    const { signal } = checkOperationOptions(options);
    if (this.#detached)
      throw new FtPairError('STATE', 'down() on a detached pair: attach() its record to stop it');
    if (this.#state === 'stopped' && !this.#stopping) {
      await this.#removeLeftovers();
      return;
    }
    const stopping = this.#stopAll(undefined, undefined, false);
    if (!signal) return stopping;
    const escalate = () => this.#stopNow.abort();
    signal.addEventListener('abort', escalate, { once: true });
    if (signal.aborted) escalate();
    try {
      await bounded(stopping, { what: 'down()', signal });
    } finally {
      signal.removeEventListener('abort', escalate);
    }
  }

  /**
   * The pair as JSON (hosts, engine and build, pids, logs, specs, FT port, state): keep it,
   * and FtPair.attach() adopts the VMs later, from this process or another.
   */
  record(): FtPairRecord {
    const ref = (host: Host) => ({ name: host.name, address: host.address });
    const entry = (s: Session | undefined): VmRecord | undefined => (s ? s.toRecord() : undefined);
    const primary = entry(this.#primary);
    const backup = entry(this.#backup);
    return {
      version: 1,
      engine: this.#engine.name,
      variant: this.#engine.variant,
      state: this.#state,
      ...(this.#reason ? { reason: this.#reason } : {}),
      hosts: { primary: ref(this.#config.primary), backup: ref(this.#config.backup) },
      vm: this.#config.vm,
      ...(this.#config.backupVm ? { backupVm: this.#config.backupVm } : {}),
      ftPort: this.#config.ftPort,
      ...(primary ? { primary } : {}),
      ...(backup ? { backup } : {}),
      savedAt: new Date().toISOString(),
    };
  }

  /**
   * Lets go of the VMs without touching them (they keep running, FT too): monitors closed,
   * logs no longer followed, no more events. For handing the pair to another process
   * through record() and FtPair.attach(). Refused while an operation runs.
   */
  async detach(): Promise<void> {
    if (this.#detached) return;
    if (this.#op || this.#stopping) {
      throw new FtPairError('STATE', `detach() while ${this.#op?.name ?? 'down'}() runs`);
    }
    this.#detached = true;
    this.#stopWatchdog();
    this.#failover?.controller.abort();
    for (const off of this.#unwatch.values()) off();
    this.#unwatch.clear();
    await Promise.all(this.#owner.all().map((s) => s.release()));
  }

  // ---- operations ---------------------------------------------------------------------

  /**
   * Runs an operation: refused (STATE) outside `allowed`, while another runs, while
   * stopping or once detached; its promise settles at once when its signal aborts or
   * down() is called (the body then winds down on its own: down() waits for it).
   */
  async #operation<T>(
    name: string,
    signal: AbortSignal | undefined,
    allowed: readonly FtPairState[],
    body: (op: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.#detached)
      throw new FtPairError('STATE', `${name}() on a detached pair: attach() its record instead`);
    if (this.#stopping) throw new FtPairError('STATE', `${name}() while the pair is stopping`);
    if (this.#op) throw new FtPairError('STATE', `${name}() while ${this.#op.name}() runs`);
    if (!allowed.includes(this.#state)) {
      throw new FtPairError(
        'STATE',
        `${name}() needs a pair that is ${allowed.join(' or ')}; this one is ${this.#state}`,
      );
    }
    if (signal?.aborted) throw abortedError(`${name}()`, signal);
    const controller = new AbortController();
    const op = anySignal(controller.signal, signal);
    const work = body(op);
    const entry: Operation = { name, controller, done: work.then(noop, noop) };
    // Cleared before the caller hears of the end, so that the next operation may start.
    work.then(
      () => this.#endOperation(entry),
      () => this.#endOperation(entry),
    );
    this.#op = entry;
    return bounded(work, { what: `${name}()`, signal: op });
  }

  #endOperation(entry: Operation): void {
    if (this.#op === entry) this.#op = undefined;
  }

  /** The running primary an operation acts on, or STATE. */
  #livePrimary(name: string): Session {
    const primary = this.#primary;
    if (!primary?.running)
      throw new FtPairError('STATE', `${name}() needs a running primary; this pair has none`);
    return primary;
  }

  /** Fresh bookkeeping for a pair started again (up() or start() after a stop). */
  #startAnew(): void {
    this.#owner.reopen();
    this.#stopNow = new AbortController();
    this.#backupSynced = false;
    this.#replaceable = undefined;
  }

  /** enable → sync → protected, with the engine's evidence; a VM's death fails it at once. */
  async #protect(primary: Session, backup: Session, op: AbortSignal): Promise<void> {
    const { syncMs } = this.#config.timeouts;
    const call = { timeoutMs: syncMs, signal: op };
    this.#fire('enable');
    await this.#unlessDead(this.#engine.enableFt(primary, call), [primary, backup], op);
    this.#fire('sync');
    await this.#unlessDead(
      this.#engine.startFt(primary, { host: backup.host.address, port: this.#portOf(backup) }, call),
      [primary, backup],
      op,
    );
    await this.#unlessDead(this.#engine.confirmProtected(primary, backup, call), [primary, backup], op);
    // The engine's evidence includes the backup's committed epoch, marker or not.
    this.#backupSynced = true;
    if (this.#fire('protected')) this.#startWatchdog();
  }

  /** turnOn() and restartSecondary(): a new receiver for `primary`, then #protect. */
  async #protectWith(
    event: FtPairEvent,
    primary: Session,
    baseSpec: CujuVmSpec,
    o: SecondaryOptions,
    op: AbortSignal,
  ): Promise<void> {
    const host = o.backup ?? this.#config.backup;
    const ftPort = o.ftPort ?? this.#config.ftPort;
    const spec: CujuVmSpec = { ...baseSpec, ...o.backupVm };
    checkVmSpec(spec, 'backupVm');
    this.#engine.checkPair({
      primary: { host: primary.host, spec: primary.spec },
      backup: { host, spec },
      ftPort,
    });
    const argv = this.#engine.receiverArgv(spec, ftPort);
    this.#backupSynced = false;
    this.#fire(event);
    let backup: Session | undefined;
    try {
      backup = await this.#launch('backup', host, spec, argv, op, ftPort);
      this.#backup = backup;
      this.#fire('backup-launched');
      const runs = await this.#unlessDead(
        this.#engine.checkRunning(primary, { timeoutMs: this.#config.timeouts.syncMs, signal: op }),
        [primary, backup],
        op,
      );
      if (!runs) throw new FtPairError('NOT_PROTECTED', "the primary's guest does not run", 'launch-failed');
      await this.#protect(primary, backup, op);
    } catch (err) {
      if (this.#stopping) throw err;
      const reason = this.#failureReason(err, op);
      const detail = messageOf(err);
      if (backup) {
        if (this.#backup === backup) this.#backup = undefined;
        await backup.stop({ graceMs: 0 });
        this.#retire(backup);
      }
      if (primary.running) this.#fire('op-failed', { reason, detail });
      else await this.#stopAll(reason, detail, true);
      throw err;
    }
  }

  /**
   * A failed up() or start(): everything it started is stopped (`stopping`, then
   * `stopped`, with the reason), unless down() is doing that already. Returns the error.
   */
  async #startFailed(err: unknown, op: AbortSignal): Promise<unknown> {
    if (this.#stopping) return err;
    const reason = this.#failureReason(err, op);
    await this.#stopAll(reason, messageOf(err), true);
    if (err instanceof FtPairError && err.reason === undefined) {
      const kind = err.code.replace('CUJU_FT_PAIR_', '') as ConstructorParameters<typeof FtPairError>[0];
      return new FtPairError(kind, err.message, reason, err.cause);
    }
    return err;
  }

  /**
   * Why bringing FT up failed: the error's own reason; `aborted`; `primary-lost-before-sync`
   * when the primary died before the backup committed an epoch; `sync-timeout` past the
   * deadline once FT was being turned on; `launch-failed` otherwise.
   */
  #failureReason(err: unknown, op: AbortSignal): FtPairReason {
    if (err instanceof FtPairError && err.reason) return err.reason;
    if (op.aborted) return 'aborted';
    const turningOn = this.#state === 'enabling' || this.#state === 'syncing';
    if (turningOn && !this.#backupSynced && this.#primary !== undefined && !this.#primary.running) {
      return 'primary-lost-before-sync';
    }
    if (this.#backup !== undefined && !this.#backup.running) return 'secondary-lost';
    return turningOn ? 'sync-timeout' : 'launch-failed';
  }

  /**
   * Settles as `work` does, unless one of `vms` dies first (VM_EXITED). A step that fails
   * because a monitor closed under it is put down to its VM's death when that is recorded
   * within DEATH_RECORD_GRACE_MS: the error then says which VM died, not that a socket closed.
   */
  #unlessDead<T>(work: Promise<T>, vms: readonly Session[], op: AbortSignal): Promise<T> {
    const deathOf = (vm: Session) =>
      vm.died.then(
        (exit) => new FtPairError('VM_EXITED', `the ${vm.name} VM exited (${exitText(exit)})`),
        (err: unknown) => new FtPairError('UNREACHABLE', `lost sight of the ${vm.name} VM`, undefined, err),
      );
    const death = Promise.race(vms.map(deathOf)).then((err) => {
      throw err;
    });
    death.catch(() => {});
    const attributed = work.catch(async (err: unknown) => {
      const dead = await bounded(Promise.race(vms.map(deathOf)), {
        what: 'the death record',
        timeoutMs: DEATH_RECORD_GRACE_MS,
      }).catch(() => undefined);
      throw dead ?? err;
    });
    return bounded(Promise.race([attributed, death]), { what: 'this step', signal: op });
  }

  // ---- VMs ------------------------------------------------------------------------------

  /** Starts one VM of the pair (owned from its first moment) and watches it. */
  async #launch(
    role: PairRole,
    host: Host,
    spec: CujuVmSpec,
    argv: readonly string[],
    op: AbortSignal,
    ftPort?: number,
  ): Promise<Session> {
    const { binary, logDir, sudo } = this.#config;
    const dir = logDir ?? dirname(spec.monitorPath);
    const logPath = posix.join(dir, `${role}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`);
    const session = await VmSession.launch<EngineMonitor>({
      host,
      name: role,
      spec,
      argv: [binary.path, ...(binary.args ?? []), ...argv],
      logPath,
      sudo,
      owner: this.#owner,
      isReady: (line) => this.#engine.classify(role, line)?.kind === 'ready',
      openMonitor: (call) => this.#engine.openMonitor(host, spec, call),
      files: [spec.monitorPath, ...(spec.qmpPath ? [spec.qmpPath] : [])],
      timeoutMs: this.#config.timeouts.launchMs,
      signal: op,
    });
    if (ftPort !== undefined) this.#ports.set(session, ftPort);
    this.#engine.launched(session);
    this.#watch(session);
    return session;
  }

  readonly #ports = new WeakMap<Session, number>();

  /** The -incoming port of a receiver. */
  #portOf(backup: Session): number {
    return this.#ports.get(backup) ?? this.#config.ftPort;
  }

  /** Follows a VM's lines, monitor signals and death. */
  #watch(session: Session): void {
    const offLine = session.onLine((line) => this.#onLine(session, line));
    const offMonitor = this.#watchMonitor(session);
    this.#unwatch.set(session, () => {
      offLine();
      offMonitor();
    });
    session.died.then(
      (exit) => this.#onDeath(session, exit),
      () => {
        // Its host was lost: the VM may still run. The watchdog sees it go silent.
      },
    );
  }

  #watchMonitor(session: Session): () => void {
    return this.#engine.watchMonitor(session, (signal) => this.#onSignal(session, signal));
  }

  #roleOf(session: Session): PairRole | undefined {
    if (session === this.#primary) return 'primary';
    if (session === this.#backup) return 'backup';
    return undefined;
  }

  #onLine(session: Session, line: string): void {
    this.#engine.observe(session, line);
    const role = this.#roleOf(session) ?? (session.name as PairRole);
    const marker = this.#engine.markerOf(line);
    if (marker) this.emit('marker', { side: role, marker, line });
    const signal = this.#engine.classify(role, line);
    if (signal) this.#onSignal(session, signal);
  }

  #onSignal(session: Session, signal: EngineSignal): void {
    const role = this.#roleOf(session);
    if (role === 'primary') {
      if (signal.kind === 'epoch') this.#watchdog?.progress('primary');
      if (signal.kind === 'partner-lost') this.#engine.setInFt(session, false);
      return;
    }
    if (role !== 'backup' && this.#failover?.backup !== session) return;
    switch (signal.kind) {
      case 'receiver-synced':
        if (role === 'backup') this.#backupSynced = true;
        break;
      case 'link-eof':
        this.#sign('link-eof');
        break;
      case 'takeover-done':
        this.#sign('takeover-marker');
        this.#takenOver('backup-marker');
        break;
      case 'resumed':
        this.#sign('backup-resume');
        this.#takenOver('backup-resume');
        break;
      default:
        break;
    }
  }

  #onDeath(session: Session, exit: VmExit): void {
    this.#deathSeenAt.set(session, performance.now());
    this.#engine.forget(session);
    if (this.#detached || this.#stopping) return;
    const role = this.#roleOf(session);
    const detail = `the ${role ?? session.name} VM exited (${exitText(exit)})`;
    if (role === 'primary') {
      if (this.#failover?.oldPrimary === session) return;
      const backup = this.#backup;
      if (
        backup?.running &&
        this.#backupSynced &&
        (this.#state === 'protected' || this.#state === 'not-protected')
      ) {
        this.#sign('primary-death');
        return;
      }
      if (STARTING.has(this.#state)) return; // the operation under way sees it and fails
      this.#replaceable = session.spec;
      if (this.#fire('last-vm-died', { detail })) void this.#afterAllDied();
      return;
    }
    if (role === 'backup') {
      if (STARTING.has(this.#state)) return;
      this.#replaceable = session.spec;
      this.#backup = undefined;
      this.#retire(session);
      this.#stopWatchdog();
      const failover = this.#failover;
      if (this.#fire('backup-died', { detail }) && failover) {
        failover.controller.abort();
        this.#failover = undefined;
      }
    }
  }

  /** The last VM died by itself: nothing runs; monitors close (files stay until down()). */
  async #afterAllDied(): Promise<void> {
    this.#stopWatchdog();
    for (const s of this.#owner.all()) await s.closeMonitor();
  }

  /** A VM that is no longer one of the two: kept for down()'s clean-up. */
  #retire(session: Session): void {
    this.#unwatch.get(session)?.();
    this.#unwatch.delete(session);
    void session.closeMonitor();
    if (!this.#retired.includes(session)) this.#retired.push(session);
  }

  // ---- failover -------------------------------------------------------------------------

  /** The first sign of a failover: `failing-over`, and the takeover is watched for. */
  #sign(kind: FailoverReport['firstSign']): void {
    if (this.#failover) return;
    const oldPrimary = this.#primary;
    const backup = this.#backup;
    if (!oldPrimary || !backup?.running) return;
    const detail =
      kind === 'primary-death'
        ? "the primary's death was recorded on its host"
        : kind === 'link-eof'
          ? "the backup's FT links closed"
          : kind === 'takeover-marker'
            ? 'the backup says it took over'
            : 'the backup runs the guest';
    if (!this.#fire(kind === 'primary-death' ? 'primary-died' : 'takeover-sign', { detail })) return;
    this.#stopWatchdog();
    const watch: FailoverWatch = {
      firstSign: kind,
      firstSignAt: performance.now(),
      oldPrimary,
      backup,
      controller: new AbortController(),
    };
    this.#failover = watch;
    void this.#watchTakeover(watch);
  }

  /**
   * Until the backup runs the guest: asks its monitor every TAKEOVER_POLL_MS (a marker or
   * RESUME usually comes first); promotes it (the engine's way) once the old primary's
   * death is recorded and it has not taken over within PROMOTE_GRACE_MS; gives up after
   * the failover deadline (`not-protected`, failover-failed).
   */
  async #watchTakeover(watch: FailoverWatch): Promise<void> {
    const { failoverMs } = this.#config.timeouts;
    const deadline = watch.firstSignAt + failoverMs;
    const signal = watch.controller.signal;
    let promoted = false;
    try {
      while (!watch.running && watch.backup.running) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        if (watch.backup.monitor) {
          const runs = await this.#engine
            .checkRunning(watch.backup, { timeoutMs: Math.max(1, left), signal })
            .catch(() => false);
          if (runs && !watch.running) {
            this.#takenOver('backup-status');
            return;
          }
        }
        const diedAt = this.#deathSeenAt.get(watch.oldPrimary);
        if (
          !promoted &&
          diedAt !== undefined &&
          performance.now() - diedAt > PROMOTE_GRACE_MS &&
          !watch.running
        ) {
          promoted = true;
          await this.#promote(watch.backup, signal, 'its links to the dead primary did not close');
        }
        await sleep(TAKEOVER_POLL_MS, signal, 'watching the takeover');
      }
    } catch {
      return; // aborted: the takeover was seen, or the pair is stopping
    }
    if (watch.running || this.#failover !== watch || this.#stopping) return;
    if (!watch.backup.running) return; // its death is a transition of its own
    this.#failover = undefined;
    this.#fire('takeover-failed', { detail: `the backup did not run the guest within ${failoverMs} ms` });
  }

  /** The backup runs the guest: `failed-over`, the roles swap, and the report follows. */
  #takenOver(via: FailoverReport['via']): void {
    const watch = this.#failover;
    if (!watch || watch.running) return;
    watch.running = { via, at: performance.now() };
    watch.controller.abort();
    if (!this.#fire('backup-running', { detail: `via ${via}` })) return;
    this.#primary = watch.backup;
    this.#backup = undefined;
    this.#replaceable = watch.oldPrimary.spec;
    this.#engine.setInFt(watch.backup, false);
    void this.#finishFailover(watch);
  }

  /**
   * The report, once the old primary's death is recorded (or could not be): if it still
   * runs (its links were cut, not the VM), it is fenced first, so that one copy runs.
   */
  async #finishFailover(watch: FailoverWatch): Promise<void> {
    const old = watch.oldPrimary;
    let exit = await bounded(old.died, { what: 'the death record', timeoutMs: DEATH_RECORD_GRACE_MS }).catch(
      () => undefined,
    );
    if (!exit && old.running) {
      await this.#fence(old, 'it still runs beside the backup that took over');
      exit = await bounded(old.died, { what: 'the death record', timeoutMs: DEATH_RECORD_GRACE_MS }).catch(
        () => undefined,
      );
    }
    this.#retire(old);
    if (this.#failover === watch) this.#failover = undefined;
    const diedAt = exit?.diedAt;
    const seenAt = this.#deathSeenAt.get(old);
    const kill = this.#kill;
    this.#kill = undefined;
    const report: FailoverReport = {
      detectedAt: dateOf(watch.firstSignAt),
      firstSign: watch.firstSign,
      via: watch.running!.via,
      primaryDiedAt: diedAt === undefined ? undefined : dateOf(diedAt),
      deathToDetectionMs: diedAt === undefined ? undefined : round(watch.firstSignAt - diedAt),
      deathToRunningMs: diedAt === undefined ? undefined : round(watch.running!.at - diedAt),
      killToDeathMs: kill && seenAt !== undefined ? round(seenAt - kill.sentAt) : undefined,
      killMs: kill?.doneAt !== undefined ? round(kill.doneAt - kill.sentAt) : undefined,
      detectionMs: diedAt === undefined ? undefined : round(watch.firstSignAt - diedAt),
    };
    if (this.#detached) return;
    this.emit('failover', report);
  }

  /** The next failover report; rejects when the failover fails or the pair stops first. */
  #nextFailover(): Promise<FailoverReport> {
    return new Promise<FailoverReport>((resolve, reject) => {
      const onReport = (report: FailoverReport) => {
        this.off('state', onState);
        resolve(report);
      };
      const onState = (change: { state: FtPairState; detail?: string }) => {
        if (change.state === 'not-protected' || change.state === 'stopping') {
          this.off('failover', onReport);
          this.off('state', onState);
          reject(
            new FtPairError(
              'FAILOVER_FAILED',
              `the failover did not complete: ${change.detail ?? change.state}`,
              change.state === 'not-protected' ? 'failover-failed' : undefined,
            ),
          );
        }
      };
      this.once('failover', onReport);
      this.on('state', onState);
    });
  }

  /**
   * Makes sure a primary cannot come back: SIGKILL through its host, then its death
   * recorded. Returns false (after a `host-unreachable` step) when that cannot be done.
   */
  async #fence(primary: Session, why: string): Promise<boolean> {
    const { failoverMs } = this.#config.timeouts;
    this.#fenceStep(
      'kill-sent',
      `SIGKILL to the primary (pid ${primary.pid}) on ${primary.host.name}: ${why}`,
    );
    try {
      await primary.kill('SIGKILL');
      const exit = await bounded(primary.died, { what: 'the death record', timeoutMs: failoverMs });
      this.#fenceStep('death-confirmed', `the primary is gone (${exitText(exit)}), as its host recorded`);
      return true;
    } catch (err) {
      this.#fenceStep(
        'host-unreachable',
        `${primary.host.name} could not confirm the primary's death (${messageOf(err)}): it may still run`,
      );
      return false;
    }
  }

  #fenceStep(step: FenceEvent['step'], detail: string): void {
    this.emit('fence', { step, at: new Date(), detail });
  }

  /** The engine's promotion of the backup, as a fence step. */
  async #promote(backup: Session, signal: AbortSignal, why: string): Promise<void> {
    this.#fenceStep('promote-sent', `promoting the backup (pid ${backup.pid}): ${why}`);
    try {
      await this.#engine.promote(backup, { timeoutMs: this.#config.timeouts.failoverMs, signal });
    } catch (err) {
      this.#fenceStep('promote-skipped', `the promotion was refused: ${messageOf(err)}`);
      return;
    }
    if (
      await this.#engine
        .checkRunning(backup, { timeoutMs: this.#config.timeouts.failoverMs, signal })
        .catch(() => false)
    ) {
      this.#sign('backup-status');
      this.#takenOver('backup-status');
    }
  }

  /** The watchdog's policy for a hung primary: fence it, then the failover path promotes. */
  async #fenceAndFailOver(): Promise<void> {
    const primary = this.#primary;
    const backup = this.#backup;
    if (!primary || !backup?.running) return;
    const fenced = await this.#fence(primary, 'it stopped making progress (watchdog)');
    if (fenced) return; // its recorded death starts the failover (#onDeath)
    if (!this.#config.watchdog.promoteUnfenced) {
      this.#fenceStep(
        'promote-skipped',
        'not promoting the backup: the primary may still run (set watchdog.promoteUnfenced to promote anyway)',
      );
      return;
    }
    const controller = new AbortController();
    await this.#promote(
      backup,
      controller.signal,
      'watchdog.promoteUnfenced: the primary could not be fenced',
    );
  }

  // ---- watchdog -------------------------------------------------------------------------

  #startWatchdog(): void {
    const w = this.#config.watchdog;
    if (!w.enabled || this.#state !== 'protected') return;
    this.#stopWatchdog();
    const watchdog: Watchdog = new Watchdog(w, {
      probe: (role, signal): Promise<void> | undefined => {
        const vm = role === 'primary' ? this.#primary : this.#backup;
        if (!vm?.monitor) return undefined;
        return this.#engine.heartbeat(vm, role, { timeoutMs: 20 * watchdog.thresholdMs, signal });
      },
      unresponsive: (role, detail) => {
        if (!this.#fire(role === 'primary' ? 'primary-unresponsive' : 'backup-unresponsive', { detail }))
          return;
        if (role === 'primary' && w.onPrimaryUnresponsive === 'failover') void this.#fenceAndFailOver();
      },
      responsive: (role, detail) => {
        const flagged = role === 'primary' ? 'primary-unresponsive' : 'secondary-unresponsive';
        if (this.#state === 'not-protected' && this.#reason === flagged) this.#fire('responsive', { detail });
      },
    });
    this.#watchdog = watchdog;
    watchdog.start([
      { role: 'primary', hasMonitor: this.#primary?.monitor !== undefined },
      { role: 'backup', hasMonitor: this.#backup?.monitor !== undefined },
    ]);
  }

  #stopWatchdog(): void {
    this.#watchdog?.stop();
    this.#watchdog = undefined;
  }

  // ---- stopping -------------------------------------------------------------------------

  /**
   * Stops everything: `stopping`, the running operation aborted (and waited for, unless it
   * is the caller), every VM stopped (SIGTERM, SIGKILL after the grace), monitors closed,
   * files removed, `stopped`. One at a time: concurrent callers share it.
   */
  #stopAll(
    reason: FtPairReason | undefined,
    detail: string | undefined,
    fromOperation: boolean,
  ): Promise<void> {
    this.#stopping ??= (async () => {
      this.#fire('down', { ...(reason ? { reason } : {}), ...(detail ? { detail } : {}) });
      this.#stopWatchdog();
      this.#failover?.controller.abort();
      this.#failover = undefined;
      const op = this.#op;
      if (op && !fromOperation) {
        op.controller.abort(new FtPairError('STOPPED', 'down() was called'));
        await op.done;
      }
      const sessions = this.#owner.close();
      await Promise.all(
        sessions.map((s) =>
          s.stop({ graceMs: this.#config.timeouts.stopGraceMs, signal: this.#stopNow.signal }),
        ),
      );
      await this.#removeLeftovers();
      this.#fire('all-stopped', { ...(reason ? { reason } : {}), ...(detail ? { detail } : {}) });
    })().finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  /** Every VM's files (logs, sockets) removed, and what the engine recorded of them undone. */
  async #removeLeftovers(): Promise<void> {
    const all = [...new Set([...this.#owner.all(), ...this.#retired])];
    for (const off of this.#unwatch.values()) off();
    this.#unwatch.clear();
    await Promise.all(all.map((s) => s.closeMonitor()));
    for (const s of all) this.#engine.forget(s);
    await Promise.all(all.map((s) => s.removeFiles()));
    for (const s of all) this.#owner.drop(s);
    this.#retired = [];
    this.#primary = undefined;
    this.#backup = undefined;
  }

  // ---- attach ---------------------------------------------------------------------------

  /** attach()'s work: adopt the record's VMs, learn what happened, open what is safe. */
  async #adopt(
    r: FtPairRecord,
    hosts: AttachOptions['hosts'],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const adopt = async (entry: VmRecord | undefined, name: PairRole) => {
      if (!entry) return undefined;
      const host = hosts[entry.host.name]!;
      const { text, size } = await readLogTail(host, entry.logPath);
      const session = await VmSession.adopt<EngineMonitor>({
        host,
        name,
        spec: entry.spec,
        ref: { pid: entry.pid, logPath: entry.logPath, ...(entry.sudo ? { sudo: true } : {}) },
        owner: this.#owner,
        files: [entry.spec.monitorPath, ...(entry.spec.qmpPath ? [entry.spec.qmpPath] : [])],
        offset: size,
      });
      const kinds = new Set(
        text.split('\n').flatMap((line) => this.#engine.classify(name, line)?.kind ?? []),
      );
      return { session, kinds };
    };
    const [p, b] = await Promise.all([adopt(r.primary, 'primary'), adopt(r.backup, 'backup')]);
    if (signal?.aborted) {
      await Promise.all([p?.session.release(), b?.session.release()]);
      throw abortedError('attach()', signal);
    }
    const alive = (x: typeof p): boolean => x?.session.running === true;
    let event: FtPairEvent;
    let reason: FtPairReason | undefined = r.reason;
    let detail: string;
    let primary = p?.session;
    let backup = b?.session;
    const recorded = r.state;
    if (alive(p) && alive(b)) {
      if (b!.kinds.has('takeover-done')) {
        event = 'attached-not-protected';
        reason = 'ft-stopped';
        detail = 'both VMs run, and the backup says it took over: two copies of the guest';
      } else if (b!.kinds.has('receiver-synced') || recorded === 'protected') {
        event = 'attached-protected';
        reason = undefined;
        detail = 'both VMs run in FT';
      } else {
        event = 'attached-not-protected';
        reason ??= 'sync-timeout';
        detail = 'both VMs run, but the backup never committed an epoch';
      }
    } else if (alive(p)) {
      if (b) {
        event = 'attached-not-protected';
        reason = 'secondary-lost';
        detail = 'the backup VM is gone';
        this.#replaceable = b.session.spec;
      } else if (recorded === 'failed-over') {
        event = 'attached-failed-over';
        detail = 'the survivor of a failover runs alone';
      } else if (recorded === 'not-protected') {
        event = 'attached-not-protected';
        detail = 'the primary runs without a backup';
      } else {
        event = 'attached-disabled';
        reason = undefined;
        detail = 'the primary runs alone, FT off';
      }
    } else if (alive(b)) {
      if (b!.kinds.has('takeover-done')) {
        event = 'attached-failed-over';
        reason = undefined;
        detail = 'the primary is gone and the backup took over';
        primary = b!.session;
        backup = undefined;
        if (p) this.#replaceable = p.session.spec;
      } else {
        event = 'attached-not-protected';
        reason = 'failover-failed';
        detail = 'the primary is gone and the backup did not say it took over';
      }
    } else {
      event = 'attached-stopped';
      reason = p || b ? 'vm-exited' : reason;
      detail = p || b ? "the record's VMs are gone" : 'the record names no VM';
    }
    for (const x of [p, b]) if (x && !x.session.running) this.#retire(x.session);
    this.#primary = primary?.running ? primary : undefined;
    this.#backup = backup?.running ? backup : undefined;
    this.#backupSynced = b?.kinds.has('receiver-synced') === true;
    // A VM that may be in FT keeps its monitor closed (opening it can crash it: Cuju issue
    // #13) unless the engine says that is safe: a receiver in FT, and a primary whose
    // partner still runs or whose log does not show it noticed its partner's loss.
    const mayBeInFt = (session: Session): boolean => {
      if (session === this.#backup) return true;
      if (event === 'attached-failed-over' || event === 'attached-disabled') return false;
      if (this.#backup) return true;
      return r.backup !== undefined && p?.kinds.has('partner-lost') !== true;
    };
    for (const session of [this.#primary, this.#backup]) {
      if (!session) continue;
      this.#engine.launched(session);
      if (mayBeInFt(session) && !this.#engine.monitorSafeDuringFt) {
        this.#engine.setInFt(session, true);
      } else {
        // Out of FT by its own log (it took over, or lost its partner, or never was in FT).
        this.#engine.setInFt(session, false);
        session.monitor = await this.#engine.openMonitor(session.host, session.spec, {
          timeoutMs: this.#config.timeouts.launchMs,
          signal,
        });
      }
      this.#watch(session);
    }
    this.#fire(event, { ...(reason ? { reason } : {}), detail });
    if (this.#state === 'protected') this.#startWatchdog();
  }

  // ---- state ----------------------------------------------------------------------------

  /**
   * The one place the state changes: the table decides where `event` leads from here.
   * Returns false when it leads nowhere (the event means nothing in this state).
   */
  #fire(event: FtPairEvent, extra: { reason?: FtPairReason; detail?: string } = {}): boolean {
    const row = transitionOf(this.#state, event);
    if (!row) return false;
    const previous = this.#state;
    const keepsReason = row.to === 'not-protected' || row.to === 'stopping' || row.to === 'stopped';
    const reason = keepsReason ? (row.reason ?? extra.reason) : undefined;
    if (row.to === previous && reason === this.#reason) return false;
    this.#state = row.to;
    this.#reason = reason;
    this.emit('state', {
      state: row.to,
      previous,
      event,
      at: new Date(),
      ...(reason ? { reason } : {}),
      ...(extra.detail ? { detail: extra.detail } : {}),
    });
    return true;
  }

  /**
   * The spec a new secondary takes beside `primary`: the backup's, unless the primary is
   * the survivor of a failover and runs with it (its monitor path is taken): then the lost
   * primary's. In this process #replaceable says so; after attach() only the survivor's
   * spec tells.
   */
  #freeSpec(primary: Session): CujuVmSpec {
    const backup = this.backupSpec;
    return primary.spec.monitorPath === backup.monitorPath ? this.#config.vm : backup;
  }

  #plan(backupHost: Host, backupSpec: CujuVmSpec, ftPort: number) {
    return {
      primary: { host: this.#config.primary, spec: this.#config.vm },
      backup: { host: backupHost, spec: backupSpec },
      ftPort,
    };
  }
}

function noop(): void {}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function exitText(exit: VmExit): string {
  if (exit.signal) return exit.signal;
  if (exit.code !== null) return `code ${exit.code}`;
  return 'status not recorded';
}

function dateOf(performanceMs: number): Date {
  return new Date(performance.timeOrigin + performanceMs);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The last 64 KiB of a VM's log, and its size then (where following it resumes). */
async function readLogTail(host: Host, logPath: string): Promise<{ text: string; size: number }> {
  const script =
    'size=$(wc -c <"$1" 2>/dev/null) || size=0; printf "%s\\n" "$((size + 0))"; head -c "$size" -- "$1" 2>/dev/null | tail -c 65536';
  const result = await host.run(['sh', '-c', script, 'cuju-log-tail', logPath]);
  const newline = result.stdout.indexOf('\n');
  const size = Number(result.stdout.slice(0, newline));
  return { text: result.stdout.slice(newline + 1), size: Number.isFinite(size) ? size : 0 };
}
