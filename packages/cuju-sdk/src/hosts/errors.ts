/**
 * Errors of the host layer: every one is a `HostError` (a CujuError, the SDK's one root)
 * with a `HOST_*` code that callers can switch on, and a message that names the host and
 * says what to do about it. Subclasses exist so that `instanceof` works too and so that
 * they can carry the facts a caller needs (the binary that is missing, the fingerprint the
 * server presented, ...). A bad argument is not a host failure: it is a CujuArgumentError.
 *
 * Every text an error keeps (its message, a command's argv and stderr) goes through the
 * host's `redact` first, so that the secrets its owner named never reach a log.
 */
import { CujuError, type HostErrorCode } from '../errors.js';
import type { Redact } from './redact.js';

export type { HostErrorCode } from '../errors.js';

export interface HostErrorOptions {
  /** The host's `name` (`local`, `ssh:root@10.0.0.2:22`), for the message and for callers. */
  host?: string;
  cause?: unknown;
  /** Applied to the message and to every text the error keeps (the host's secrets become `<redacted>`). */
  redact?: Redact;
}

const keep: Redact = (text) => text;

export class HostError extends CujuError {
  declare readonly code: HostErrorCode;
  readonly host: string | undefined;

  constructor(code: HostErrorCode, message: string, options: HostErrorOptions = {}) {
    const redact = options.redact ?? keep;
    super(
      code,
      redact(options.host ? `${options.host}: ${message}` : message),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.host = options.host;
  }
}

export class HostAuthError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('HOST_AUTH_FAILED', message, options);
  }
}

/** The host key was refused. `fingerprint` is what the server presented (`SHA256:...`). */
export class HostKeyError extends HostError {
  readonly fingerprint: string;
  /** The server's key as a known_hosts line, to add once the fingerprint has been verified. */
  readonly knownHostsLine: string;

  constructor(
    code: 'HOST_KEY_UNKNOWN' | 'HOST_KEY_CHANGED',
    message: string,
    facts: { fingerprint: string; knownHostsLine: string },
    options: HostErrorOptions = {},
  ) {
    super(code, message, options);
    this.fingerprint = facts.fingerprint;
    this.knownHostsLine = facts.knownHostsLine;
  }
}

export class HostBinaryMissingError extends HostError {
  readonly binary: string;

  constructor(binary: string, options: HostErrorOptions & { sudo?: boolean } = {}) {
    const where = options.sudo ? "on sudo's PATH (secure_path)" : 'on PATH';
    super(
      'HOST_BINARY_MISSING',
      `'${binary}' was not found ${where}: install it on the host or give its absolute path`,
      options,
    );
    this.binary = (options.redact ?? keep)(binary);
  }
}

export class HostSudoError extends HostError {
  /** What sudo said, for the log (redacted). */
  readonly stderr: string;

  constructor(stderr: string, options: HostErrorOptions = {}) {
    super(
      'HOST_SUDO_DENIED',
      `sudo -n refused (${firstLine(stderr) || 'no reason given'}): grant this user password-less sudo ` +
        'for the command (NOPASSWD in sudoers), or run without the sudo option as a user that may run it',
      options,
    );
    this.stderr = (options.redact ?? keep)(stderr);
  }
}

export class HostConnectError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('HOST_CONNECT_FAILED', message, options);
  }
}

/** A command exited unsuccessfully where success was required. `argv` and `stderr` are redacted copies. */
export class HostCommandError extends HostError {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stderr: string;

  constructor(argv: readonly string[], exitCode: number, stderr: string, options: HostErrorOptions = {}) {
    const said = firstLine(stderr);
    super(
      'HOST_COMMAND_FAILED',
      `'${argv.join(' ')}' exited with ${exitCode}${said ? `: ${said}` : ''}`,
      options,
    );
    const redact = options.redact ?? keep;
    this.argv = argv.map(redact);
    this.exitCode = exitCode;
    this.stderr = redact(stderr);
  }
}

export class HostTimeoutError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('HOST_TIMEOUT', message, options);
  }
}

export class HostAbortedError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('HOST_ABORTED', message, options);
  }
}

export class HostDisconnectedError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('HOST_DISCONNECTED', message, options);
  }
}

/**
 * A cause safe to keep on a HostError: Node's spawn errors carry the whole argv
 * (`spawnargs`) and the program's path, which util.inspect would print with the error.
 * Keeps the message (redacted) and the errno facts, nothing else.
 */
export function safeCause(err: unknown, redact: Redact): Error {
  const e = err as NodeJS.ErrnoException;
  const copy: NodeJS.ErrnoException = new Error(redact(String(e?.message ?? err)));
  if (e?.code !== undefined) copy.code = e.code;
  if (e?.errno !== undefined) copy.errno = e.errno;
  if (e?.syscall !== undefined) copy.syscall = e.syscall;
  return copy;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}
