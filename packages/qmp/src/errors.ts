/**
 * Every error this package throws or rejects with is a QmpError with a stable `code`
 * (prefix `QMP_`, HMP errors included), so callers can branch on `err.code` or
 * `instanceof` without parsing messages. The tree (also in the README):
 *
 *   QmpError
 *   ├── QmpArgumentError        QMP_INVALID_ARGUMENT   refused before anything was sent
 *   │   └── HmpArgumentError    QMP_INVALID_ARGUMENT   an HMP line or argument
 *   ├── QmpConnectError         QMP_CONNECT_FAILED     the socket could not be opened
 *   ├── QmpBusyError            QMP_MONITOR_BUSY       no greeting/banner: another client holds the monitor
 *   ├── QmpNegotiationError     QMP_NEGOTIATION_FAILED qmp_capabilities refused
 *   ├── QmpProtocolError        QMP_PROTOCOL           the peer sent something that is not QMP/HMP
 *   ├── QmpDisconnectedError    QMP_DISCONNECTED       the connection ended (cause says why)
 *   ├── QmpTimeoutError         QMP_TIMEOUT            a deadline passed
 *   ├── QmpAbortError           QMP_ABORTED            the caller's signal fired
 *   ├── QmpCommandError         QMP_COMMAND_FAILED     QEMU answered with an error
 *   ├── QmpOobError             QMP_OOB_NOT_ALLOWED    exec-oob refused before sending
 *   ├── QmpEventOverflowError   QMP_EVENT_OVERFLOW     an event stream fell behind
 *   ├── QmpVirshError           QMP_VIRSH_FAILED       virsh (the libvirt transport) failed or could not run
 *   └── HmpOutputError          QMP_UNEXPECTED_OUTPUT  monitor text without the expected line
 */
export type QmpErrorCode =
  | 'QMP_INVALID_ARGUMENT'
  | 'QMP_CONNECT_FAILED'
  | 'QMP_MONITOR_BUSY'
  | 'QMP_NEGOTIATION_FAILED'
  | 'QMP_PROTOCOL'
  | 'QMP_DISCONNECTED'
  | 'QMP_TIMEOUT'
  | 'QMP_ABORTED'
  | 'QMP_COMMAND_FAILED'
  | 'QMP_OOB_NOT_ALLOWED'
  | 'QMP_EVENT_OVERFLOW'
  | 'QMP_VIRSH_FAILED'
  | 'QMP_UNEXPECTED_OUTPUT';

/** The protocol a connection speaks, as named in messages. */
export type MonitorProtocol = 'QMP' | 'HMP';

/** The root of every error `@cuju/qmp` throws; `code` is stable. */
export class QmpError extends Error {
  readonly code: QmpErrorCode;
  constructor(code: QmpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Whole milliseconds for messages: a deadline of 9999.87 ms reads as "10000 ms". */
export function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

/**
 * An argument was refused before anything was sent or opened. `field` names it the way
 * the caller wrote it (`options.timeoutMs`, `path`, `args.id`).
 */
export class QmpArgumentError extends QmpError {
  readonly field: string;
  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super('QMP_INVALID_ARGUMENT', `${field} ${problem}`, options);
    this.field = field;
  }
}

/** Where in a line or argument a refused character sits. */
export interface TextPosition {
  /** Index in the JavaScript string (UTF-16 code units), 0-based. */
  index: number;
  /** Offset in the UTF-8 bytes that would be sent, 0-based. */
  byte: number;
}

/**
 * An HMP command line or argument was refused before anything was sent: it would have
 * changed the command (a newline, a byte QEMU's readline takes for an editing key, a
 * quote, a space inside a token, a value out of range). `command` is the HMP command (or
 * `HMP` for a whole line), `argument` the argument when there is one, `position` where
 * the offending character is when there is one. A value that may be a secret is never
 * shown.
 */
export class HmpArgumentError extends QmpArgumentError {
  readonly command: string;
  readonly argument: string | undefined;
  readonly position: TextPosition | undefined;
  constructor(command: string, argument: string | undefined, problem: string, position?: TextPosition) {
    super(argument ? `${command} ${argument}` : command, problem);
    this.message = `${this.field}: ${problem}`;
    this.command = command;
    this.argument = argument;
    this.position = position;
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
  /** The id the command was sent with. */
  readonly id: number;
  constructor(init: {
    errorClass: QmpErrorClass;
    desc: string;
    command: string;
    arguments: unknown;
    id: number;
  }) {
    super('QMP_COMMAND_FAILED', `QEMU refused '${init.command}': ${init.errorClass}: ${init.desc}`);
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
  /** The deadline that passed, in whole milliseconds. */
  readonly timeoutMs: number;
  /** The command (or awaited event) that ran out of time, when there is one. */
  readonly subject: string | undefined;
  constructor(phase: QmpTimeoutPhase, timeoutMs: number, subject: string | undefined, message: string) {
    super('QMP_TIMEOUT', message);
    this.phase = phase;
    this.timeoutMs = Math.round(timeoutMs);
    this.subject = subject;
  }
}

/**
 * The caller's AbortSignal fired. `name` is 'AbortError' so code written for fetch-style
 * cancellation recognises it; `cause` is the signal's reason.
 */
export class QmpAbortError extends QmpError {
  constructor(subject: string, reason: unknown) {
    super('QMP_ABORTED', `${subject} was aborted`, { cause: reason });
    this.name = 'AbortError';
  }
}

/** The monitor connection is gone. `cause` says why (socket error, EOF, close()). */
export class QmpDisconnectedError extends QmpError {
  readonly endpoint: string;
  constructor(endpoint: string, message: string, cause?: unknown) {
    super('QMP_DISCONNECTED', `${endpoint}: ${message}`, { cause });
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
  constructor(endpoint: string, waitedMs: number, protocol: MonitorProtocol) {
    const awaited = protocol === 'QMP' ? 'QMP greeting' : 'HMP banner';
    super(
      'QMP_MONITOR_BUSY',
      `${endpoint}: no ${awaited} within ${ms(waitedMs)}; the monitor is probably serving another client ` +
        '(QEMU serves one client per monitor socket). Close the other client or use another monitor.',
    );
    this.endpoint = endpoint;
    this.waitedMs = Math.round(waitedMs);
  }
}

/** `qmp_capabilities` was refused; `cause` is QEMU's answer. */
export class QmpNegotiationError extends QmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QMP_NEGOTIATION_FAILED', message, options);
  }
}

/** The peer sent something that is not QMP (bad JSON, an oversize line, an id-less error) or HMP. */
export class QmpProtocolError extends QmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QMP_PROTOCOL', message, options);
  }
}

/** The socket could not be connected; `endpoint` says where it tried. */
export class QmpConnectError extends QmpError {
  readonly endpoint: string;
  constructor(endpoint: string, cause: unknown, protocol: MonitorProtocol) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('QMP_CONNECT_FAILED', `cannot connect to ${protocol} monitor ${endpoint}: ${why}`, { cause });
    this.endpoint = endpoint;
  }
}

/** `exec-oob` was refused before sending: not negotiated, or the command is not allow-oob. */
export class QmpOobError extends QmpError {
  readonly command: string;
  constructor(command: string, message: string) {
    super('QMP_OOB_NOT_ALLOWED', message);
    this.command = command;
  }
}

/** Monitor text did not have the shape a parser expects; `output` is the text as received. */
export class HmpOutputError extends QmpError {
  readonly output: string;
  constructor(what: string, output: string) {
    const shown = output.length > 200 ? `${output.slice(0, 200)}…` : output;
    super('QMP_UNEXPECTED_OUTPUT', `expected ${what}, got ${JSON.stringify(shown)}`);
    this.output = output;
  }
}

/** A subscriber's bounded buffer overflowed and its policy is 'error'. */
export class QmpEventOverflowError extends QmpError {
  readonly capacity: number;
  constructor(capacity: number) {
    super(
      'QMP_EVENT_OVERFLOW',
      `event subscriber fell behind: more than ${capacity} events buffered (raise bufferSize or consume faster)`,
    );
    this.capacity = capacity;
  }
}

/**
 * What went wrong in a virsh call, as far as its message tells: the domain or the
 * metadata element does not exist, virsh itself could not be started, or anything else
 * (read `stderr`).
 */
export type VirshFailure = 'no-domain' | 'no-metadata' | 'spawn' | 'failed';

/**
 * virsh (the libvirt transport) exited with an error or could not be started. `command`
 * is the virsh command (`qemu-monitor-command`, `metadata`...), `exitCode` its status
 * (null when it did not run or was killed), `stderr` what it said (cut to 2000
 * characters), `failure` the class of failure read from it. A refused QMP command is a
 * QmpCommandError instead, and a libvirt that cannot be reached a QmpConnectError.
 */
export class QmpVirshError extends QmpError {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  readonly failure: VirshFailure;
  constructor(init: {
    command: string;
    exitCode: number | null;
    stderr: string;
    failure: VirshFailure;
    uri: string;
    cause?: unknown;
  }) {
    const said = init.stderr.trim().split('\n')[0] ?? '';
    const status = init.exitCode === null ? 'did not run' : `exited with ${init.exitCode}`;
    super('QMP_VIRSH_FAILED', `virsh ${init.command} (${init.uri}) ${status}${said ? `: ${said}` : ''}`, {
      cause: init.cause,
    });
    this.command = init.command;
    this.exitCode = init.exitCode;
    this.stderr = init.stderr.length > 2000 ? `${init.stderr.slice(0, 2000)}…` : init.stderr;
    this.failure = init.failure;
  }
}
