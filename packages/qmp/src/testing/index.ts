/**
 * `@cuju/qmp/testing`: monitors that run no QEMU, for users' own tests (after go-qemu's
 * qmptest). Each records what it was asked and answers from a script; each refuses what
 * the real client would refuse (the same argument checks, the same HMP line checks), so
 * a test against a double fails where the real monitor would.
 *
 * ```ts
 * import { RecordingHmp, RecordingQmp } from '@cuju/qmp/testing';
 * const hmp = new RecordingHmp({ 'info status': 'VM status: running\r\n' });
 * await code.under.test(hmp);
 * expect(hmp.lines).toEqual(['info status']);
 * ```
 */
import { checkSignal, checkTimeoutMs, describeValue, isRecord, optionsObject } from '../check.js';
import {
  QmpAbortError,
  QmpArgumentError,
  QmpCommandError,
  QmpDisconnectedError,
  QmpError,
} from '../errors.js';
import { checkEventsOptions, EventHub, type EventStreamOptions, type QmpEvent } from '../events.js';
import type { Hmp } from '../hmp/hmp.js';
import { assertHmpCommandLine, MAX_READLINE_LINE_BYTES } from '../hmp/line.js';
import { assertSendable } from '../json.js';
import type { MonitorEventStream, QmpMonitor } from '../monitor.js';
import type { CallOptions, ExecuteOptions } from '../types.js';

/** Answers one HMP line: its output, or a thrown error (a QmpError, as a real monitor would give). */
export type HmpAnswer = (line: string, options: CallOptions) => string | Promise<string>;

/** Answers one QMP command: its `return`, or a thrown error (QmpCommandError for QEMU's refusal). */
export type QmpAnswer = (
  command: string,
  args: Record<string, unknown> | undefined,
  options: ExecuteOptions,
) => unknown;

export interface DoubleOptions {
  /** Shown as `endpoint`, as a real client shows its socket. Default `test-double`. */
  endpoint?: string;
}

export interface RecordedHmpCall {
  line: string;
  options: CallOptions;
}

export interface RecordedQmpCall {
  command: string;
  args: Record<string, unknown> | undefined;
  options: ExecuteOptions;
}

function endpointOf(options: unknown): string {
  const opts = optionsObject(options, 'options');
  if (opts.endpoint === undefined) return 'test-double';
  if (typeof opts.endpoint !== 'string') {
    throw new QmpArgumentError('options.endpoint', `must be a string, got ${describeValue(opts.endpoint)}`);
  }
  return opts.endpoint;
}

/** Checks call options as the real clients do; returns them as given. */
function callOptions(options: unknown): CallOptions {
  const opts = optionsObject(options, 'options');
  checkTimeoutMs(opts.timeoutMs, 'options.timeoutMs');
  checkSignal(opts.signal, 'options.signal');
  return opts as CallOptions;
}

/** A thrown non-QmpError from a script is a bug in the test; it is passed on as it is. */
function settle<T>(answer: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(answer());
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * An Hmp that answers from a script and records every line. The script is a map from
 * line to output (a line not in it is refused with QmpArgumentError naming it) or a
 * function. Lines are checked exactly as HmpClient checks them.
 */
export class RecordingHmp implements Hmp {
  readonly endpoint: string;
  /** Every accepted call, in order. */
  readonly calls: RecordedHmpCall[] = [];
  private readonly answer: HmpAnswer;
  private closed = false;

  constructor(script: HmpAnswer | Readonly<Record<string, string>>, options?: DoubleOptions) {
    this.endpoint = endpointOf(options);
    if (typeof script === 'function') this.answer = script;
    else if (isRecord(script) && Object.values(script).every((v) => typeof v === 'string')) {
      const table = { ...script } as Record<string, string>;
      this.answer = (line) => {
        if (!Object.hasOwn(table, line)) {
          throw new QmpArgumentError(
            'line',
            `${JSON.stringify(line)} is not in the script of this RecordingHmp`,
          );
        }
        return table[line]!;
      };
    } else {
      throw new QmpArgumentError(
        'script',
        `must be a function or an object of line → output strings, got ${describeValue(script)}`,
      );
    }
  }

  /**
   * A double that expects exactly these lines in this order, answering each with its
   * output (or rejecting with its error); any other line is refused. `remaining` tells
   * how many steps are left.
   */
  static scripted(steps: ReadonlyArray<readonly [line: string, answer: string | QmpError]>): RecordingHmp & {
    readonly remaining: number;
  } {
    if (!Array.isArray(steps) || !steps.every((s) => Array.isArray(s) && typeof s[0] === 'string')) {
      throw new QmpArgumentError(
        'steps',
        `must be an array of [line, output or QmpError], got ${describeValue(steps)}`,
      );
    }
    const queue = [...steps];
    const double = new RecordingHmp((line) => {
      const next = queue[0];
      if (!next || next[0] !== line) {
        throw new QmpArgumentError(
          'line',
          `${JSON.stringify(line)} was not expected: the script ${next ? `expects ${JSON.stringify(next[0])}` : 'has ended'}`,
        );
      }
      queue.shift();
      if (next[1] instanceof QmpError) throw next[1];
      return next[1];
    });
    return Object.defineProperty(double, 'remaining', { get: () => queue.length }) as RecordingHmp & {
      readonly remaining: number;
    };
  }

  /** The lines run, in order. */
  get lines(): string[] {
    return this.calls.map((c) => c.line);
  }

  run(line: string, options?: CallOptions): Promise<string> {
    let opts: CallOptions;
    try {
      assertHmpCommandLine(line);
      if (Buffer.byteLength(line) > MAX_READLINE_LINE_BYTES) {
        throw new QmpArgumentError(
          'line',
          `is longer than ${MAX_READLINE_LINE_BYTES} bytes, where QEMU's readline cuts it`,
        );
      }
      opts = callOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed)
      return Promise.reject(
        new QmpDisconnectedError(this.endpoint, `cannot run '${line}': the connection is closed`),
      );
    if (opts.signal?.aborted) return Promise.reject(new QmpAbortError(`'${line}'`, opts.signal.reason));
    this.calls.push({ line, options: opts });
    return settle(() => this.answer(line, opts)).then((out) => {
      if (typeof out !== 'string') {
        throw new QmpArgumentError(
          'script',
          `answered ${JSON.stringify(line)} with ${describeValue(out)}, not a string`,
        );
      }
      return out;
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/**
 * A QmpMonitor that answers from a script and records every command. The script is a
 * map from command name to its `return` (a command not in it gets QEMU's own
 * CommandNotFound as a QmpCommandError) or a function. Arguments are checked as
 * QmpClient checks them. `emit()` sends an event to the open `events()` streams.
 */
export class RecordingQmp implements QmpMonitor {
  readonly endpoint: string;
  /** Every accepted call, in order. */
  readonly calls: RecordedQmpCall[] = [];
  private readonly answer: QmpAnswer;
  private readonly hub = new EventHub(256);
  private closedWith: QmpDisconnectedError | undefined;
  private nextId = 0;

  constructor(script: QmpAnswer | Readonly<Record<string, unknown>>, options?: DoubleOptions) {
    this.endpoint = endpointOf(options);
    if (typeof script === 'function') this.answer = script;
    else if (isRecord(script)) {
      const table = { ...script };
      this.answer = (command, args) => {
        if (!Object.hasOwn(table, command)) {
          throw new QmpCommandError({
            errorClass: 'CommandNotFound',
            desc: `The command ${command} has not been found`,
            command,
            arguments: args,
            id: this.nextId,
          });
        }
        return table[command];
      };
    } else {
      throw new QmpArgumentError(
        'script',
        `must be a function or an object of command → return value, got ${describeValue(script)}`,
      );
    }
  }

  /** The command names run, in order. */
  get commands(): string[] {
    return this.calls.map((c) => c.command);
  }

  /** As QmpClient.execute: typed for the commands QEMU 7.2 knows, untyped for others. */
  readonly execute = ((command: unknown, args?: unknown, options?: unknown) =>
    this.run(command, args, options)) as QmpMonitor['execute'];

  private run(command: unknown, args: unknown, options: unknown): Promise<unknown> {
    let opts: ExecuteOptions;
    try {
      if (typeof command !== 'string' || command.length === 0) {
        throw new QmpArgumentError('command', `must be a non-empty string, got ${describeValue(command)}`);
      }
      if (args !== undefined && !isRecord(args)) {
        throw new QmpArgumentError('args', `of '${command}' must be an object, got ${describeValue(args)}`);
      }
      assertSendable(args, command);
      opts = callOptions(options) as ExecuteOptions;
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (opts.signal?.aborted) return Promise.reject(new QmpAbortError(`'${command}'`, opts.signal.reason));
    const a = args as Record<string, unknown> | undefined;
    this.calls.push({ command, args: a, options: opts });
    this.nextId++;
    return settle(() => this.answer(command, a, opts));
  }

  /** Sends an event to every open stream; returns it with its seq. */
  emit(event: string, data?: unknown): QmpEvent {
    if (typeof event !== 'string' || event.length === 0) {
      throw new QmpArgumentError('event', `must be a non-empty string, got ${describeValue(event)}`);
    }
    const now = Date.now();
    return this.hub.publish({
      event,
      data,
      timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 },
      seq: 0,
    });
  }

  events(options?: EventStreamOptions & { names?: readonly string[] }): MonitorEventStream {
    const { match, stream } = checkEventsOptions(options);
    return this.hub.stream(match, stream);
  }

  /** Ends the connection as QEMU going away does: streams and later calls get QmpDisconnectedError. */
  disconnect(cause?: unknown): void {
    this.end(new QmpDisconnectedError(this.endpoint, 'the monitor connection ended (test double)', cause));
  }

  close(): Promise<void> {
    this.end(new QmpDisconnectedError(this.endpoint, 'the client closed the connection'));
    return Promise.resolve();
  }

  private end(error: QmpDisconnectedError): void {
    if (this.closedWith) return;
    this.closedWith = error;
    this.hub.end(error);
  }
}
