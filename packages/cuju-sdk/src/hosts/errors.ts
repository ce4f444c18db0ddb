/**
 * Errors of the host layer. Every error is a `HostError` with a `code` that callers can
 * switch on, and a message that names the host and says what to do about it. Subclasses
 * exist so that `instanceof` works too and so that they can carry the facts a caller
 * needs (the binary that is missing, the fingerprint the server presented, ...).
 */

export type HostErrorCode =
  /** The server rejected every configured authentication method. */
  | 'AUTH_FAILED'
  /** The server's host key is not in known_hosts (or no known_hosts file exists). */
  | 'HOST_KEY_UNKNOWN'
  /** The server presented a key other than the known or pinned one (or a revoked one). */
  | 'HOST_KEY_CHANGED'
  /** The program to run was not found on the host's PATH. */
  | 'BINARY_MISSING'
  /** `sudo -n` refused: a password would be needed, or the user may not run the command. */
  | 'SUDO_DENIED'
  /** The host (or a Unix socket on it) could not be reached. */
  | 'CONNECT_FAILED'
  /** A command ran and failed (non-zero exit where success was required). */
  | 'COMMAND_FAILED'
  /** Something did not finish within its deadline. */
  | 'TIMEOUT'
  /** The operation was cancelled through its AbortSignal. */
  | 'ABORTED'
  /** The connection to the host was lost or closed. */
  | 'DISCONNECTED'
  /** An argument was refused before anything was sent (NUL byte, newline in a path, ...). */
  | 'INVALID_ARGUMENT';

/** The host a `HostError` is about, and its cause. */
export interface HostErrorOptions {
  /** The host's `name` (`local`, `ssh:root@10.0.0.2:22`), for the message and for callers. */
  host?: string;
  cause?: unknown;
}

/** An error of a host (local or SSH); `code` is stable and `host` names the host. */
export class HostError extends Error {
  readonly code: HostErrorCode;
  readonly host: string | undefined;

  constructor(code: HostErrorCode, message: string, options: HostErrorOptions = {}) {
    super(options.host ? `${options.host}: ${message}` : message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.host = options.host;
  }
}

/** The SSH server refused the credentials (`AUTH_FAILED`). */
export class HostAuthError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('AUTH_FAILED', message, options);
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

/** The program to run is not on the host (`BINARY_MISSING`); `binary` names it. */
export class HostBinaryMissingError extends HostError {
  readonly binary: string;

  constructor(binary: string, options: HostErrorOptions & { sudo?: boolean } = {}) {
    const where = options.sudo ? "on sudo's PATH (secure_path)" : 'on PATH';
    super(
      'BINARY_MISSING',
      `'${binary}' was not found ${where}: install it on the host or give its absolute path`,
      options,
    );
    this.binary = binary;
  }
}

/** sudo -n refused to run the command (`SUDO_DENIED`); `stderr` is what it said. */
export class HostSudoError extends HostError {
  /** What sudo said, for the log. */
  readonly stderr: string;

  constructor(stderr: string, options: HostErrorOptions = {}) {
    super(
      'SUDO_DENIED',
      `sudo -n refused (${firstLine(stderr) || 'no reason given'}): grant this user password-less sudo ` +
        'for the command (NOPASSWD in sudoers), or run without the sudo option as a user that may run it',
      options,
    );
    this.stderr = stderr;
  }
}

/** The host could not be reached (`CONNECT_FAILED`). */
export class HostConnectError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('CONNECT_FAILED', message, options);
  }
}

/** A command exited unsuccessfully where success was required. */
export class HostCommandError extends HostError {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stderr: string;

  constructor(argv: readonly string[], exitCode: number, stderr: string, options: HostErrorOptions = {}) {
    const said = firstLine(stderr);
    super('COMMAND_FAILED', `'${argv.join(' ')}' exited with ${exitCode}${said ? `: ${said}` : ''}`, options);
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** A command or connection ran out of time (`TIMEOUT`); what it started is stopped. */
export class HostTimeoutError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('TIMEOUT', message, options);
  }
}

/** A command or connection was aborted through its AbortSignal (`ABORTED`). */
export class HostAbortedError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('ABORTED', message, options);
  }
}

/** The connection to the host was lost (`DISCONNECTED`). */
export class HostDisconnectedError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('DISCONNECTED', message, options);
  }
}

/** An argument was refused before anything was sent (`INVALID_ARGUMENT`). */
export class HostArgumentError extends HostError {
  constructor(message: string, options: HostErrorOptions = {}) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** Whether `err` is a `HostError`, and of `code` when one is given. */
export function isHostError(err: unknown, code?: HostErrorCode): err is HostError {
  return err instanceof HostError && (code === undefined || err.code === code);
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}
