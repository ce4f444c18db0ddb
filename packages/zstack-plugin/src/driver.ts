/**
 * The seam between the FT service and whatever runs FT pairs: the reconciler says what to
 * do (intents in), the driver does it and says what is true (records and observations
 * out). The operations are the FT pair lifecycle of @cuju/sdk, in vSphere FT's words
 * (launch, protect, turnOn, turnOff, restartSecondary, testFailover, down, attach): the
 * FtPairDriver maps each to one FtPair call.
 *
 * A driver that cannot do an operation throws DriverUnsupportedError: the reconciler then
 * records "not protected, driver-unsupported" with the driver's words, never a success.
 */
import { z } from 'zod';
import { type DriverOperationName, FtServiceError } from './errors.js';
import { Engine, EpochUs, Id, type ReplicationFigures } from './model.js';

export type { DriverOperationName } from './errors.js';
export { DriverUnsupportedError } from './errors.js';

/** One VM of a pair, as the driver can find it again. */
export const PairSide = z.object({
  host: Id,
  monitorPath: z.string().optional(),
  logPath: z.string().optional(),
  pid: z.number().int().positive().optional(),
});
export type PairSide = z.infer<typeof PairSide>;

/**
 * Where a pair is, in the driver's words (FtPair's states, folded):
 * `launching` (the step started, nothing confirmed), `running` (a VM without FT),
 * `starting` (FT coming up), `protected`, `failing-over`, `failed-over` (the survivor runs
 * alone), `secondary-lost` (the primary runs alone), `stopping`, `stopped` (nothing runs),
 * `error` (the pair could not be brought to any of these; `detail` says why).
 */
export const PairState = z.enum([
  'launching',
  'running',
  'starting',
  'protected',
  'failing-over',
  'failed-over',
  'secondary-lost',
  'stopping',
  'stopped',
  'error',
]);
export type PairState = z.infer<typeof PairState>;

/**
 * A pair's record: JSON the service keeps in its store, so that after a
 * restart `attach(record)` can find the VMs again without launching anything.
 */
export const PairRecord = z.object({
  version: z.literal(1),
  /** The driver that wrote it. */
  driver: z.string().min(1),
  vmId: Id,
  engine: Engine,
  build: z.string().min(1),
  state: PairState,
  primary: PairSide,
  secondary: PairSide.optional(),
  /** The secondary's FT (-incoming) port. */
  ftPort: z.number().int().min(1).max(65_535).optional(),
  epochUs: EpochUs.optional(),
  detail: z.string().optional(),
  /** Driver-specific state (the FtPair driver keeps the pair's own JSON record under `pair`). */
  extra: z.record(z.string(), z.unknown()).default({}),
});
export type PairRecord = z.infer<typeof PairRecord>;

/** A host as the driver needs it: its name in the service and the address others reach it at. */
export interface HostRef {
  name: string;
  address: string;
}

/** A VM to start. */
export interface LaunchRequest {
  vmId: string;
  name: string;
  memoryMiB: number;
  engine: Engine;
  build: string;
  epochUs?: number;
  primary: HostRef;
  /** The journal step doing it: the driver keys its files on it (one incarnation each). */
  stepId: number;
}

/** Where the (new) secondary goes. */
export interface SecondaryTarget {
  host: HostRef;
}

export interface DriverCallOptions {
  /** Aborts the operation (the service is stopping or lost its leadership). */
  signal: AbortSignal;
  /**
   * The leader's fencing token. A driver whose back end can check it (a shared fleet, an
   * IaaS API with conditional writes) refuses a token lower than one it has seen.
   */
  fence: number;
  /** The journal step this call carries out: an idempotency key for back ends that take one. */
  stepId: number;
  /** Progress for people, streamed to the console while the step runs. */
  onProgress?: (message: string) => void;
}

export interface FailoverResult {
  /** The pair after the takeover: the survivor is the primary, no secondary. */
  record: PairRecord;
  /** From the primary's loss to the backup running, when the engine measured it. */
  detectionMs?: number;
}

/** What the driver sees of a pair right now (pushed to subscribers on every change). */
export interface PairObservation {
  record: PairRecord;
  figures?: ReplicationFigures;
  /** Set when the change is a failover. */
  failover?: { at: string; detectionMs?: number };
}

/**
 * What the reconciler needs from an FT back end. Every operation takes the pair's last
 * record (what the store holds) and returns the new one; none is retried inside: the
 * reconciler decides. Each may throw DriverUnsupportedError (see the table above).
 */
export interface FtDriver {
  /** For records, logs and messages (`ftpair`, `fake-fleet`). */
  readonly name: string;
  /** False for an operation that would throw DriverUnsupportedError. */
  supports(operation: DriverOperationName): boolean;
  /** Starts a VM without FT on `req.primary`: state `running`. */
  launch(req: LaunchRequest, options: DriverCallOptions): Promise<PairRecord>;
  /** Starts the VM and its secondary and turns FT on: state `protected` (FtPair.up). */
  protect(req: LaunchRequest, secondary: SecondaryTarget, options: DriverCallOptions): Promise<PairRecord>;
  /** FT for a VM that already runs: a secondary on `secondary`, then `protected`. */
  turnOn(record: PairRecord, secondary: SecondaryTarget, options: DriverCallOptions): Promise<PairRecord>;
  /** FT ends, the primary keeps running: state `running`. */
  turnOff(record: PairRecord, options: DriverCallOptions): Promise<PairRecord>;
  /** After a failover or a lost secondary: a new secondary from the survivor, `protected` again. */
  restartSecondary(
    record: PairRecord,
    secondary: SecondaryTarget,
    options: DriverCallOptions,
  ): Promise<PairRecord>;
  /** Kills the primary on purpose; resolves once the secondary runs the VM (`failed-over`). */
  testFailover(record: PairRecord, options: DriverCallOptions): Promise<FailoverResult>;
  /** Stops both VMs: state `stopped`. */
  down(record: PairRecord, options: DriverCallOptions): Promise<PairRecord>;
  /**
   * Adopts the VMs of a record written by an earlier process (after a restart or a
   * takeover) without launching anything; the returned record says what runs (`stopped`
   * when they are gone). This is how a crash is resumed: the world is checked first.
   */
  attach(record: PairRecord, options: DriverCallOptions): Promise<PairRecord>;
  /** The live view of a pair this process holds; undefined when it holds none (not attached). */
  observe(vmId: string): PairObservation | undefined;
  /** Called on every change the driver sees by itself (a failover, a lost secondary). */
  subscribe(listener: (observation: PairObservation) => void): () => void;
  /** Releases what the driver holds (monitors; VMs too where the driver was built to stop them). */
  close(): Promise<void>;
}

/**
 * The driver tried and failed. `record` is the pair as the failure left it, when the
 * driver knows (a launch or protect that fails stops what it started: `stopped`).
 */
export class DriverFailedError extends FtServiceError {
  readonly record: PairRecord | undefined;
  constructor(message: string, record?: PairRecord, cause?: unknown) {
    super('FTS_DRIVER_FAILED', message, cause === undefined ? undefined : { cause });
    this.record = record;
  }
}
