/**
 * Every error this package throws is a QmpError with a stable `code`, so callers can
 * branch on `err.code` without parsing messages.
 */
export type QmpErrorCode =
  | 'COMMAND_FAILED'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'DISCONNECTED'
  | 'MONITOR_BUSY'
  | 'PROTOCOL'
  | 'CONNECT_FAILED'
  | 'NEGOTIATION_FAILED'
  | 'CLIENT_CLOSED'
  | 'OOB_NOT_ALLOWED'
  | 'EVENT_OVERFLOW'
  | 'INVALID_ARGUMENT'
  | 'UNEXPECTED_OUTPUT';

/** The root of every error `@cuju/qmp` throws; `code` is stable. */
export class QmpError extends Error {
  readonly code: QmpErrorCode;
  constructor(code: QmpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * QEMU's error classes (qapi/error.json). The union stays open: QEMU may add classes,
 * and a downstream build (Cuju) may use its own.
 */
export type QmpErrorClass =
  | 'GenericError'
  | 'CommandNotFound'
  | 'DeviceNotActive'
  | 'DeviceNotFound'
  | 'KVMMissingCap'
  | (string & {});

/** QEMU answered the command with `{"error": {...}}`. */
export class QmpCommandError extends QmpError {
  readonly errorClass: QmpErrorClass;
  readonly desc: string;
  readonly command: string;
  /** The arguments that were sent, with secrets replaced by `<redacted>`. */
  readonly arguments: unknown;
  readonly id: number;
  constructor(init: {
    errorClass: QmpErrorClass;
    desc: string;
    command: string;
    arguments: unknown;
    id: number;
  }) {
    super('COMMAND_FAILED', `QEMU refused '${init.command}': ${init.errorClass}: ${init.desc}`);
    this.errorClass = init.errorClass;
    this.desc = init.desc;
    this.command = init.command;
    this.arguments = init.arguments;
    this.id = init.id;
  }
}

/** What ran out of time: connecting, the greeting, a reply, or an awaited event. */
export type QmpTimeoutPhase = 'connect' | 'greeting' | 'reply' | 'event';

/** A deadline passed; `phase` says which, `timeoutMs` how long it was. */
export class QmpTimeoutError extends QmpError {
  readonly phase: QmpTimeoutPhase;
  readonly timeoutMs: number;
  /** The command (or awaited event) that ran out of time, when there is one. */
  readonly subject: string | undefined;
  constructor(phase: QmpTimeoutPhase, timeoutMs: number, subject: string | undefined, message: string) {
    super('TIMEOUT', message);
    this.phase = phase;
    this.timeoutMs = timeoutMs;
    this.subject = subject;
  }
}

/**
 * The caller's AbortSignal fired. `name` is 'AbortError' so code written for fetch-style
 * cancellation recognises it; `cause` is the signal's reason.
 */
export class QmpAbortError extends QmpError {
  constructor(subject: string, reason: unknown) {
    super('ABORTED', `${subject} was aborted`, { cause: reason });
    this.name = 'AbortError';
  }
}

/** The monitor connection is gone. `cause` says why (socket error, EOF, close()). */
export class QmpDisconnectedError extends QmpError {
  readonly endpoint: string;
  constructor(endpoint: string, message: string, cause?: unknown) {
    super('DISCONNECTED', `${endpoint}: ${message}`, { cause });
    this.endpoint = endpoint;
  }
}

/**
 * The socket accepted the connection but QEMU never greeted. QEMU serves one client per
 * monitor socket and parks the others without a word, so this almost always means that
 * another client holds the monitor.
 */
export class QmpBusyError extends QmpError {
  readonly endpoint: string;
  readonly waitedMs: number;
  /** @param awaited what never came: 'QMP greeting' or 'HMP banner' */
  constructor(endpoint: string, waitedMs: number, awaited = 'QMP greeting') {
    super(
      'MONITOR_BUSY',
      `${endpoint}: no ${awaited} within ${waitedMs} ms; the monitor is probably serving another client ` +
        '(QEMU serves one client per monitor socket). Close the other client or use another monitor.',
    );
    this.endpoint = endpoint;
    this.waitedMs = waitedMs;
  }
}

/** The server sent something that is not QMP (bad JSON, an oversize line, an id-less error). */
export class QmpProtocolError extends QmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROTOCOL', message, options);
  }
}

/** The socket could not be connected; `endpoint` says where it tried. */
export class QmpConnectError extends QmpError {
  readonly endpoint: string;
  constructor(endpoint: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('CONNECT_FAILED', `cannot connect to QMP monitor ${endpoint}: ${why}`, { cause });
    this.endpoint = endpoint;
  }
}

/**
 * An HMP command line or argument was refused before anything was sent: it would have
 * changed the command (a newline, a quote, a space inside a token, a value out of range).
 * `argument` names the offending argument, when there is one.
 */
export class HmpArgumentError extends QmpError {
  readonly command: string;
  readonly argument: string | undefined;
  constructor(command: string, argument: string | undefined, message: string) {
    super('INVALID_ARGUMENT', `${command}${argument ? ` ${argument}` : ''}: ${message}`);
    this.command = command;
    this.argument = argument;
  }
}

/** Monitor text did not have the shape a parser expects; `output` is the text as received. */
export class HmpOutputError extends QmpError {
  readonly output: string;
  constructor(what: string, output: string) {
    const shown = output.length > 200 ? `${output.slice(0, 200)}…` : output;
    super('UNEXPECTED_OUTPUT', `expected ${what}, got ${JSON.stringify(shown)}`);
    this.output = output;
  }
}

/** A subscriber's bounded buffer overflowed and its policy is 'error'. */
export class QmpEventOverflowError extends QmpError {
  readonly capacity: number;
  constructor(capacity: number) {
    super(
      'EVENT_OVERFLOW',
      `event subscriber fell behind: more than ${capacity} events buffered (raise bufferSize or consume faster)`,
    );
    this.capacity = capacity;
  }
}
