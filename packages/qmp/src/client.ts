import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  checkBoolean,
  checkCount,
  checkFunction,
  checkNonEmptyString,
  checkSignal,
  checkTimeoutMs,
  describeValue,
  isRecord,
  optionsObject,
  rejecting,
} from './check.js';
import {
  type ConnectionHooks,
  type DisconnectError,
  isolate,
  MonitorConnection,
  openMonitor,
} from './connection.js';
import { DeadlineTimer, withDeadline } from './deadline.js';
import {
  ms,
  QmpAbortError,
  QmpArgumentError,
  QmpCommandError,
  QmpError,
  QmpNegotiationError,
  QmpOobError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
import {
  type ArmedWait,
  checkEventNames,
  checkEventsOptions,
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
import type { ExecuteArgs, QmpMonitor } from './monitor.js';
import { MonitorClient, type MonitorClientEvents } from './monitor-client.js';
import { ABANDONED, PendingOp, type PendingOwner, QUEUED, SENT, sweepDeadlines } from './pending.js';
import { redactArguments } from './redact.js';
import { QmpSchema, type SchemaInfo } from './schema.js';
import { DEFAULT_COMMAND_TIMEOUTS, DEFAULT_TIMEOUT_MS } from './timeouts.js';
import { checkEndpoint, type MonitorEndpoint } from './transport.js';
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

/** Options of a QMP connection (deadlines, OOB, event buffering, tracing). */
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

/** What `QmpClient.connect()` takes: where the monitor is, and the client's options. */
export type QmpConnectOptions = MonitorEndpoint & QmpClientOptions;

/** The events a QmpClient emits: its run state, its disconnection, and every QMP event. */
export type QmpClientEvents = MonitorClientEvents & {
  /** Every event QEMU sends, in order. */
  event: (event: QmpEvent) => void;
};

export interface WaitForEventOptions<E extends string> extends CallOptions {
  /** Only an event this returns true for (a throwing filter counts as false). */
  filter?: (event: QmpTypedEvent<E>) => boolean;
  /** Also accept an event already received whose seq is greater than this. */
  afterSeq?: number;
}

export interface EventsOptions extends EventStreamOptions {
  /** Only these event names (default: all). */
  names?: readonly string[];
  filter?: EventMatcher;
}

export interface HmpOptions extends CallOptions {
  /** The CPU that `info registers` and friends refer to. */
  cpuIndex?: number;
}

/** Calls written and not yet answered, and calls waiting to be written. */
export interface PendingCalls {
  /** Written and not answered; abandoned ones included, as QEMU still holds them. */
  inFlight: number;
  /** Waiting for a window slot. */
  queued: number;
}

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/**
 * In-band commands in flight with oob. QEMU queues up to QMP_REQ_QUEUE_LEN_MAX (8) and
 * stops reading the socket once the 8th is queued (monitor/qmp.c); with 7 it keeps
 * reading, so an exec-oob command still gets through when the main loop is stuck.
 */
const OOB_INBAND_WINDOW = 7;

/**
 * One command. It is its own settler and its own abort listener (`handleEvent`), and it
 * only records its deadline: the client's one DeadlineTimer does the timing. Its id is
 * chosen when it is written (see QmpClient.write), so a call waiting in the queue holds
 * no id and no serialised line, only its arguments as JSON.
 */
class PendingCall extends PendingOp<unknown> {
  id = -1;
  /** performance.now() at write, for trace durations (0 without a trace hook). */
  sentAt = 0;
  constructor(
    owner: PendingOwner<PendingOp<unknown>>,
    readonly command: string,
    /** Kept for a redacted copy in errors and traces; dropped when the call ends. */
    public args: Record<string, unknown> | undefined,
    public argsJson: string | undefined,
    readonly oob: boolean,
    timeoutMs: number,
    deadline: number,
    signal: AbortSignal | undefined,
    /** Runs as the call is written (arms an `until` wait). */
    public onWrite: (() => void) | undefined,
  ) {
    super(owner, timeoutMs, deadline, signal);
    this.resolve = captured.resolve;
    this.reject = captured.reject;
  }
}

/**
 * The executor every call's promise is made with: one function for all calls, which
 * hands its resolvers over through this slot instead of a closure per call.
 */
const captured: { resolve: (value: unknown) => void; reject: (error: Error) => void } = {
  resolve: () => {},
  reject: () => {},
};
function capture(resolve: (value: unknown) => void, reject: (error: Error) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

/** `{"execute":"<name>"` per command name, so a call does not re-serialise its name. */
const HEADS = new Map<string, string>();
const MAX_HEADS = 512;
function head(command: string, oob: boolean): string {
  const key = oob ? `\0${command}` : command;
  let h = HEADS.get(key);
  if (h === undefined) {
    h = `{"${oob ? 'exec-oob' : 'execute'}":${JSON.stringify(command)}`;
    if (HEADS.size < MAX_HEADS) HEADS.set(key, h);
  }
  return h;
}

interface Settings {
  timeouts: Map<string, number>;
  defaultTimeoutMs: number;
  negotiateOob: boolean;
  maxMessageBytes: number;
  eventHistory: number;
  trace: ((entry: QmpTraceEntry) => void) | undefined;
}

/**
 * A QMP client for one monitor socket.
 *
 * Commands are pipelined with ids: with `oob` negotiated up to 7 in-band commands are in
 * flight (QEMU queues at most 8), otherwise one (QEMU reads no further until it
 * answers), and later calls wait in a queue. Ids are the smallest free ones, so they
 * stay one or two digits: QEMU reads a command one byte per main-loop turn, and every
 * byte costs. Every call has a deadline and can be aborted; a call abandoned after
 * sending keeps its id and slot until QEMU answers (a tombstone), and that late reply is
 * dropped. When the connection ends, every pending call and every event stream ends with
 * a typed error within the same tick.
 */
export class QmpClient extends MonitorClient<QmpClientEvents, QmpGreeting> implements QmpMonitor {
  readonly greeting: QmpGreeting = {
    version: { qemu: { major: 0, minor: 0, micro: 0 }, package: '' },
    capabilities: [],
  };

  protected readonly core: MonitorConnection<QmpGreeting>;
  private readonly settings: Settings;
  /** The greeting has come: qmp_capabilities (and then commands) may be written. */
  private open = false;
  private oobEnabled = false;
  private window = 1;
  /** Calls waiting for a window slot; slots before queueHead are cleared so answered calls can be freed. */
  private readonly queue: (PendingCall | undefined)[] = [];
  private queueHead = 0;
  /** Written calls by id (the index); undefined marks a free id. */
  private readonly slots: (PendingCall | undefined)[] = [];
  private inbandInFlight = 0;
  /** A reply freed a window slot while queued calls wait: pump once the chunk is read. */
  private pumpDue = false;
  private readonly hub: EventHub;
  private readonly splitter: LineSplitter;
  private readonly deadlines = new DeadlineTimer((now) => this.sweep(now));
  private schemaPromise: Promise<QmpSchema> | undefined;
  /** The caller's trace hook, isolated: if it throws, the error surfaces asynchronously and the connection carries on. */
  private readonly trace: ((entry: QmpTraceEntry) => void) | undefined;
  /**
   * The 'event' listeners, read again only after one was added or removed: events are
   * the hot path, and a direct call per listener costs less than emit() per event.
   */
  private eventHandlers: ReadonlyArray<(event: QmpEvent) => void> = [];
  private eventHandlersStale = false;
  private readonly callOwner: PendingOwner<PendingOp<unknown>> = {
    giveUp: (call, error) => this.giveUp(call as PendingCall, error),
    abortError: (call) => new QmpAbortError(`'${(call as PendingCall).command}'`, call.signal?.reason),
  };

  /** Connects, reads the greeting and negotiates capabilities; resolves when commands may be sent. */
  static connect(options: QmpConnectOptions): Promise<QmpClient> {
    return rejecting(async () => {
      // Every option is checked before a socket exists, so a bad one leaks nothing.
      const opts = optionsObject(options, 'options');
      const endpoint = checkEndpoint(opts);
      const connectTimeoutMs = checkTimeoutMs(opts.connectTimeoutMs, 'connectTimeoutMs') ?? 5000;
      const greetingTimeoutMs = checkTimeoutMs(opts.greetingTimeoutMs, 'greetingTimeoutMs') ?? 5000;
      const signal = checkSignal(opts.signal, 'signal');
      const fetchSchema = checkBoolean(opts.fetchSchema, 'fetchSchema') ?? false;
      const settings = checkSettings(opts);
      const { socket, name } = await openMonitor(endpoint, { connectTimeoutMs, signal, protocol: 'QMP' });
      const client = new QmpClient(socket, name, settings);
      await client.establish(async () => {
        await client.handshake(greetingTimeoutMs, signal);
        if (fetchSchema) await client.schema({ timeoutMs: greetingTimeoutMs, ...(signal ? { signal } : {}) });
      });
      return client;
    });
  }

  private constructor(socket: Duplex, endpoint: string, settings: Settings) {
    super(endpoint);
    this.settings = settings;
    const userTrace = settings.trace;
    this.trace = userTrace ? (entry) => isolate(() => userTrace(entry)) : undefined;
    this.hub = new EventHub(settings.eventHistory);
    this.splitter = new LineSplitter(settings.maxMessageBytes, (text, bytes) => this.onLine(text, bytes));
    const stale = (name: string | symbol) => {
      if (name === 'event') this.eventHandlersStale = true;
    };
    const plain = this as unknown as EventEmitter;
    plain.on('newListener', stale);
    plain.on('removeListener', stale);
    this.core = new MonitorConnection<QmpGreeting>(socket, endpoint, 'QMP', {
      data: (chunk) => {
        this.splitter.push(chunk);
        // Slots freed by the replies of this chunk are refilled with one write, not one per reply.
        if (this.pumpDue) {
          this.pumpDue = false;
          this.pump();
        }
      },
      ended: (error) => this.ended(error),
      emitter: this as unknown as ConnectionHooks['emitter'],
    });
  }

  /** True when `oob` was negotiated: 7 in-band commands may be in flight and exec-oob is possible. */
  get oob(): boolean {
    return this.oobEnabled;
  }

  /** The seq of the newest event received (0 before any). */
  get lastEventSeq(): number {
    return this.hub.lastSeq;
  }

  /** How many calls wait in the queue and how many are in flight (QEMU's window). */
  get pendingCalls(): PendingCalls {
    let queued = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) if (this.queue[i]?.status === QUEUED) queued++;
    let inFlight = 0;
    for (const call of this.slots) if (call) inFlight++;
    return { inFlight, queued };
  }

  /**
   * Runs a command and resolves with its `return` value; rejects with QmpCommandError
   * when QEMU answers with an error. Commands the generated map knows are typed; any
   * other name (a downstream or newer command) goes through the untyped overload.
   */
  execute<K extends QmpCommandName>(
    command: K,
    ...rest: ExecuteArgs<K>
  ): Promise<QmpCommandMap[K]['returns']>;
  execute<C extends string>(
    command: C extends QmpCommandName ? never : C,
    args?: Record<string, unknown>,
    options?: ExecuteOptions,
  ): Promise<unknown>;
  execute(command: string, args?: unknown, options?: unknown): Promise<unknown> {
    if (typeof command !== 'string' || command.length === 0) {
      return Promise.reject(
        new QmpArgumentError('command', `must be a non-empty string, got ${describeValue(command)}`),
      );
    }
    if (args !== undefined && !isRecord(args)) {
      return Promise.reject(
        new QmpArgumentError('args', `of '${command}' must be an object, got ${describeValue(args)}`),
      );
    }
    // The common call, no options: straight to the queue.
    if (options === undefined) {
      return this.enqueue(command, args, this.timeoutFor(command), undefined, false, undefined);
    }
    return this.executeWith(command, args, options);
  }

  /** Runs an HMP command line through `human-monitor-command` and returns its text output. */
  hmp(commandLine: string, options?: HmpOptions): Promise<string> {
    let timeoutMs: number;
    let signal: AbortSignal | undefined;
    const args: Record<string, unknown> = { 'command-line': commandLine };
    try {
      // The same lines as the readline monitor takes, so both Hmp implementations agree.
      assertHmpCommandLine(commandLine);
      const opts = optionsObject(options, 'options');
      timeoutMs =
        checkTimeoutMs(opts.timeoutMs, 'options.timeoutMs') ?? this.timeoutFor('human-monitor-command');
      signal = checkSignal(opts.signal, 'options.signal');
      const cpu = opts.cpuIndex;
      if (cpu !== undefined) {
        if (typeof cpu !== 'number' || !Number.isSafeInteger(cpu) || cpu < 0) {
          throw new QmpArgumentError(
            'options.cpuIndex',
            `must be a non-negative integer, got ${describeValue(cpu)}`,
          );
        }
        args['cpu-index'] = cpu;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue('human-monitor-command', args, timeoutMs, signal, false, undefined).then((out) =>
      typeof out === 'string' ? out : '',
    );
  }

  /** Resolves with the first matching event that arrives (or, with afterSeq, has arrived). */
  waitForEvent<E extends QmpEventName>(
    name: E | readonly E[],
    options?: WaitForEventOptions<E>,
  ): Promise<QmpTypedEvent<E>>;
  waitForEvent(name: string | readonly string[], options?: WaitForEventOptions<string>): Promise<QmpEvent>;
  waitForEvent(name: string | readonly string[], options?: WaitForEventOptions<string>): Promise<QmpEvent> {
    return rejecting(() => {
      const names = checkEventNames(name, 'name');
      const opts = optionsObject(options, 'options');
      const filter = checkFunction<(e: QmpEvent) => boolean>(opts.filter, 'options.filter');
      const signal = checkSignal(opts.signal, 'options.signal');
      const afterSeq = opts.afterSeq;
      if (
        afterSeq !== undefined &&
        (typeof afterSeq !== 'number' || !Number.isSafeInteger(afterSeq) || afterSeq < 0)
      ) {
        throw new QmpArgumentError(
          'options.afterSeq',
          `must be a non-negative integer, got ${describeValue(afterSeq)}`,
        );
      }
      const timeoutMs = checkTimeoutMs(opts.timeoutMs, 'options.timeoutMs') ?? this.settings.defaultTimeoutMs;
      return this.hub.waitFor((e) => names.includes(e.event) && (!filter || filter(e)), {
        subject: names.join(' or '),
        timeoutMs,
        ...(signal ? { signal } : {}),
        ...(afterSeq !== undefined ? { afterSeq } : {}),
      });
    });
  }

  /**
   * An async-iterable stream of events with a bounded buffer (default 1000, policy
   * 'drop-oldest'). It ends with QmpDisconnectedError when the connection does.
   */
  events(options?: EventsOptions): EventStream {
    const { match, stream } = checkEventsOptions(options);
    return this.hub.stream(match, stream);
  }

  /** The binary's live `query-qmp-schema`, fetched once per connection. */
  schema(options?: CallOptions): Promise<QmpSchema> {
    return rejecting(() => {
      const opts = optionsObject(options, 'options');
      const timeoutMs = checkTimeoutMs(opts.timeoutMs, 'options.timeoutMs');
      const signal = checkSignal(opts.signal, 'options.signal');
      // One fetch serves every caller; each caller waits with its own deadline and signal,
      // so one caller giving up does not fail the others.
      if (!this.schemaPromise) {
        const fetching = this.enqueue(
          'query-qmp-schema',
          undefined,
          this.timeoutFor('query-qmp-schema'),
          undefined,
          false,
          undefined,
        ).then((entries) => {
          if (!Array.isArray(entries)) {
            throw new QmpProtocolError(
              `${this.endpoint} answered query-qmp-schema with ${describeValue(entries)}, not an array of entries`,
            );
          }
          return new QmpSchema(entries as SchemaInfo[]);
        });
        fetching.catch(() => {
          if (this.schemaPromise === fetching) this.schemaPromise = undefined;
        });
        this.schemaPromise = fetching;
      }
      const shared = this.schemaPromise;
      if (timeoutMs === undefined && !signal) return shared;
      const wait = timeoutMs ?? Number.POSITIVE_INFINITY;
      return withDeadline<QmpSchema>(
        {
          timeoutMs: wait,
          signal,
          timeoutError: () =>
            new QmpTimeoutError(
              'reply',
              wait,
              'query-qmp-schema',
              `${this.endpoint}: no schema within ${ms(wait)}`,
            ),
          abortError: (reason) => new QmpAbortError("'query-qmp-schema'", reason),
        },
        (settler) => shared.then(settler.resolve, settler.reject),
      );
    });
  }

  /** Round trip of `query-version` in ms: tells a hung QEMU from a slow command. */
  ping(options?: CallOptions): Promise<number> {
    return rejecting(async () => {
      const opts = optionsObject(options, 'options');
      const timeoutMs = checkTimeoutMs(opts.timeoutMs, 'options.timeoutMs') ?? 5000;
      const signal = checkSignal(opts.signal, 'options.signal');
      const start = performance.now();
      await this.enqueue('query-version', undefined, timeoutMs, signal, false, undefined);
      return performance.now() - start;
    });
  }

  // ---- internals -------------------------------------------------------------

  private timeoutFor(command: string): number {
    return this.settings.timeouts.get(command) ?? this.settings.defaultTimeoutMs;
  }

  private executeWith(
    command: string,
    args: Record<string, unknown> | undefined,
    options: unknown,
  ): Promise<unknown> {
    let timeoutMs: number;
    let signal: AbortSignal | undefined;
    let oob: boolean;
    let until: { event: string; filter: ((e: QmpEvent) => boolean) | undefined } | undefined;
    try {
      const opts = optionsObject(options, 'options');
      timeoutMs = checkTimeoutMs(opts.timeoutMs, 'options.timeoutMs') ?? this.timeoutFor(command);
      signal = checkSignal(opts.signal, 'options.signal');
      oob = checkBoolean(opts.oob, 'options.oob') ?? false;
      if (opts.until !== undefined) {
        const u = optionsObject(opts.until, 'options.until');
        until = {
          event: checkNonEmptyString(u.event, 'options.until.event'),
          filter: checkFunction<(e: QmpEvent) => boolean>(u.filter, 'options.until.filter'),
        };
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (!oob && !until) return this.enqueue(command, args, timeoutMs, signal, false, undefined);
    return this.executeSlow(command, args, timeoutMs, signal, oob, until);
  }

  /** exec-oob (checked against the schema first) and `until` waits. */
  private async executeSlow(
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    oob: boolean,
    until: { event: string; filter: ((e: QmpEvent) => boolean) | undefined } | undefined,
  ): Promise<unknown> {
    const deadline = performance.now() + timeoutMs;
    const remaining = () => Math.max(0, deadline - performance.now());
    if (oob) await this.checkOob(command, timeoutMs, signal);
    if (!until) return this.enqueue(command, args, remaining(), signal, oob, undefined);
    const { event, filter } = until;
    let armed: ArmedWait | undefined;
    try {
      const result = await this.enqueue(command, args, remaining(), signal, oob, () => {
        // Armed as the command is written, before QEMU can act on it: the event may come
        // before the reply. Tie it to this command with `filter` where several could match.
        armed = this.hub.arm((e) => e.event === event && (!filter || filter(e)), {
          subject: event,
          timeoutMs: remaining(),
          ...(signal ? { signal } : {}),
        });
      });
      await armed?.promise;
      return result;
    } finally {
      armed?.cancel();
    }
  }

  private async checkOob(command: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    if (!this.oobEnabled) {
      throw new QmpOobError(
        command,
        `${this.endpoint}: exec-oob needs the oob capability, which was not negotiated`,
      );
    }
    const schema = await this.schema({ timeoutMs, ...(signal ? { signal } : {}) });
    if (!schema.allowsOob(command)) {
      throw new QmpOobError(
        command,
        `'${command}' is not marked allow-oob in this QEMU's schema; send it in-band`,
      );
    }
  }

  private async handshake(greetingTimeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const greeting = await this.core.awaitHello(greetingTimeoutMs, signal);
    (this as { greeting: QmpGreeting }).greeting = greeting;
    this.open = true;
    const enable = this.settings.negotiateOob && greeting.capabilities.includes('oob') ? ['oob'] : [];
    try {
      await this.enqueue(
        'qmp_capabilities',
        enable.length ? { enable } : undefined,
        greetingTimeoutMs,
        signal,
        false,
        undefined,
      );
    } catch (err) {
      if (err instanceof QmpCommandError) {
        throw new QmpNegotiationError(`${this.endpoint}: capability negotiation failed: ${err.desc}`, {
          cause: err,
        });
      }
      throw err;
    }
    this.oobEnabled = enable.length > 0;
    this.window = this.oobEnabled ? OOB_INBAND_WINDOW : 1;
  }

  /** The one way a call is made: checked, queued (or, for exec-oob, written at once). */
  private enqueue(
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    oob: boolean,
    onWrite: (() => void) | undefined,
  ): Promise<unknown> {
    if (!this.open || this.core.error) return Promise.reject(this.core.refusal(`send '${command}'`));
    if (signal?.aborted) return Promise.reject(new QmpAbortError(`'${command}'`, signal.reason));
    let argsJson: string | undefined;
    if (args !== undefined) {
      try {
        assertSendable(args, command);
        argsJson = stringifyQmpJson(args);
      } catch (err) {
        return Promise.reject(
          err instanceof QmpError
            ? err
            : new QmpArgumentError('args', `of '${command}' cannot be sent as JSON`, { cause: err }),
        );
      }
    }
    const deadline = timeoutMs === Number.POSITIVE_INFINITY ? timeoutMs : performance.now() + timeoutMs;
    const promise = new Promise(capture);
    const call = new PendingCall(
      this.callOwner,
      command,
      args,
      argsJson,
      oob,
      timeoutMs,
      deadline,
      signal,
      onWrite,
    );
    if (deadline !== Number.POSITIVE_INFINITY) this.deadlines.request(deadline);
    if (signal) signal.addEventListener('abort', call);
    if (oob) this.core.socket.write(this.write(call));
    else {
      this.queue.push(call);
      if (this.inbandInFlight < this.window) this.pump();
    }
    return promise;
  }

  /** Writes queued in-band calls while the window has room; several at once go in one write. */
  private pump(): void {
    let batch: string | undefined;
    while (this.queueHead < this.queue.length && this.inbandInFlight < this.window) {
      const call = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined;
      if (call.status !== QUEUED) continue;
      const line = this.write(call);
      batch = batch === undefined ? line : batch + line;
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (batch !== undefined) this.core.socket.write(batch);
  }

  /** Gives a call the smallest free id, marks it sent and returns its line. */
  private write(call: PendingCall): string {
    let id = 0;
    const slots = this.slots;
    while (id < slots.length && slots[id] !== undefined) id++;
    slots[id] = call;
    call.id = id;
    call.status = SENT;
    if (!call.oob) this.inbandInFlight++;
    if (call.onWrite) {
      const onWrite = call.onWrite;
      call.onWrite = undefined;
      onWrite();
    }
    const line =
      call.argsJson === undefined
        ? `${head(call.command, call.oob)},"id":${id}}\n`
        : `${head(call.command, call.oob)},"arguments":${call.argsJson},"id":${id}}\n`;
    call.argsJson = undefined;
    if (this.trace) {
      call.sentAt = performance.now();
      const message: Record<string, unknown> = { [call.oob ? 'exec-oob' : 'execute']: call.command };
      const args = redactArguments(call.command, call.args);
      if (args !== undefined) message.arguments = args;
      message.id = id;
      this.trace({
        direction: 'out',
        kind: 'command',
        id,
        command: call.command,
        bytes: Buffer.byteLength(line),
        message,
      });
    }
    return line;
  }

  /** A call's deadline passed or its signal fired: it ends now; a written one leaves a tombstone. */
  private giveUp(call: PendingCall, error: Error): void {
    if (!call.live) return;
    // An unsent call simply never goes out (pump skips it); a sent one keeps its id and
    // window slot until QEMU answers, because QEMU still holds it in its queue.
    call.args = undefined; // nothing of an abandoned call is kept (its arguments may hold secrets)
    call.argsJson = undefined;
    call.onWrite = undefined;
    call.abandon(error);
  }

  /** Expires the calls whose deadline has passed; returns the next deadline. */
  private sweep(now: number): number {
    const expire = (call: PendingCall) =>
      this.giveUp(
        call,
        new QmpTimeoutError(
          'reply',
          call.timeoutMs,
          call.command,
          `${this.endpoint}: no reply to '${call.command}' within ${ms(call.timeoutMs)}`,
        ),
      );
    return Math.min(
      sweepDeadlines(this.slots, now, expire),
      sweepDeadlines(this.queue.slice(this.queueHead), now, expire),
    );
  }

  private onLine(text: string, bytes: number): void {
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
    if (typeof m.event === 'string') this.onEvent(m as unknown as QmpEvent, bytes);
    else if ('return' in m || 'error' in m) this.onReply(m, bytes);
    else if ('QMP' in m && this.core.awaitingHello) this.onGreeting(m, bytes);
    else this.trace?.({ direction: 'in', kind: 'dropped', bytes, message: m, note: 'unrecognised message' });
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
    this.core.hello(greeting);
  }

  private onEvent(event: QmpEvent, bytes: number): void {
    const ts = event.timestamp;
    if (typeof ts !== 'object' || ts === null) event.timestamp = { seconds: -1, microseconds: -1 };
    this.hub.publish(event);
    if (this.trace) this.trace({ direction: 'in', kind: 'event', event: event.event, bytes, message: event });
    if (this.eventHandlersStale) {
      this.eventHandlersStale = false;
      this.eventHandlers = this.rawListeners('event') as Array<(event: QmpEvent) => void>;
    }
    const handlers = this.eventHandlers;
    for (let i = 0; i < handlers.length; i++) {
      try {
        handlers[i]!.call(this, event);
      } catch (err) {
        // A throwing listener must not break the connection (nor keep the event from the
        // other listeners): rethrown on its own tick, as Node does for a listener.
        process.nextTick(() => {
          throw err;
        });
      }
    }
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
    const call = typeof id === 'number' ? this.slots[id] : undefined;
    if (call === undefined) {
      this.trace?.({ direction: 'in', kind: 'dropped', bytes, message: m, note: 'reply with an unknown id' });
      return;
    }
    this.slots[call.id] = undefined;
    if (!call.oob) this.inbandInFlight--;
    const durationMs = this.trace ? performance.now() - call.sentAt : 0;
    if (call.status === ABANDONED) {
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
        call.finish(
          new QmpCommandError({
            errorClass: error.class ?? 'GenericError',
            desc: error.desc ?? '',
            command: call.command,
            arguments: redactArguments(call.command, call.args),
            id: call.id,
          }),
        );
      } else call.finish(undefined, m.return);
      call.args = undefined;
    }
    if (this.queueHead < this.queue.length) this.pumpDue = true;
  }

  /** The connection is over: every pending call and event stream ends with the same error. */
  private ended(error: DisconnectError): void {
    this.open = false;
    this.deadlines.stop();
    const calls = [...this.slots, ...this.queue.slice(this.queueHead)];
    this.slots.length = 0;
    this.queue.length = 0;
    this.queueHead = 0;
    this.inbandInFlight = 0;
    for (const call of calls) {
      if (!call?.live) continue;
      const sent = call.status === SENT;
      call.args = undefined;
      // QEMU may exit before its reply to `quit` reaches us: when QEMU ended the
      // connection, the command did what it said.
      const quitDone =
        call.command === 'quit' && sent && !this.core.closedByClient && !(error instanceof QmpProtocolError);
      call.finish(quitDone ? undefined : error, {});
    }
    this.hub.end(error);
  }
}

function checkSettings(opts: Record<string, unknown>): Settings {
  const policy = optionsObject(opts.timeouts, 'timeouts');
  const defaultTimeoutMs = checkTimeoutMs(policy.defaultMs, 'timeouts.defaultMs') ?? DEFAULT_TIMEOUT_MS;
  const commands = optionsObject(policy.commands, 'timeouts.commands');
  const timeouts = new Map(Object.entries(DEFAULT_COMMAND_TIMEOUTS));
  for (const [name, value] of Object.entries(commands)) {
    timeouts.set(name, checkTimeoutMs(value, `timeouts.commands.${name}`)!);
  }
  return {
    timeouts,
    defaultTimeoutMs,
    negotiateOob: checkBoolean(opts.negotiateOob, 'negotiateOob') ?? true,
    maxMessageBytes: checkCount(opts.maxMessageBytes, 'maxMessageBytes') ?? DEFAULT_MAX_MESSAGE_BYTES,
    eventHistory: checkCount(opts.eventHistory, 'eventHistory') ?? 256,
    trace: checkFunction<(entry: QmpTraceEntry) => void>(opts.trace, 'trace'),
  };
}

function snippet(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
