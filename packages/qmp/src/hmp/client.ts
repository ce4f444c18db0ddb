import type { Duplex } from 'node:stream';
import { checkCount, checkSignal, checkTimeoutMs, optionsObject, rejecting } from '../check.js';
import {
  type ConnectionHooks,
  type DisconnectError,
  isolate,
  MonitorConnection,
  openMonitor,
} from '../connection.js';
import { DeadlineTimer } from '../deadline.js';
import { HmpArgumentError, ms, QmpAbortError, QmpTimeoutError } from '../errors.js';
import { MonitorClient, type MonitorClientEvents } from '../monitor-client.js';
import { PendingOp, type PendingOwner, QUEUED, SENT, sweepDeadlines } from '../pending.js';
import { redactHmpLine } from '../redact.js';
import { DEFAULT_TIMEOUT_MS } from '../timeouts.js';
import { checkEndpoint, type MonitorEndpoint } from '../transport.js';
import type { CallOptions } from '../types.js';
import type { Hmp } from './hmp.js';
import { assertHmpCommandLine, MAX_READLINE_LINE_BYTES } from './line.js';
import { ReadlineFramer } from './readline.js';

/** Options of a readline-monitor connection (deadlines, banner). */
export interface HmpClientOptions {
  /** Deadline for the socket to connect. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Deadline for the banner and first prompt; past it, QmpBusyError. Default 5000 ms. */
  bannerTimeoutMs?: number;
  /** Default per-command deadline. Default 10 000 ms. */
  timeoutMs?: number;
  /** Largest output accepted for one command. Default 16 MiB. */
  maxOutputBytes?: number;
  /** Aborts connecting. */
  signal?: AbortSignal;
}

/** What `HmpClient.connect()` takes: where the monitor is, and the client's options. */
export type HmpConnectOptions = MonitorEndpoint & HmpClientOptions;

/** The events an HmpClient emits: its run state, its disconnection, and output that came between commands. */
export type HmpClientEvents = MonitorClientEvents & {
  /**
   * Text that belongs to no command: QEMU printing on its own, or the rest of an output
   * that a prompt look-alike cut short (see the README).
   */
  unsolicited: (text: string) => void;
};

/** `quit` and its alias `q`: they end the connection instead of printing a prompt. */
const QUIT = /^\s*(quit|q)\s*$/;

/** One command line: a pending operation that remembers its line. */
class Job extends PendingOp<string> {
  constructor(
    owner: PendingOwner<PendingOp<string>>,
    readonly line: string,
    timeoutMs: number,
    deadline: number,
    signal: AbortSignal | undefined,
  ) {
    super(owner, timeoutMs, deadline, signal);
  }

  /** Errors show the line, except a secret in it. */
  get shown(): string {
    return redactHmpLine(this.line);
  }
}

/**
 * A client for QEMU's readline monitor (`-mon chardev=...,mode=readline`), the monitor
 * Cuju's scripts drive with `echo CMD | nc -U vm1.monitor` (with Debian's OpenBSD nc that
 * line never exits and holds the monitor: it needs `-N`; see BENCHMARKS.md).
 *
 * One command at a time, as a person at the prompt: later calls queue. The result is
 * what QEMU printed between the echo of the line and the next prompt. A command that
 * times out or is aborted after it was written still runs in QEMU; the client waits for
 * its prompt before writing the next command, so every command gets its own output.
 */
export class HmpClient extends MonitorClient<HmpClientEvents, string> implements Hmp {
  /** The banner QEMU printed before the first prompt, e.g. `QEMU 7.2.22 monitor - type 'help' for more information`. */
  readonly banner: string = '';

  /** @internal */
  protected readonly core: MonitorConnection<string>;
  private readonly framer: ReadlineFramer;
  private readonly queue: Job[] = [];
  private current: Job | undefined;
  private readonly deadlines = new DeadlineTimer((now) => this.sweep(now));
  private readonly timeoutMs: number;
  private readonly jobOwner: PendingOwner<PendingOp<string>> = {
    giveUp: (job, error) => this.giveUp(job as Job, error),
    abortError: (job) => new QmpAbortError(`'${(job as Job).shown}'`, job.signal?.reason),
  };

  /** Connects and reads the banner; resolves when commands may be run. */
  static connect(options: HmpConnectOptions): Promise<HmpClient> {
    return rejecting(async () => {
      const opts = optionsObject(options, 'options');
      const endpoint = checkEndpoint(opts);
      const connectTimeoutMs = checkTimeoutMs(opts.connectTimeoutMs, 'connectTimeoutMs') ?? 5000;
      const bannerTimeoutMs = checkTimeoutMs(opts.bannerTimeoutMs, 'bannerTimeoutMs') ?? 5000;
      const timeoutMs = checkTimeoutMs(opts.timeoutMs, 'timeoutMs') ?? DEFAULT_TIMEOUT_MS;
      const maxOutputBytes = checkCount(opts.maxOutputBytes, 'maxOutputBytes') ?? 16 * 1024 * 1024;
      const signal = checkSignal(opts.signal, 'signal');
      const { socket, name } = await openMonitor(endpoint, { connectTimeoutMs, signal, protocol: 'HMP' });
      const client = new HmpClient(socket, name, timeoutMs, maxOutputBytes);
      await client.establish(async () => {
        (client as { banner: string }).banner = await client.core.awaitHello(bannerTimeoutMs, signal);
      });
      return client;
    });
  }

  private constructor(socket: Duplex, endpoint: string, timeoutMs: number, maxOutputBytes: number) {
    super(endpoint);
    this.timeoutMs = timeoutMs;
    this.framer = new ReadlineFramer(maxOutputBytes, {
      banner: (text) => this.core.hello(text),
      output: (bytes) => this.finish(bytes.toString('utf8')),
      unsolicited: (bytes) => {
        if (this.core.state !== 'connecting') isolate(() => this.emit('unsolicited', bytes.toString('utf8')));
      },
      // A prompt counts once the socket has been quiet for a turn: bytes QEMU had already
      // written are read before setImmediate runs. An ambiguous prompt is then probed.
      candidate: () => setImmediate(() => this.framer.confirm()),
      send: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
    });
    this.core = new MonitorConnection<string>(socket, endpoint, 'HMP', {
      data: (chunk) => this.framer.push(chunk),
      ended: (error) => this.ended(error),
      emitter: this as unknown as ConnectionHooks['emitter'],
    });
  }

  /**
   * Runs one command line and resolves with its output. A line QEMU's readline would not
   * take as written (a control character, a byte 0x9B inside a UTF-8 letter such as `ě`,
   * more than 4095 bytes) is refused with HmpArgumentError and nothing is sent.
   */
  run(line: string, options?: CallOptions): Promise<string> {
    let timeoutMs: number;
    let signal: AbortSignal | undefined;
    try {
      assertHmpCommandLine(line);
      if (Buffer.byteLength(line) > MAX_READLINE_LINE_BYTES) {
        throw new HmpArgumentError(
          'HMP',
          undefined,
          `line is longer than ${MAX_READLINE_LINE_BYTES} bytes, where QEMU's readline cuts it`,
        );
      }
      const opts = optionsObject(options, 'options');
      timeoutMs = checkTimeoutMs(opts.timeoutMs, 'options.timeoutMs') ?? this.timeoutMs;
      signal = checkSignal(opts.signal, 'options.signal');
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.core.state !== 'running') {
      return Promise.reject(this.core.refusal(`run '${redactHmpLine(line)}'`));
    }
    if (signal?.aborted) return Promise.reject(new QmpAbortError(`'${redactHmpLine(line)}'`, signal.reason));
    const deadline = Number.isFinite(timeoutMs) ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY;
    const job = new Job(this.jobOwner, line, timeoutMs, deadline, signal);
    const promise = new Promise<string>((resolve, reject) => {
      job.resolve = resolve;
      job.reject = reject;
    });
    if (Number.isFinite(deadline)) this.deadlines.request(deadline);
    signal?.addEventListener('abort', job);
    this.queue.push(job);
    this.pump();
    return promise;
  }

  /** A job's deadline passed or its signal fired. */
  private giveUp(job: Job, error: Error): void {
    if (!job.live) return;
    // A written job keeps its place: QEMU runs it anyway, and its prompt comes before the next.
    if (job.status === QUEUED) this.queue.splice(this.queue.indexOf(job), 1);
    job.abandon(error);
  }

  /** Expires what is due; returns the next deadline. */
  private sweep(now: number): number {
    return sweepDeadlines([this.current, ...this.queue], now, (job) =>
      this.giveUp(
        job,
        new QmpTimeoutError(
          'reply',
          job.timeoutMs,
          job.shown,
          `${this.endpoint}: no prompt after '${job.shown}' within ${ms(job.timeoutMs)}`,
        ),
      ),
    );
  }

  /** Writes the next queued command when the monitor sits at its prompt. */
  private pump(): void {
    if (this.current || !this.framer.idle || this.core.state !== 'running') return;
    const job = this.queue.shift();
    if (!job) return;
    this.current = job;
    job.status = SENT;
    this.framer.commandWritten(job.line);
    this.core.socket.write(`${job.line}\n`);
  }

  private finish(text: string): void {
    const job = this.current;
    this.current = undefined;
    if (job?.live) job.finish(undefined, text);
    this.pump();
  }

  private ended(error: DisconnectError): void {
    this.deadlines.stop();
    const jobs = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = undefined;
    for (const job of jobs) {
      if (!job.live) continue;
      // `quit` ends the connection instead of printing a prompt; that is its success.
      const quitDone = job.status === SENT && QUIT.test(job.line) && !this.core.closedByClient;
      job.finish(quitDone ? undefined : error, '');
    }
  }
}
