/**
 * The OpenStack adapter's errors: FtServiceErrors (the package's one error root) with a
 * finer `reason`, so callers branch on codes, never on messages.
 */
import { FtServiceError, type FtsErrorCode } from '../../errors.js';

/** What went wrong, finer than the FTS code. */
export type OpenStackErrorReason =
  /** Keystone refused the credentials or the token (401/403). */
  | 'auth'
  /** The service catalog has no endpoint of the asked type/interface/region. */
  | 'no-endpoint'
  /** An OpenStack API answered an unexpected HTTP status. */
  | 'http'
  /** An answer or a notification did not have the documented shape; `field` names where. */
  | 'bad-response'
  /** The API or the broker could not be reached, or did not answer before the deadline. */
  | 'unreachable'
  /** The adapter's own options are wrong; `field` names which. */
  | 'config'
  | 'not-found'
  | 'aborted';

const CODE: Record<OpenStackErrorReason, FtsErrorCode> = {
  // The service's users are not at fault when Keystone refuses the adapter: an IaaS failure.
  auth: 'FTS_IAAS',
  'no-endpoint': 'FTS_CONFIG',
  http: 'FTS_IAAS',
  'bad-response': 'FTS_IAAS',
  unreachable: 'FTS_IAAS',
  config: 'FTS_CONFIG',
  'not-found': 'FTS_NOT_FOUND',
  aborted: 'FTS_ABORTED',
};

/** Every failure of the OpenStack adapter: an FTS code (see the map above) and a `reason`. */
export class OpenStackError extends FtServiceError {
  readonly reason: OpenStackErrorReason;
  /** The HTTP status, for `http`/`auth`/`not-found`. */
  readonly status: number | undefined;
  constructor(
    reason: OpenStackErrorReason,
    message: string,
    options?: { field?: string; status?: number; cause?: unknown },
  ) {
    super(CODE[reason], message, options);
    this.reason = reason;
    this.status = options?.status;
  }
}
