/**
 * Every error of the FT service is an FtServiceError with a stable `FTS_*` code, so that
 * callers (and the HTTP layer, which maps codes to statuses) branch on `err.code` and
 * never on messages.
 */
export type FtsErrorCode =
  /** Bad input: a request body, a query, an option; `field` names it. */
  | 'FTS_INVALID_INPUT'
  | 'FTS_NOT_FOUND'
  /** The request conflicts with what exists (a VM name taken, an action in the wrong state). */
  | 'FTS_CONFLICT'
  | 'FTS_UNAUTHORIZED'
  /** This instance is not the leader: writes go to the leader (its URL is in the error). */
  | 'FTS_NOT_LEADER'
  /** No host qualifies as the backup (placement constraints, capacity, the primary's host). */
  | 'FTS_NO_BACKUP_HOST'
  /** The database refused a write made with a stale fencing token: another instance leads. */
  | 'FTS_FENCED'
  /** The FT driver cannot do this operation (yet): see `operation`. */
  | 'FTS_DRIVER_UNSUPPORTED'
  /** The driver tried and failed (the pair did not come up, the failover did not happen). */
  | 'FTS_DRIVER_FAILED'
  /** The service's own configuration is unsafe or incomplete (e.g. no token beyond loopback). */
  | 'FTS_CONFIG'
  /** An IaaS manager's API refused or failed a call (ZStack, nova, libvirt): its words are in the message. */
  | 'FTS_IAAS'
  | 'FTS_STORE'
  | 'FTS_SHUTTING_DOWN'
  | 'FTS_ABORTED'
  | 'FTS_INTERNAL';

export class FtServiceError extends Error {
  readonly code: FtsErrorCode;
  /** The input field at fault (`body.ft.placement.allowedHosts[0]`), for FTS_INVALID_INPUT. */
  readonly field: string | undefined;
  constructor(code: FtsErrorCode, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options?.field;
    this.name = new.target.name;
  }
}

/** The operations an FtDriver may not support yet (see driver.ts). */
export type DriverOperationName =
  | 'launch'
  | 'protect'
  | 'turnOn'
  | 'turnOff'
  | 'restartSecondary'
  | 'testFailover'
  | 'down'
  | 'attach';

/**
 * The driver does not implement this operation. The reconciler records it as the VM's
 * status (not protected, reason `driver-unsupported`) instead of pretending it happened.
 */
export class DriverUnsupportedError extends FtServiceError {
  readonly operation: DriverOperationName;
  readonly driver: string;
  constructor(driver: string, operation: DriverOperationName, why: string) {
    super('FTS_DRIVER_UNSUPPORTED', `${operation} is not supported by the ${driver} driver yet: ${why}`);
    this.operation = operation;
    this.driver = driver;
  }
}

/** The store refused a write: the fencing token it carried is no longer the lease's. */
export class FencedError extends FtServiceError {
  readonly token: number | undefined;
  constructor(token: number | undefined, cause?: unknown) {
    super(
      'FTS_FENCED',
      `the database refused a write fenced with token ${token ?? '(none)'}: another instance holds the lease`,
      cause === undefined ? undefined : { cause },
    );
    this.token = token;
  }
}

export function isFtServiceError(err: unknown, code?: FtsErrorCode): err is FtServiceError {
  return err instanceof FtServiceError && (code === undefined || err.code === code);
}

/** A message safe to log and store: the error's own message, never its cause chain's data. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
