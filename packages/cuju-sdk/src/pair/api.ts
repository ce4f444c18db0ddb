/**
 * The public types of FtPair: its options, the options of each operation, what it emits,
 * what a failover report says, and the record that lets another process adopt the pair.
 */
import type { CujuBuildName, CujuBuildProfile } from '../builds.js';
import type { Host } from '../hosts/host.js';
import type { CujuMarker } from '../markers.js';
import type { CujuVmSpec } from '../spec.js';
import type { ColoOptions } from './colo-args.js';
import type { EngineMonitor, FtEngine, PairRole } from './engine.js';
import type { FtPairReason, FtPairState, FtPairStateChange } from './states.js';

/** The Cuju binary: the built QEMU on a lab host, or cuju-sim (`node .../cuju-sim.mjs`). */
export interface CujuBinary {
  path: string;
  /** Arguments placed before Cuju's own (e.g. the simulator's script path). */
  args?: readonly string[];
}

/** Deadlines of a pair's steps (ms). */
export interface FtPairTimeouts {
  /** A VM's start, until it says it is ready (default 20 000). */
  launchMs?: number;
  /** From `migrate -c` until protection is confirmed (default 30 000). */
  syncMs?: number;
  /** From the first sign of a failover until the secondary runs (default 10 000). */
  failoverMs?: number;
  /** A planned stop: SIGTERM, then SIGKILL after this long (default 2 000). */
  stopGraceMs?: number;
}

/**
 * The liveness watchdog of a protected pair (issue 18): it watches the primary's FT
 * progress (epoch markers on its stdout, answers of the monitor kept since before FT) and
 * the secondary's answers, and reports a VM that stops (`not-protected` with
 * `primary-unresponsive` or `secondary-unresponsive`) before anything is done about it.
 *
 * A VM is unresponsive when it has shown no progress for `thresholdMs` AND for
 * `thresholdEpochs` epochs (at the pair's epoch length): slow epochs under load are not
 * a hang, and a short threshold on a long epoch is not either. Every probe over the
 * monitor has the same deadline; an answer that arrived while this process itself was
 * stalled is read before a verdict is given.
 */
export interface WatchdogOptions {
  /** Default true once protected; false turns the watchdog off. */
  enabled?: boolean;
  /** How often each VM's monitor is probed (default 500 ms). */
  intervalMs?: number;
  /** No progress for at least this long (default 3 000 ms)... */
  thresholdMs?: number;
  /** ...and for at least this many epochs (default 400, 2 s at Cuju's 5 ms epochs). */
  thresholdEpochs?: number;
  /** The epoch length the build runs, in µs (default 5 000: Cuju's EPOCH_TIME_IN_MS). */
  epochUs?: number;
  /**
   * What to do about an unresponsive primary: `report` (default: `not-protected`,
   * `primary-unresponsive`, nothing else) or `failover` (fence it: SIGKILL through its
   * host and confirmation that it is gone; then promote the secondary).
   */
  onPrimaryUnresponsive?: 'report' | 'failover';
  /**
   * When the primary's host cannot be reached, promote the secondary anyway (default
   * false). A primary that is only cut off, not dead, then runs beside its promoted
   * secondary: two copies of the guest (split brain). Off unless the caller knows the
   * primary's host is down.
   */
  promoteUnfenced?: boolean;
}

/** `new FtPair()` options: the two hosts, the VM, Cuju's binary, the FT port, deadlines. */
export interface FtPairOptions {
  primary: Host;
  backup: Host;
  /**
   * The Cuju build the binary is (builds.ts): what the command lines may contain, how
   * protection is confirmed, which join ports the VMs bind. cuju-sim is told the same
   * build with `-sim-build NAME` in `binary.args`. Required for the Cuju engine.
   */
  build?: CujuBuildName | CujuBuildProfile;
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
  timeouts?: FtPairTimeouts;
  watchdog?: WatchdogOptions;
  /**
   * The engine: `cuju` (the default, for `build`), `colo` (QEMU COLO on stock QEMU, with
   * the `colo` options; `build` is then not used), or an FtEngine of the caller's.
   */
  engine?: 'cuju' | 'colo' | FtEngine<EngineMonitor>;
  /** The COLO engine's options (engine `colo`). */
  colo?: ColoOptions;
}

/** Options of up(), start(), turnOff(), down(). */
export interface OperationOptions {
  /** Aborts the operation: it rejects within 50 ms (CUJU_FT_PAIR_ABORTED) and stops what it started. */
  signal?: AbortSignal;
}

/** Where turnOn() and restartSecondary() put the (new) secondary. */
export interface SecondaryOptions extends OperationOptions {
  /** The host of the new secondary (default: the pair's backup host). */
  backup?: Host;
  /** Its -incoming port (default: the pair's ftPort). */
  ftPort?: number;
  /**
   * Its spec, laid over the one it takes by default: the spec of the VM it replaces (the
   * dead one after a failover), or the pair's backup spec.
   */
  backupVm?: Partial<CujuVmSpec>;
}

/** Options of testFailover(). */
export interface TestFailoverOptions extends OperationOptions {
  /** How long the secondary may take to run the guest (default: timeouts.failoverMs). */
  timeoutMs?: number;
}

/**
 * What a failover looked like. Times are this process's `performance.now()` (ms); the
 * death is the primary's host's own record of it (a monotonic stamp taken when the VM's
 * wrapper saw it exit), mapped to this process's clock.
 */
export interface FailoverReport {
  /** When the first sign was seen (`firstSign`). */
  detectedAt: Date;
  /** What came first: the primary's recorded death, the secondary's FT-link EOF, its takeover marker, its RESUME. */
  firstSign: 'primary-death' | 'link-eof' | 'takeover-marker' | 'backup-resume' | 'backup-status';
  /** What showed the secondary running the guest. */
  via: 'backup-marker' | 'backup-resume' | 'backup-status';
  /** When the primary died, by its host's record (undefined when its host could not tell). */
  primaryDiedAt: Date | undefined;
  /** Death to the first sign (ms), from the host's stamp. */
  deathToDetectionMs: number | undefined;
  /** Death to the secondary running the guest (ms), from the host's stamp. */
  deathToRunningMs: number | undefined;
  /** testFailover(): from sending the kill to seeing the death recorded (ms). */
  killToDeathMs: number | undefined;
  /** testFailover(): the kill's own round trip to the primary's host (ms). */
  killMs: number | undefined;
  /** The same as deathToDetectionMs (the field's earlier name). */
  detectionMs: number | undefined;
}

/** One line of a VM's stdout the engine recognised, and which VM printed it. */
export interface MarkerEvent {
  side: PairRole;
  marker: CujuMarker;
  line: string;
}

/**
 * A step of fencing a primary before its secondary is promoted, or of fencing an old
 * primary still running after a takeover:
 * `kill-sent` (SIGKILL sent through its host's open channel), `death-confirmed` (its host
 * recorded the exit), `host-unreachable` (no way to kill it: no promotion unless
 * `promoteUnfenced`), `promote-sent` (the engine's promotion, e.g. `cuju-failover`),
 * `promote-skipped` (the secondary took over by itself).
 */
export interface FenceEvent {
  step: 'kill-sent' | 'death-confirmed' | 'host-unreachable' | 'promote-sent' | 'promote-skipped';
  at: Date;
  detail: string;
}

/** The events an FtPair emits. */
export type FtPairEvents = {
  /** Every change of state, in order. */
  state: (change: FtPairStateChange) => void;
  /** Once per failover, when the secondary runs the guest: the report. */
  failover: (report: FailoverReport) => void;
  /** Each line of Cuju's stdout the SDK recognised, from either VM. */
  marker: (event: MarkerEvent) => void;
  /** Each step of fencing. */
  fence: (event: FenceEvent) => void;
};

/** A host in a record: its name (`local`, `ssh:root@10.0.0.2:22`) and address, to map back to a Host. */
export interface HostRef {
  name: string;
  address: string;
}

/** One VM of a record: where it runs and how to find it again. */
export interface VmRecord {
  host: HostRef;
  pid: number;
  /** The VM's stdout log (its wrapper's `.pid`, `.exit` and `.lock` files sit beside it). */
  logPath: string;
  sudo?: boolean;
  /** Its spec (monitor path, tap, ...): for a later secondary and for re-attaching. */
  spec: CujuVmSpec;
}

/**
 * A pair as JSON: hosts, engine and build, pids, logs, specs (monitor paths among them),
 * the FT port and the state. Serialise it with JSON.stringify; FtPair.attach() adopts the
 * VMs it names. The specs hold everything that was on the command lines, extraArgs
 * included: keep the record where the command lines may be.
 */
export interface FtPairRecord {
  version: 1;
  engine: string;
  /** The build (Cuju) the VMs run. */
  variant: string;
  state: FtPairState;
  reason?: FtPairReason;
  /** The pair's two hosts as configured (a later secondary goes to `backup` by default). */
  hosts: { primary: HostRef; backup: HostRef };
  /** The pair's VM spec and the backup's differences, as configured. */
  vm: CujuVmSpec;
  backupVm?: Partial<CujuVmSpec>;
  ftPort: number;
  /** The VM running the guest (after a failover: the survivor). */
  primary?: VmRecord;
  /** The secondary, when there is one. */
  backup?: VmRecord;
  /** ISO time of the record. */
  savedAt: string;
}

/** FtPair.attach() options: the hosts the record names, and what a later secondary needs. */
export interface AttachOptions {
  /**
   * The Host for each host of the record, by the record's host name (`local`,
   * `ssh:root@10.0.0.2:22`): the caller connects them again.
   */
  hosts: Readonly<Record<string, Host>>;
  /** The binary for a later secondary (restartSecondary, turnOn). */
  binary: CujuBinary;
  logDir?: string;
  timeouts?: FtPairTimeouts;
  watchdog?: WatchdogOptions;
  /** The record's engine: needed when it is not `cuju` (`colo`, or an FtEngine). */
  engine?: 'cuju' | 'colo' | FtEngine<EngineMonitor>;
  /** The COLO engine's options (engine `colo`): the record does not keep them. */
  colo?: ColoOptions;
  signal?: AbortSignal;
}
