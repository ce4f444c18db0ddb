/**
 * The CLI's one error root and its exit codes. Every failure ends as a CliError with a
 * stable `code` and the process exit status for it; errors of the libraries are mapped
 * here, in one place (`toCliError`), so each command only throws or lets through.
 */

import { GftError, GroupSpecError } from '@cuju/gft';
import { QmpAbortError, QmpArgumentError, QmpConnectError, QmpError } from '@cuju/qmp';
import { CujuArgumentError, CujuError, FtPairError } from '@cuju/sdk';

/**
 * Exit statuses of `cuju` (the README's table). Scripts branch on these; the numbers
 * never change meaning.
 */
export const EXIT_CODES = {
  /** The command did what it says. */
  ok: 0,
  /** The operation was tried and failed (the pair did not come up, the monitor refused...). */
  failed: 1,
  /** Bad command line: an unknown option, a missing argument, a bad value. */
  usage: 2,
  /** A spec or record file is invalid: the message names the path (`vm.nic.mac`). */
  spec: 3,
  /** Something named does not exist: a spec or record file, a monitor socket. */
  notFound: 4,
  /** The command does not apply in the current state (turn-off of a disabled pair...). */
  state: 5,
  /** Stopped by SIGINT (Ctrl-C) or SIGTERM; what the command had started was stopped. */
  interrupted: 130,
} as const;

/** An exit status of `cuju`. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The codes of CliError, one per exit status. */
export type CliErrorCode =
  | 'CLI_FAILED'
  | 'CLI_USAGE'
  | 'CLI_SPEC'
  | 'CLI_NOT_FOUND'
  | 'CLI_STATE'
  | 'CLI_INTERRUPTED';

const EXIT_OF: Record<CliErrorCode, ExitCode> = {
  CLI_FAILED: EXIT_CODES.failed,
  CLI_USAGE: EXIT_CODES.usage,
  CLI_SPEC: EXIT_CODES.spec,
  CLI_NOT_FOUND: EXIT_CODES.notFound,
  CLI_STATE: EXIT_CODES.state,
  CLI_INTERRUPTED: EXIT_CODES.interrupted,
};

/** Every error `cuju` reports: a code, the exit status for it, and the path at fault for spec errors. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  /** The field of a spec or record file at fault (`vm.nic.mac`, `hosts.backup`). */
  readonly path: string | undefined;
  constructor(code: CliErrorCode, message: string, options?: { path?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.path = options?.path;
  }

  /** The process exit status for this error. */
  get exitCode(): ExitCode {
    return EXIT_OF[this.code];
  }
}

/** @cuju/gft's codes that are not plain failures. */
const GFT_CODES: Partial<Record<string, CliErrorCode>> = {
  GFT_SPEC_INVALID: 'CLI_SPEC',
  GFT_RECORD_INVALID: 'CLI_SPEC',
  GFT_ABORTED: 'CLI_INTERRUPTED',
  GFT_STATE: 'CLI_STATE',
  GFT_NO_SPARES: 'CLI_STATE',
};

/** Whether an error (or its cause chain) says a file or socket does not exist. */
function isMissing(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (e.code === 'ENOENT') return true;
    e = e.cause as typeof e;
  }
  return false;
}

/**
 * Any error, as the CliError the CLI reports: the libraries' argument errors are spec
 * errors (they name the field), aborts are interruptions, a missing socket is not-found,
 * refused state transitions are state errors, the rest failures.
 */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof CujuArgumentError) {
    return new CliError('CLI_SPEC', message, { path: err.field, cause: err });
  }
  if (err instanceof FtPairError) {
    if (err.code === 'CUJU_FT_PAIR_ABORTED') return new CliError('CLI_INTERRUPTED', message, { cause: err });
    if (err.code === 'CUJU_FT_PAIR_STATE') return new CliError('CLI_STATE', message, { cause: err });
    if (err.code === 'CUJU_FT_PAIR_RECORD') return new CliError('CLI_SPEC', message, { cause: err });
  }
  if (err instanceof GftError) {
    const code = GFT_CODES[err.code];
    // A spec's problems all name their path; the first is the one scripts get as `path`.
    const path = err instanceof GroupSpecError ? err.problems[0]?.path : undefined;
    if (code) return new CliError(code, message, { cause: err, ...(path ? { path } : {}) });
    return new CliError('CLI_FAILED', `${err.code}: ${message}`, { cause: err });
  }
  if (err instanceof QmpAbortError) return new CliError('CLI_INTERRUPTED', message, { cause: err });
  if (err instanceof QmpConnectError && isMissing(err)) {
    return new CliError('CLI_NOT_FOUND', message, { cause: err });
  }
  if (err instanceof QmpArgumentError) return new CliError('CLI_USAGE', message, { cause: err });
  if (err instanceof CujuError || err instanceof QmpError) {
    return new CliError('CLI_FAILED', `${err.code}: ${message}`, { cause: err });
  }
  return new CliError('CLI_FAILED', message, { cause: err });
}
