import type { Duplex } from 'node:stream';
import { noSettler, type Settler, withDeadline } from '../deadline.js';
import {
  HmpArgumentError,
  QmpAbortError,
  QmpBusyError,
  QmpDisconnectedError,
  QmpProtocolError,
  QmpTimeoutError,
} from '../errors.js';
import { redactHmpLine } from '../redact.js';
import { checkTimeout, DEFAULT_TIMEOUT_MS } from '../timeouts.js';
import {
  closeSocket,
  describeEndpoint,
  type MonitorEndpoint,
  openTransport,
  wireMonitorSocket,
} from '../transport.js';
import type { CallOptions } from '../types.js';
import type { Hmp } from './hmp.js';
import { assertHmpCommandLine, MAX_READLINE_LINE_BYTES } from './line.js';
import { ReadlineFramer } from './readline.js';

/** `HmpClient.connect()` options besides the endpoint. */
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

/** Where to connect (a Unix socket path, TCP host and port, or an open stream) and how. */
export type HmpConnectOptions = MonitorEndpoint & HmpClientOptions;

/** `quit` and its alias `q`: they end the connection instead of printing a prompt. */
const QUIT = /^\s*(quit|q)\s*$/;
const LARGE_READ_BYTES = 16 * 1024;
const LARGE_READ_QUIET_MS = 10;

interface Job {
  line: string;
  settle: Settler<string>;
  /** The caller has gone; its output, when it comes, is discarded. */
  abandoned: boolean;
  written: boolean;
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
export class HmpClient implements Hmp {
  /** The banner QEMU printed before the first prompt, e.g. `QEMU 7.2.22 monitor - type 'help' for more information`. */
  readonly banner: string = '';
  readonly endpoint: string;

  private readonly framer: ReadlineFramer;
  private readonly queue: Job[] = [];
  private current: Job | undefined;
  private closedWith: QmpDisconnectedError | QmpProtocolError | undefined;
  private closing = false;
  private bannerWaiter: Settler<void> | undefined;
  private readonly closed: Promise<void>;

  /** Connects to a readline monitor and waits for its banner and first prompt. */
  static async connect(options: HmpConnectOptions): Promise<HmpClient> {
    const connectTimeoutMs = checkTimeout(options.connectTimeoutMs ?? 5000, 'connectTimeoutMs');
    const bannerTimeoutMs = checkTimeout(options.bannerTimeoutMs ?? 5000, 'bannerTimeoutMs');
    const socket = await openTransport(options, { timeoutMs: connectTimeoutMs, signal: options.signal });
    const client = new HmpClient(socket, describeEndpoint(options), options);
    try {
      await client.waitForBanner(bannerTimeoutMs, options.signal);
    } catch (err) {
      client.shutdown(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    return client;
  }

  private constructor(
    private readonly socket: Duplex,
    endpoint: string,
    private readonly options: HmpClientOptions,
  ) {
    this.endpoint = endpoint;
    this.framer = new ReadlineFramer(options.maxOutputBytes ?? 16 * 1024 * 1024, {
      banner: (text) => {
        (this as { banner: string }).banner = text;
        this.bannerWaiter?.resolve(undefined);
      },
      output: (bytes) => this.finish(bytes.toString('utf8')),
      unsolicited: () => {},
      candidate: (lastRead) => this.confirmWhenQuiet(lastRead),
    });
    this.closed = wireMonitorSocket(socket, {
      data: (chunk) => {
        if (!this.closedWith) this.framer.push(chunk);
      },
      failed: (err) =>
        this.shutdown(new QmpProtocolError(`${this.endpoint}: ${(err as Error).message}`, { cause: err })),
      closed: (cause) => this.shutdown(cause),
    });
  }

  /** False once the connection has ended. */
  get connected(): boolean {
    return this.closedWith === undefined;
  }

  /**
   * Runs one command line and resolves with its output. A line with a control character
   * (CR, LF, ...) is refused with HmpArgumentError and nothing is sent.
   */
  run(line: string, options: CallOptions = {}): Promise<string> {
    let timeoutMs: number;
    try {
      assertHmpCommandLine(line);
      if (Buffer.byteLength(line) > MAX_READLINE_LINE_BYTES) {
        throw new HmpArgumentError(
          'HMP',
          undefined,
          `the line is longer than ${MAX_READLINE_LINE_BYTES} bytes, where QEMU's readline cuts it`,
        );
      }
      timeoutMs = checkTimeout(
        options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        'timeoutMs',
      );
    } catch (err) {
      return Promise.reject(err);
    }
    // Errors show the line, except a secret in it.
    const shown = redactHmpLine(line);
    if (this.closedWith || this.closing) {
      return Promise.reject(
        new QmpDisconnectedError(
          this.endpoint,
          `cannot run '${shown}': the connection is closed`,
          this.closedWith,
        ),
      );
    }
    const job: Job = { line, settle: noSettler(), abandoned: false, written: false };
    return withDeadline<string>(
      {
        timeoutMs,
        signal: options.signal,
        timeoutError: () =>
          new QmpTimeoutError(
            'reply',
            timeoutMs,
            shown,
            `${this.endpoint}: no prompt after '${shown}' within ${timeoutMs} ms`,
          ),
        abortError: (reason) => new QmpAbortError(`'${shown}'`, reason),
        onGiveUp: () => {
          job.abandoned = true;
          const queued = this.queue.indexOf(job);
          if (queued !== -1) this.queue.splice(queued, 1);
        },
      },
      (settler) => {
        job.settle = settler;
        this.queue.push(job);
        this.pump();
      },
    );
  }

  /** Closes the connection; queued and running commands reject with QmpDisconnectedError. */
  async close(): Promise<void> {
    if (this.closedWith) return;
    this.closing = true;
    await closeSocket(this.socket, this.closed);
  }

  /** `await using` support: the same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async waitForBanner(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await withDeadline<void>(
        {
          timeoutMs,
          signal,
          timeoutError: () => new QmpBusyError(this.endpoint, timeoutMs, 'HMP banner'),
          abortError: (reason) => new QmpAbortError(`connecting to ${this.endpoint}`, reason),
        },
        (settler) => {
          this.bannerWaiter = settler;
        },
      );
    } finally {
      this.bannerWaiter = undefined;
    }
  }

  /**
   * A prompt counts once nothing follows it. QEMU writes a command's output line by line
   * and the prompt last, so bytes that were already waiting are normally read before
   * setImmediate runs. After a large read QEMU may have been blocked on a full socket and
   * still be writing: give it 10 ms. This narrows the window in which a prompt-like line
   * in the output could end a command early; it cannot close it against output that
   * arrives later still (see the README).
   */
  private confirmWhenQuiet(lastRead: number): void {
    if (lastRead >= LARGE_READ_BYTES) setTimeout(() => this.framer.confirm(), LARGE_READ_QUIET_MS);
    else setImmediate(() => this.framer.confirm());
  }

  /** Writes the next queued command when the monitor sits at its prompt. */
  private pump(): void {
    if (this.current || !this.framer.idle || this.closedWith) return;
    const job = this.queue.shift();
    if (!job) return;
    this.current = job;
    job.written = true;
    this.framer.commandWritten();
    this.socket.write(`${job.line}\n`);
  }

  private finish(text: string): void {
    const job = this.current;
    this.current = undefined;
    if (job && !job.abandoned) job.settle.resolve(text);
    this.pump();
  }

  private shutdown(cause: Error): void {
    if (this.closedWith) return;
    const error =
      cause instanceof QmpProtocolError
        ? cause
        : new QmpDisconnectedError(
            this.endpoint,
            this.closing
              ? 'the client closed the connection'
              : `the monitor connection ended (${cause.message})`,
            cause,
          );
    this.closedWith = error;
    this.bannerWaiter?.reject(error);
    const jobs = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = undefined;
    for (const job of jobs) {
      if (job.abandoned) continue;
      // `quit` ends the connection instead of printing a prompt; that is its success.
      if (job.written && QUIT.test(job.line)) job.settle.resolve('');
      else job.settle.reject(error);
    }
    this.socket.destroy();
  }
}
