import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type * as TypedEmitterModule from 'typed-emitter';
import { noSettler, type Settler, withDeadline } from './deadline.js';
import {
  QmpAbortError,
  QmpBusyError,
  QmpCommandError,
  QmpDisconnectedError,
  QmpError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
import {
  type ArmedWait,
  EventHub,
  type EventMatcher,
  type EventStream,
  type EventStreamOptions,
  type QmpEvent,
} from './events.js';
import { LineSplitter } from './framing.js';
import type { QmpCommandMap } from './generated/qemu-7.2.js';
import { assertHmpCommandLine } from './hmp/line.js';
import { assertSendable, parseQmpJson, stringifyQmpJson } from './json.js';
import { redactArguments } from './redact.js';
import { QmpSchema, type SchemaInfo } from './schema.js';
import { checkTimeout, DEFAULT_TIMEOUT_MS, resolveTimeout } from './timeouts.js';
import {
  closeSocket,
  describeEndpoint,
  type MonitorEndpoint,
  openTransport,
  wireMonitorSocket,
} from './transport.js';
import type {
  CallOptions,
  ExecuteOptions,
  QmpCommandName,
  QmpEventName,
  QmpGreeting,
  QmpTraceEntry,
  QmpTypedEvent,
  TimeoutPolicy,
} from './types.js';

/** `QmpClient.connect()` options besides the endpoint. */
export interface QmpClientOptions {
  /** Deadline for the socket to connect. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Deadline for QEMU's greeting; past it, QmpBusyError. Default 5000 ms. */
  greetingTimeoutMs?: number;
  /** Per-command deadlines (see DEFAULT_COMMAND_TIMEOUTS). */
  timeouts?: TimeoutPolicy;
  /** Enable the `oob` capability when the server offers it. Default true. */
  negotiateOob?: boolean;
  /** Largest message accepted from the server. Default 16 MiB. */
  maxMessageBytes?: number;
  /** Events kept for `waitForEvent({ afterSeq })` look-back. Default 256. */
  eventHistory?: number;
  /**
   * Fetch `query-qmp-schema` while connecting. exec-oob needs the schema; fetched later,
   * it is an in-band command, which waits when QEMU's main loop is stuck: exactly when
   * an oob command is wanted. Default false.
   */
  fetchSchema?: boolean;
  /** Receives every message in and out, secrets redacted. Keep it cheap. */
  trace?: (entry: QmpTraceEntry) => void;
  /** Aborts connecting and negotiation. */
  signal?: AbortSignal;
}

/** Where to connect (a Unix socket path, TCP host and port, or an open stream) and how. */
export type QmpConnectOptions = MonitorEndpoint & QmpClientOptions;

/** The events a `QmpClient` emits. */
export type QmpClientEvents = {
  /** Every event QEMU sends, in order. */
  event: (event: QmpEvent) => void;
  /** Once, when the connection ends for any reason (including close()). */
  disconnect: (error: QmpDisconnectedError | QmpProtocolError) => void;
};

/** `waitForEvent()` options: a filter, a deadline, an AbortSignal, a look-back cursor. */
export interface WaitForEventOptions<E extends string> extends CallOptions {
  /** Accept only events this returns true for. */
  filter?: (event: QmpTypedEvent<E>) => boolean;
  /** Also accept an event already received whose seq is greater than this. */
  afterSeq?: number;
}

/** `events()` options: which events, and the buffer and overflow policy. */
export interface EventsOptions extends EventStreamOptions {
  /** Only these event names (default: all). */
  names?: readonly string[];
  filter?: EventMatcher;
}

/** `hmp()` options: a deadline, an AbortSignal, the CPU an `info` command refers to. */
export interface HmpOptions extends CallOptions {
  /** The CPU that `info registers` and friends refer to. */
  cpuIndex?: number;
}

type ArgsParam<K extends QmpCommandName> =
  Record<string, never> extends QmpCommandMap[K]['args']
    ? [args?: QmpCommandMap[K]['args'], options?: ExecuteOptions]
    : [args: QmpCommandMap[K]['args'], options?: ExecuteOptions];

interface Call {
  id: number;
  command: string;
  args: unknown;
  line: string;
  oob: boolean;
  sent: boolean;
  sentAt: number;
  /** The caller has gone (timeout, abort): a late reply is dropped quietly. */
  abandoned: boolean;
  settle: Settler<unknown>;
  /** Runs just before the command is written (arms `until` waits). */
  beforeWrite: (() => void) | undefined;
}

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/**
 * In-band commands in flight with oob. QEMU queues up to QMP_REQ_QUEUE_LEN_MAX (8) and
 * stops reading the socket once the 8th is queued (monitor/qmp.c); with 7 it keeps
 * reading, so an exec-oob command still gets through when the main loop is stuck.
 */
const OOB_INBAND_WINDOW = 7;

type ClientState = 'greeting' | 'negotiating' | 'ready' | 'closed';

// typed-emitter ships CommonJS typings; reach its default export through the namespace.
type TypedEmitter<E extends TypedEmitterModule.EventMap> = TypedEmitterModule.default<E>;
const Emitter = EventEmitter as new () => TypedEmitter<QmpClientEvents>;

/**
 * A QMP client for one monitor socket.
 *
 * Commands are pipelined with ids: with `oob` negotiated up to 8 in-band commands are in
 * flight (QEMU queues at most that many), otherwise one (QEMU reads no further until it
 * answers), and later calls wait in a queue. Every call has a deadline and can be
 * aborted; a call abandoned after sending keeps its slot until QEMU answers, and that
 * late reply is dropped. When the connection ends, every pending call and every event
 * stream ends with a typed error within the same tick.
 */
export class QmpClient extends Emitter {
  readonly greeting: QmpGreeting;
  /** The endpoint as shown in errors, e.g. `unix:/run/vm1.qmp`. */
  readonly endpoint: string;

  private state: ClientState = 'greeting';
  private oobEnabled = false;
  private nextId = 1;
  /** Calls waiting for a window slot; slots before queueHead are cleared so answered calls can be freed. */
  private readonly queue: (Call | undefined)[] = [];
  private queueHead = 0;
  private readonly inflight = new Map<number, Call>();
  private inbandInFlight = 0;
  private readonly hub: EventHub;
  private readonly splitter: LineSplitter;
  private schemaPromise: Promise<QmpSchema> | undefined;
  private closedWith: QmpDisconnectedError | QmpProtocolError | undefined;
  private closing = false;
  private readonly closed: Promise<void>;
  /** The caller's trace hook, isolated: if it throws, the error surfaces asynchronously and the connection carries on. */
  private readonly trace: ((entry: QmpTraceEntry) => void) | undefined;
  private greetingWaiter: Settler<QmpGreeting> | undefined;

  /** Connects, reads the greeting and negotiates capabilities; resolves when commands may be sent. */
  static async connect(options: QmpConnectOptions): Promise<QmpClient> {
    const connectTimeoutMs = checkTimeout(options.connectTimeoutMs ?? 5000, 'connectTimeoutMs');
    const greetingTimeoutMs = checkTimeout(options.greetingTimeoutMs ?? 5000, 'greetingTimeoutMs');
    // Every option is checked before a socket exists, so a bad one leaks nothing.
    checkCount(options.maxMessageBytes, 'maxMessageBytes');
    checkCount(options.eventHistory, 'eventHistory');
    const socket = await openTransport(options, { timeoutMs: connectTimeoutMs, signal: options.signal });
    const client = new QmpClient(socket, describeEndpoint(options), options);
    try {
      await client.handshake(greetingTimeoutMs, options.signal);
      if (options.fetchSchema)
        await client.schema({
          timeoutMs: greetingTimeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
        });
    } catch (err) {
      client.shutdown(err instanceof QmpProtocolError ? err : new Error('connection set-up failed'));
      throw err;
    }
    return client;
  }

  private constructor(
    private readonly socket: Duplex,
    endpoint: string,
    private readonly options: QmpClientOptions,
  ) {
    super();
    this.endpoint = endpoint;
    this.greeting = { version: { qemu: { major: 0, minor: 0, micro: 0 }, package: '' }, capabilities: [] };
    const userTrace = options.trace;
    this.trace = userTrace ? (entry) => isolate(() => userTrace(entry)) : undefined;
    this.hub = new EventHub(options.eventHistory ?? 256);
    this.splitter = new LineSplitter(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, (line) =>
      this.onLine(line),
    );
    this.closed = wireMonitorSocket(socket, {
      data: (chunk) => {
        if (this.state !== 'closed') this.splitter.push(chunk);
      },
      failed: (err) =>
        this.shutdown(
          err instanceof QmpProtocolError ? err : new QmpProtocolError(String(err), { cause: err }),
        ),
      closed: (cause) => this.shutdown(cause),
    });
  }

  /** True when `oob` was negotiated: 8 in-band commands may be in flight and exec-oob is possible. */
  get oob(): boolean {
    return this.oobEnabled;
  }

  /** False once the connection has ended. */
  get connected(): boolean {
    return this.state === 'ready';
  }

  /** The seq of the newest event received (0 before any). */
  get lastEventSeq(): number {
    return this.hub.lastSeq;
  }

  /** Calls written and not yet answered (abandoned ones included: they hold their slot), and calls waiting to be written. */
  get pendingCalls(): { inFlight: number; queued: number } {
    let queued = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) if (!this.queue[i]?.abandoned) queued++;
    return { inFlight: this.inflight.size - queued, queued };
  }

  /**
   * Runs a command and resolves with its `return` value; rejects with QmpCommandError
   * when QEMU answers with an error. Commands the generated map knows are typed; any
   * other name (a downstream or newer command) goes through the untyped overload.
   */
  execute<K extends QmpCommandName>(command: K, ...rest: ArgsParam<K>): Promise<QmpCommandMap[K]['returns']>;
  execute<C extends string>(
    command: C extends QmpCommandName ? never : C,
    args?: Record<string, unknown>,
    options?: ExecuteOptions,
  ): Promise<unknown>;
  async execute(command: string, args?: unknown, options: ExecuteOptions = {}): Promise<unknown> {
    if (typeof command !== 'string' || command.length === 0) {
      throw new QmpError('INVALID_ARGUMENT', 'execute() needs a command name');
    }
    if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
      throw new QmpError('INVALID_ARGUMENT', `arguments of '${command}' must be an object`);
    }
    const timeoutMs = resolveTimeout(this.options.timeouts, command, options.timeoutMs);
    const deadline = performance.now() + timeoutMs;
    const remaining = () => Math.max(0, deadline - performance.now());
    const oob = options.oob === true;
    if (oob) await this.checkOob(command, timeoutMs, options.signal);
    const { until } = options;
    if (!until) return this.call(command, args, remaining(), options.signal, oob);

    const filter = until.filter;
    let armed: ArmedWait | undefined;
    try {
      const result = await this.call(command, args, remaining(), options.signal, oob, () => {
        // Armed as the command is written, before QEMU can act on it: the event may come
        // before the reply. Tie it to this command with `filter` where several could match.
        armed = this.hub.arm((e) => e.event === until.event && (!filter || filter(e)), {
          subject: until.event,
          timeoutMs: remaining(),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      });
      await armed?.promise;
      return result;
    } finally {
      armed?.cancel();
    }
  }

  /** Runs an HMP command line through `human-monitor-command` and returns its text output. */
  async hmp(commandLine: string, options: HmpOptions = {}): Promise<string> {
    // A control character would end the line early and start another command.
    assertHmpCommandLine(commandLine);
    const args: Record<string, unknown> = { 'command-line': commandLine };
    if (options.cpuIndex !== undefined) args['cpu-index'] = options.cpuIndex;
    const out = await this.call(
      'human-monitor-command',
      args,
      resolveTimeout(this.options.timeouts, 'human-monitor-command', options.timeoutMs),
      options.signal,
      false,
    );
    return typeof out === 'string' ? out : '';
  }

  /** Resolves with the first matching event that arrives (or, with afterSeq, has arrived). */
  waitForEvent<E extends QmpEventName>(
    name: E | readonly E[],
    options?: WaitForEventOptions<E>,
  ): Promise<QmpTypedEvent<E>>;
  waitForEvent(name: string | readonly string[], options?: WaitForEventOptions<string>): Promise<QmpEvent>;
  waitForEvent(
    name: string | readonly string[],
    options: WaitForEventOptions<string> = {},
  ): Promise<QmpEvent> {
    const names = typeof name === 'string' ? [name] : name;
    const filter = options.filter;
    const subject = names.join(' or ');
    const timeoutMs =
      options.timeoutMs === undefined
        ? (this.options.timeouts?.defaultMs ?? DEFAULT_TIMEOUT_MS)
        : checkTimeout(options.timeoutMs, 'timeoutMs');
    return this.hub.waitFor((e) => names.includes(e.event) && (!filter || filter(e)), {
      subject,
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.afterSeq !== undefined ? { afterSeq: options.afterSeq } : {}),
    });
  }

  /**
   * An async-iterable stream of events with a bounded buffer (default 1000, policy
   * 'drop-oldest'). It ends with QmpDisconnectedError when the connection does.
   */
  events(options: EventsOptions = {}): EventStream {
    const { names, filter } = options;
    const match: EventMatcher =
      names || filter ? (e) => (!names || names.includes(e.event)) && (!filter || filter(e)) : () => true;
    return this.hub.stream(match, options);
  }

  /** The binary's live `query-qmp-schema`, fetched once per connection. */
  schema(options: CallOptions = {}): Promise<QmpSchema> {
    // One fetch serves every caller; each caller waits with its own deadline and signal,
    // so one caller giving up does not fail the others.
    if (!this.schemaPromise) {
      const timeoutMs = resolveTimeout(this.options.timeouts, 'query-qmp-schema');
      const fetching = this.call('query-qmp-schema', undefined, timeoutMs, undefined, false).then(
        (entries) => new QmpSchema(entries as SchemaInfo[]),
      );
      fetching.catch(() => {
        if (this.schemaPromise === fetching) this.schemaPromise = undefined;
      });
      this.schemaPromise = fetching;
    }
    const shared = this.schemaPromise;
    if (options.timeoutMs === undefined && !options.signal) return shared;
    const timeoutMs = checkTimeout(options.timeoutMs ?? Number.POSITIVE_INFINITY, 'timeoutMs');
    return withDeadline<QmpSchema>(
      {
        timeoutMs,
        signal: options.signal,
        timeoutError: () =>
          new QmpTimeoutError(
            'reply',
            timeoutMs,
            'query-qmp-schema',
            `${this.endpoint}: no schema within ${timeoutMs} ms`,
          ),
        abortError: (reason) => new QmpAbortError("'query-qmp-schema'", reason),
      },
      (settler) => shared.then(settler.resolve, settler.reject),
    );
  }

  /** Round trip of `query-version` in ms: tells a hung QEMU from a slow command. */
  async ping(options: CallOptions = {}): Promise<number> {
    const start = performance.now();
    await this.call('query-version', undefined, options.timeoutMs ?? 5000, options.signal, false);
    return performance.now() - start;
  }

  /** Closes the connection. Pending calls reject with QmpDisconnectedError. */
  async close(): Promise<void> {
    if (this.state !== 'closed') {
      this.closing = true;
      await closeSocket(this.socket, this.closed);
    }
  }

  /** `await using` support: the same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- internals -------------------------------------------------------------

  private async handshake(greetingTimeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const greeting = await withDeadline<QmpGreeting>(
      {
        timeoutMs: greetingTimeoutMs,
        signal,
        timeoutError: () => new QmpBusyError(this.endpoint, greetingTimeoutMs),
        abortError: (reason) => new QmpAbortError(`connecting to ${this.endpoint}`, reason),
      },
      (settler) => {
        this.greetingWaiter = settler;
      },
    ).finally(() => {
      this.greetingWaiter = undefined;
    });
    (this as { greeting: QmpGreeting }).greeting = greeting;
    this.state = 'negotiating';
    const enable =
      this.options.negotiateOob !== false && greeting.capabilities.includes('oob') ? ['oob'] : [];
    try {
      await this.call(
        'qmp_capabilities',
        enable.length ? { enable } : undefined,
        greetingTimeoutMs,
        signal,
        false,
      );
    } catch (err) {
      if (err instanceof QmpCommandError) {
        throw new QmpError(
          'NEGOTIATION_FAILED',
          `${this.endpoint}: capability negotiation failed: ${err.desc}`,
          { cause: err },
        );
      }
      throw err;
    }
    this.oobEnabled = enable.length > 0;
    this.state = 'ready';
  }

  private async checkOob(command: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    if (!this.oobEnabled) {
      throw new QmpError(
        'OOB_NOT_ALLOWED',
        `${this.endpoint}: exec-oob needs the oob capability, which was not negotiated`,
      );
    }
    const schema = await this.schema({ timeoutMs, ...(signal ? { signal } : {}) });
    if (!schema.allowsOob(command)) {
      throw new QmpError(
        'OOB_NOT_ALLOWED',
        `'${command}' is not marked allow-oob in this QEMU's schema; send it in-band`,
      );
    }
  }

  private call(
    command: string,
    args: unknown,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    oob: boolean,
    beforeWrite?: () => void,
  ): Promise<unknown> {
    if (this.state === 'closed' || this.closing) {
      return Promise.reject(
        new QmpDisconnectedError(
          this.endpoint,
          `cannot send '${command}': the connection is closed`,
          this.closedWith,
        ),
      );
    }
    const id = this.nextId++;
    const message: Record<string, unknown> = { [oob ? 'exec-oob' : 'execute']: command };
    if (args !== undefined) message.arguments = args;
    message.id = id;
    let line: string;
    try {
      assertSendable(args, command);
      line = `${stringifyQmpJson(message)}\n`;
    } catch (err) {
      return Promise.reject(
        err instanceof QmpError
          ? err
          : new QmpError('INVALID_ARGUMENT', `arguments of '${command}' cannot be sent as JSON`, {
              cause: err,
            }),
      );
    }
    const call: Call = {
      id,
      command,
      args,
      line,
      oob,
      sent: false,
      sentAt: 0,
      abandoned: false,
      settle: noSettler(),
      beforeWrite,
    };
    return withDeadline<unknown>(
      {
        timeoutMs,
        signal,
        timeoutError: () =>
          new QmpTimeoutError(
            'reply',
            timeoutMs,
            command,
            `${this.endpoint}: no reply to '${command}' within ${timeoutMs} ms`,
          ),
        abortError: (reason) => new QmpAbortError(`'${command}'`, reason),
        onGiveUp: () => {
          call.abandoned = true;
          // An unsent call simply never goes out; a sent one keeps its window slot until
          // QEMU answers, because QEMU still holds it in its queue.
          if (!call.sent) {
            this.inflight.delete(id);
            call.args = undefined; // nothing of an unsent call is kept (its arguments may hold secrets)
            call.line = '';
          }
        },
      },
      (settler) => {
        call.settle = settler;
        this.inflight.set(id, call);
        if (oob) this.write([call]);
        else {
          this.queue.push(call);
          this.pump();
        }
      },
    );
  }

  /** Sends queued in-band calls while the window has room. */
  private pump(): void {
    const window = this.oobEnabled ? OOB_INBAND_WINDOW : 1;
    const batch: Call[] = [];
    while (this.queueHead < this.queue.length && this.inbandInFlight < window) {
      const call = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined;
      if (call.abandoned) continue;
      this.inbandInFlight++;
      batch.push(call);
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (batch.length) this.write(batch);
  }

  private write(batch: Call[]): void {
    for (const call of batch) call.beforeWrite?.();
    const now = performance.now();
    const trace = this.trace;
    if (batch.length === 1) {
      const call = batch[0]!;
      call.sent = true;
      call.sentAt = now;
      this.socket.write(call.line);
    } else {
      // One write for the batch: fewer syscalls when many calls are released together.
      for (const call of batch) {
        call.sent = true;
        call.sentAt = now;
      }
      this.socket.write(batch.map((c) => c.line).join(''));
    }
    if (trace) {
      for (const call of batch) {
        const args = redactArguments(call.command, call.args);
        const message: Record<string, unknown> = {
          [call.oob ? 'exec-oob' : 'execute']: call.command,
          id: call.id,
        };
        if (args !== undefined) message.arguments = args;
        trace({
          direction: 'out',
          kind: 'command',
          id: call.id,
          command: call.command,
          bytes: Buffer.byteLength(call.line),
          message,
        });
      }
    }
  }

  private onLine(line: Buffer): void {
    const text = line.toString('utf8');
    let msg: unknown;
    try {
      msg = parseQmpJson(text);
    } catch (err) {
      throw new QmpProtocolError(`${this.endpoint} sent a line that is not JSON: ${snippet(text)}`, {
        cause: err,
      });
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      throw new QmpProtocolError(
        `${this.endpoint} sent a JSON value that is not a QMP message: ${snippet(text)}`,
      );
    }
    const m = msg as Record<string, unknown>;
    if ('return' in m || 'error' in m) this.onReply(m, line.length);
    else if (typeof m.event === 'string') this.onEvent(m, line.length);
    else if ('QMP' in m && this.greetingWaiter) this.onGreeting(m, line.length);
    else
      this.trace?.({
        direction: 'in',
        kind: 'dropped',
        bytes: line.length,
        message: m,
        note: 'unrecognised message',
      });
  }

  private onGreeting(m: Record<string, unknown>, bytes: number): void {
    const qmp = m.QMP as {
      version?: { qemu?: Partial<QmpGreeting['version']['qemu']>; package?: string };
      capabilities?: unknown;
    };
    const v = qmp?.version?.qemu ?? {};
    const greeting: QmpGreeting = {
      version: {
        qemu: { major: Number(v.major ?? 0), minor: Number(v.minor ?? 0), micro: Number(v.micro ?? 0) },
        package: String(qmp?.version?.package ?? ''),
      },
      capabilities: Array.isArray(qmp?.capabilities) ? qmp.capabilities.map(String) : [],
    };
    this.trace?.({ direction: 'in', kind: 'greeting', bytes, message: m });
    this.greetingWaiter?.resolve(greeting);
  }

  private onEvent(m: Record<string, unknown>, bytes: number): void {
    const timestamp = (m.timestamp as QmpEvent['timestamp']) ?? { seconds: -1, microseconds: -1 };
    const event = this.hub.publish({ event: m.event as string, data: m.data, timestamp });
    this.trace?.({ direction: 'in', kind: 'event', event: event.event, bytes, message: m });
    isolate(() => this.emit('event', event));
  }

  private onReply(m: Record<string, unknown>, bytes: number): void {
    const id = m.id;
    if (id === undefined) {
      if ('error' in m) {
        const desc = (m.error as { desc?: string })?.desc ?? 'unknown error';
        throw new QmpProtocolError(`${this.endpoint} could not parse a command (error without id): ${desc}`);
      }
      this.trace?.({ direction: 'in', kind: 'dropped', bytes, message: m, note: 'reply without id' });
      return;
    }
    const call = typeof id === 'number' ? this.inflight.get(id) : undefined;
    if (!call?.sent) {
      this.trace?.({
        direction: 'in',
        kind: 'dropped',
        bytes,
        message: m,
        note: 'reply with an unknown id',
      });
      return;
    }
    this.inflight.delete(call.id);
    if (!call.oob) this.inbandInFlight--;
    const durationMs = performance.now() - call.sentAt;
    if (call.abandoned) {
      this.trace?.({
        direction: 'in',
        kind: 'dropped',
        id: call.id,
        command: call.command,
        bytes,
        durationMs,
        message: m,
        note: 'late reply to a call that timed out or was aborted',
      });
    } else {
      this.trace?.({
        direction: 'in',
        kind: 'reply',
        id: call.id,
        command: call.command,
        bytes,
        durationMs,
        message: m,
      });
      if ('error' in m) {
        const error = (m.error ?? {}) as { class?: string; desc?: string };
        call.settle.reject(
          new QmpCommandError({
            errorClass: error.class ?? 'GenericError',
            desc: error.desc ?? '',
            command: call.command,
            arguments: redactArguments(call.command, call.args),
            id: call.id,
          }),
        );
      } else {
        call.settle.resolve(m.return);
      }
    }
    if (this.queueHead < this.queue.length) this.pump();
  }

  /** Ends the connection: every pending call and event stream ends with the same error. */
  private shutdown(cause: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const byClient = this.closing;
    const error =
      cause instanceof QmpProtocolError
        ? cause
        : new QmpDisconnectedError(
            this.endpoint,
            byClient ? 'the client closed the connection' : `the monitor connection ended (${cause.message})`,
            cause,
          );
    this.closedWith = error;
    this.greetingWaiter?.reject(error);
    const calls = [...this.inflight.values()];
    this.inflight.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    this.inbandInFlight = 0;
    for (const call of calls) {
      if (call.abandoned) continue;
      // QEMU may exit before its reply to `quit` reaches us: when QEMU ended the
      // connection, the command did what it said.
      if (call.command === 'quit' && call.sent && !byClient && !(cause instanceof QmpProtocolError)) {
        call.settle.resolve({});
      } else call.settle.reject(error);
    }
    this.hub.end(error);
    this.socket.destroy();
    isolate(() => this.emit('disconnect', error));
  }
}

/**
 * Runs user code (event listeners, the trace hook) so that a throw cannot corrupt the
 * connection's state: the error is rethrown on its own tick, as Node does for a throwing
 * listener outside any caller's stack.
 */
function isolate(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

function checkCount(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
    throw new QmpError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`);
  }
}

function snippet(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
