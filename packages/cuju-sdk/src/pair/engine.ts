/**
 * The seam between the FT pair's life (states.ts, ft-pair.ts: engine-neutral) and what
 * one FT implementation does. Cuju is one engine (cuju-engine.ts); QEMU COLO plugs in
 * behind the same interface without touching the state machine.
 *
 * The pair owns the VMs (VmSession: launch, the monitor opened once, the stdout lines,
 * the death and exit) and the order of things; the engine knows its command lines, what
 * its VMs print, which monitor lines turn FT on, how protection shows, how FT is turned
 * off and how a secondary is promoted.
 */
import type { Host, VmExit } from '../hosts/host.js';
import type { CujuMarker } from '../markers.js';
import type { CujuVmSpec } from '../spec.js';

/** The two roles of a pair. After a failover the survivor is the new `primary`. */
export type PairRole = 'primary' | 'backup';

/**
 * What one line of a VM's stdout means to a pair, as the engine reads it. Lines that mean
 * nothing to the pair give undefined (the engine may still publish them as markers).
 */
export type EngineSignal =
  /** The VM is up and its monitor listens (Cuju: `VM init finished`). */
  | { kind: 'ready' }
  /** A receiver loaded the first copy (Cuju: `enter cuju FT mode (incoming)`). */
  | { kind: 'receiver-loaded' }
  /** The receiver holds a committed epoch: it can take over from now on (Cuju: `first commit`). */
  | { kind: 'receiver-synced' }
  /** The primary's epochs progress; `count` grows (Cuju: `migrate_timer tick N`, every 64th epoch). */
  | { kind: 'epoch'; count: number }
  /** The receiver saw its FT links close: a takeover begins (Cuju: `cuju_ft_trans_close`, `...: disconn`). */
  | { kind: 'link-eof' }
  /** The receiver runs the guest on its own (Cuju: `cuju_ft_trans_close vm_started.`). */
  | { kind: 'takeover-done' }
  /** The primary lost its secondary (Cuju: `...receive ACK1 failed.`). */
  | { kind: 'partner-lost' }
  /** The VM's guest started running (a QMP RESUME on a monitor kept since before FT). */
  | { kind: 'resumed' }
  /** The VM reported an error (a failed load, QEMU's error_report). */
  | { kind: 'error'; message: string };

/** A monitor connection as the pair holds it: opened once, closed at the end. */
export interface EngineMonitor {
  /** Closes the connection (the VM runs on). */
  close(): Promise<void>;
}

/** Deadline and AbortSignal of one engine step. */
export interface EngineCallOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * One VM as the pair and its engine see it (VmSession implements it). Reusable beyond
 * pairs: group FT drives its members through the same sessions.
 */
export interface FtVm<M extends EngineMonitor = EngineMonitor> {
  readonly host: Host;
  /** `primary`, `backup`, or a group member's name: for messages and records. */
  readonly name: string;
  readonly spec: CujuVmSpec;
  readonly pid: number;
  readonly logPath: string;
  /** The monitor, opened once (before FT) and kept; undefined where it could not be opened safely. */
  readonly monitor: M | undefined;
  /** False once the VM's death has been seen. */
  readonly running: boolean;
  /** Resolves at the first notice of the VM's death (its host's record: status and time). */
  readonly died: Promise<VmExit>;
  /** Every stdout line seen so far is still delivered to listeners added now. */
  onLine(listener: (line: string) => void): () => void;
}

/** What the pair asks an engine to check before anything starts. */
export interface EnginePairPlan {
  primary: { host: Host; spec: CujuVmSpec };
  backup: { host: Host; spec: CujuVmSpec };
  ftPort: number;
}

/**
 * How a secondary stops being one when FT is turned off: `cancelled` (the engine ended FT
 * and the secondary exits by itself: Cuju master's `cuju-migrate-cancel`) or
 * `stop-secondary` (the engine has no way: the pair stops the secondary, and the primary
 * carries on alone).
 */
export type StopFtOutcome = 'cancelled' | 'stop-secondary';

/** One FT implementation behind FtPair. */
export interface FtEngine<M extends EngineMonitor = EngineMonitor> {
  /** `cuju`, `colo`: stored in records. */
  readonly name: string;
  /** The engine's build or flavour (`master`, `groupft`): stored in records. */
  readonly variant: string;
  /**
   * Whether a new monitor connection to a VM whose FT runs is safe. Cuju: no (issue #13,
   * a segfault): monitors are opened before FT and kept, and attach() opens none to a VM
   * in FT.
   */
  readonly monitorSafeDuringFt: boolean;
  /**
   * Checks both VMs before anything starts (specs, options the build rejects, resources
   * two VMs on one host would fight over). Throws CujuArgumentError naming the field.
   */
  checkPair(plan: EnginePairPlan): void;
  /** The primary's argv after the binary (checked). */
  primaryArgv(spec: CujuVmSpec): string[];
  /** The receiver's argv after the binary, listening on `ftPort` (checked). */
  receiverArgv(spec: CujuVmSpec, ftPort: number): string[];
  /** What a line of a VM's stdout means to the pair. */
  classify(role: PairRole, line: string): EngineSignal | undefined;
  /** Opens a VM's monitor (once, before FT). */
  openMonitor(host: Host, spec: CujuVmSpec, options: EngineCallOptions): Promise<M>;
  /** Tells the engine a line a VM printed (it may learn FT state the monitor cannot show). */
  observe(vm: FtVm<M>, line: string): void;
  /** Checks that a VM's monitor answers and its guest runs. */
  checkRunning(vm: FtVm<M>, options: EngineCallOptions): Promise<boolean>;
  /** Enables FT on the primary (Cuju: `migrate_set_capability cuju-ft on`). */
  enableFt(primary: FtVm<M>, options: EngineCallOptions): Promise<void>;
  /** Starts FT from the primary to the receiver listening at `target` (Cuju: `migrate -c`). */
  startFt(
    primary: FtVm<M>,
    target: { host: string; port: number },
    options: EngineCallOptions,
  ): Promise<void>;
  /**
   * Resolves once the pair is protected by the engine's own evidence (Cuju: the
   * receiver's `first commit`, the primary's epochs running as the build can tell).
   */
  confirmProtected(primary: FtVm<M>, backup: FtVm<M>, options: EngineCallOptions): Promise<void>;
  /** Ends FT with the primary still running (see StopFtOutcome). */
  stopFt(primary: FtVm<M>, backup: FtVm<M>, options: EngineCallOptions): Promise<StopFtOutcome>;
  /** Makes a synced receiver run the guest (Cuju: `cuju-failover`); only after the primary was fenced. */
  promote(backup: FtVm<M>, options: EngineCallOptions): Promise<void>;
  /**
   * One liveness probe of a VM over its kept monitor: resolves when it answered, rejects
   * when it did not within the deadline.
   */
  heartbeat(vm: FtVm<M>, role: PairRole, options: EngineCallOptions): Promise<void>;
  /**
   * Signals that come from a VM's monitor rather than its stdout (a QMP RESUME): the
   * engine calls `onSignal` for each; the returned function stops it.
   */
  watchMonitor(vm: FtVm<M>, onSignal: (signal: EngineSignal) => void): () => void;
  /** The typed form of a stdout line, published as the pair's `marker` events (undefined: none). */
  markerOf(line: string): CujuMarker | undefined;
  /** A VM of the pair started (the engine records what it holds: Cuju's group join port). */
  launched(vm: FtVm<M>): void;
  /**
   * What the pair knows of a VM's FT beyond what the engine saw itself: in FT (adopted in
   * FT: nothing may open its monitor, Cuju issue #13) or not any more (it took over, or
   * lost its partner).
   */
  setInFt(vm: FtVm<M>, inFt: boolean): void;
  /** A VM of the pair is gone or no longer the pair's: what the engine recorded for it is undone. */
  forget(vm: FtVm<M>): void;
}
