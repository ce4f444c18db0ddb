/**
 * Following a VM's log: bytes in (from a file being appended to, or from `tail -F` over
 * SSH), whole lines out, and the handle (`VmProcess`) that hands them to listeners and
 * reports the exit once every line has been delivered.
 */
import { watch } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { CujuArgumentError } from '../errors.js';
import { checkFunction, checkObject, checkOptions, checkTimeoutMs, kindOf } from '../validate.js';
import { checkKillSignal } from './args.js';
import { HostError, HostTimeoutError } from './errors.js';
import type { RunOptions, VmExit, VmProcess, VmRef } from './host.js';
import { statusToExit } from './signals.js';

/**
 * Splits a byte stream into lines. A chunk may end in the middle of a line or of a UTF-8
 * character: both are held back until the rest arrives. `\r\n` counts as one break. Only
 * the new text is searched for breaks, so a very long line costs no more than a short one.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    let end = text.indexOf('\n');
    while (end !== -1) {
      const line = this.partial + text.slice(start, end);
      this.partial = '';
      this.emit(stripCr(line));
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    this.partial += text.slice(start);
  }

  /** Delivers a last line that has no line break (the process ended mid-line). */
  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.emit(stripCr(rest));
  }
}

/**
 * The lines of a command run with `RunOptions.onLine`: a splitter per stream, each line
 * handed to the listener, which can never break the run (what it throws, or a promise of
 * its that rejects, is ignored). `skipStderr` may hold back internal stderr lines.
 */
export class RunLines {
  readonly stdout: LineSplitter;
  readonly stderr: LineSplitter;

  constructor(
    listener: NonNullable<RunOptions['onLine']>,
    skipStderr: (line: string) => boolean = () => false,
  ) {
    const deliver = (line: string, stream: 'stdout' | 'stderr') => {
      try {
        const returned: unknown = listener(line, stream);
        if (returned instanceof Promise) returned.catch(() => {});
      } catch {
        // A listener's failure is its own; the run goes on.
      }
    };
    this.stdout = new LineSplitter((line) => deliver(line, 'stdout'));
    this.stderr = new LineSplitter((line) => {
      if (!skipStderr(line)) deliver(line, 'stderr');
    });
  }

  /** Delivers the streams' last lines without a line break (the command has ended). */
  end(): void {
    this.stdout.end();
    this.stderr.end();
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** How many past lines a late `onLine` listener is given. */
const LINE_HISTORY = 10_000;

/**
 * The handle for a started (or adopted) process. The host that follows it feeds it lines
 * (`deliverLine`), the first notice of the death (`die`: `died` resolves, `running` turns
 * false), then the outcome once every line is in (`settle`: `exited` resolves) or the loss
 * of the means to follow it (`fail`); `kill` is the host's.
 */
export class VmHandle implements VmProcess {
  readonly exited: Promise<VmExit>;
  readonly died: Promise<VmExit>;
  readonly ref: VmRef;
  private readonly listeners = new Set<(line: string) => void>();
  private readonly history: string[] = [];
  private dead = false;
  private done = false;
  private resolveExit!: (exit: VmExit) => void;
  private rejectExit!: (err: Error) => void;
  private resolveDeath!: (exit: VmExit) => void;
  private rejectDeath!: (err: Error) => void;
  /** What the host does to stop following (set by the host once it follows). */
  releaser: (() => Promise<void>) | undefined;

  constructor(
    ref: VmRef,
    private readonly sendSignal: (signal: 'SIGTERM' | 'SIGKILL') => Promise<void>,
  ) {
    this.ref = Object.freeze({ ...ref });
    this.exited = new Promise<VmExit>((resolve, reject) => {
      this.resolveExit = resolve;
      this.rejectExit = reject;
    });
    this.died = new Promise<VmExit>((resolve, reject) => {
      this.resolveDeath = resolve;
      this.rejectDeath = reject;
    });
    // A lost SSH connection rejects both; a caller that never looks at them must not get
    // an unhandled rejection for that.
    this.exited.catch(() => {});
    this.died.catch(() => {});
  }

  get pid(): number {
    return this.ref.pid;
  }

  get logPath(): string {
    return this.ref.logPath;
  }

  get running(): boolean {
    return !this.dead;
  }

  onLine(listener: (line: string) => void): () => void {
    checkFunction('listener', listener);
    for (const line of this.history) listener(line);
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async kill(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const checked = checkKillSignal(signal);
    if (this.dead) return;
    await this.sendSignal(checked);
  }

  async release(): Promise<void> {
    if (this.done) return;
    const releaser = this.releaser;
    this.fail(
      new HostError('HOST_DISCONNECTED', `no longer following process ${this.pid}: the handle was released`),
    );
    await releaser?.();
  }

  deliverLine(line: string): void {
    this.history.push(line);
    if (this.history.length > LINE_HISTORY) this.history.shift();
    for (const listener of [...this.listeners]) listener(line);
  }

  /** The host recorded the death: `died` resolves (lines may still follow). */
  die(exit: VmExit): void {
    if (this.dead) return;
    this.dead = true;
    this.resolveDeath(exit);
  }

  /** Every line has been delivered: `exited` resolves (and `died`, if it had not). */
  settle(exit: VmExit): void {
    if (this.done) return;
    this.die(exit);
    this.done = true;
    this.resolveExit(exit);
  }

  /** The process can no longer be followed (a lost connection): both promises reject. */
  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    if (!this.dead) {
      this.dead = true;
      this.rejectDeath(err);
    }
    this.rejectExit(err);
  }
}

/**
 * Reads a file from `offset` as it grows and hands the bytes to `onData`. fs.watch wakes
 * it at once on Linux; a poll every `pollMs` covers the events inotify can miss. Nothing
 * here keeps the event loop alive: the child process being followed does that.
 */
export class FileFollower {
  private file: FileHandle | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;
  private readonly watcher: ReturnType<typeof watch> | undefined;
  private readonly buffer = Buffer.alloc(64 * 1024);

  constructor(
    private readonly path: string,
    private offset: number,
    private readonly onData: (chunk: Buffer) => void,
    pollMs = 100,
  ) {
    this.timer = setInterval(() => this.wake(), pollMs).unref();
    try {
      this.watcher = watch(path, { persistent: false }, () => this.wake());
      this.watcher.on('error', () => {});
    } catch {
      this.watcher = undefined; // polling alone still works
    }
    this.wake();
  }

  /** Reads to the end of the file one last time, then stops. */
  async finish(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.watcher?.close();
    await this.reading;
    await this.readToEnd();
    await this.file?.close();
    this.file = undefined;
  }

  private wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        await this.readToEnd();
      } while (this.again && !this.stopped);
    })()
      .catch(() => {}) // a failed read is retried by the next wake; finish() reports nothing
      .finally(() => {
        this.reading = undefined;
      });
  }

  private async readToEnd(): Promise<void> {
    this.file ??= await open(this.path, 'r');
    for (;;) {
      const { bytesRead } = await this.file.read(this.buffer, 0, this.buffer.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      this.onData(Buffer.from(this.buffer.subarray(0, bytesRead)));
    }
  }
}

/**
 * Resolves with the first line (past or future) that matches, or rejects with
 * HostTimeoutError after `timeoutMs`, or with a HostError when the process exits first.
 */
export async function waitForLine(
  vm: VmProcess,
  match: string | RegExp,
  options?: { timeoutMs?: number },
): Promise<string> {
  const handle = checkObject('vm', vm);
  checkFunction('vm.onLine', handle.onLine);
  if (!(handle.exited instanceof Promise)) {
    throw new CujuArgumentError(
      'vm.exited',
      `must be a Promise (vm is a VmProcess), got ${kindOf(handle.exited)}`,
    );
  }
  if (typeof match !== 'string' && !(match instanceof RegExp)) {
    throw new CujuArgumentError('match', `must be a string or a RegExp, got ${kindOf(match)}`);
  }
  const o = checkOptions('options', options);
  const ms = o.timeoutMs === undefined ? 30_000 : checkTimeoutMs('timeoutMs', o.timeoutMs);
  const test =
    typeof match === 'string' ? (line: string) => line.includes(match) : (line: string) => match.test(line);
  return new Promise<string>((resolve, reject) => {
    let done = false;
    let off: (() => void) | undefined;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off?.();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new HostTimeoutError(`no line matching ${String(match)} within ${ms} ms`))),
      ms,
    );
    off = vm.onLine((line) => {
      if (test(line)) finish(() => resolve(line));
    });
    if (done) off(); // matched a past line during onLine itself
    vm.exited.then(
      (exit) =>
        finish(() =>
          reject(
            new HostError(
              'HOST_COMMAND_FAILED',
              `process ${vm.pid} exited (${exit.signal ?? `code ${exit.code}`}) before a line matching ${String(match)}`,
            ),
          ),
        ),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}

/** A death as VM_WRAPPER recorded it in `LOG.exit`: `STATUS CLOCK NS`. */
export interface DeathRecord {
  /** The shell's status: the exit code, or 128 + N after signal N. */
  status: number;
  /** Which of the host's clocks `ns` reads (see remote-scripts.ts STAMP). */
  clock: 'monotonic' | 'boottime';
  ns: bigint;
}

/** `STATUS CLOCK NS`, or undefined for anything else (an empty record: the wrapper died first). */
export function parseDeathRecord(text: string): DeathRecord | undefined {
  const m = /^(\d+) (monotonic|boottime) (\d+)\s*$/.exec(text.trim());
  if (!m) return undefined;
  return { status: Number(m[1]), clock: m[2] as DeathRecord['clock'], ns: BigInt(m[3]!) };
}

/**
 * This process's `performance.now()` for a reading of CLOCK_MONOTONIC on this machine (in
 * ns): Node's hrtime is that clock, so only the two origins differ.
 */
export function monotonicToPerformance(ns: bigint): number {
  const hr = process.hrtime.bigint();
  const perf = performance.now();
  return perf - Number(hr - ns) / 1e6;
}

/** The exit a death record stands for, with its time mapped by `mapStamp` (undefined: not recorded). */
export function exitOf(record: DeathRecord | undefined, diedAt: number | undefined): VmExit {
  const exit = record ? statusToExit(record.status) : { code: null, signal: null };
  return diedAt === undefined ? exit : { ...exit, diedAt };
}

/**
 * Reads what the FOLLOW script (remote-scripts.ts) writes: the log's bytes on stdout,
 * handed to the VM handle line by line; on stderr `cuju-follow:OFFSET`, then
 * `cuju-death:...` (the handle dies at once) and `cuju-exit:SIZE` (what the log held in
 * the end, so that bytes tail had not sent yet can be fetched before `exited`).
 */
export class FollowReader {
  /** The log offset the script started from. */
  offset: number | undefined;
  /** Log bytes received on stdout. */
  received = 0;
  /** The log's size after the death (`cuju-exit`). */
  finalSize: number | undefined;
  /** The exit as recorded (set at `cuju-death`). */
  exit: VmExit | undefined;
  /** Resolves once the script said where it starts (`cuju-follow`); rejects if it ends first. */
  readonly ready: Promise<void>;
  private readonly lines: LineSplitter;
  private readonly reports: LineSplitter;
  private markReady!: () => void;
  private failReady!: (err: Error) => void;
  private readyAtDeath = false;

  constructor(
    private readonly handle: VmHandle,
    /** This process's performance.now() for a stamp of the host (undefined when it cannot map it). */
    private readonly mapStamp: (record: DeathRecord) => number | undefined,
  ) {
    this.lines = new LineSplitter((line) => handle.deliverLine(line));
    this.reports = new LineSplitter((line) => this.report(line));
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => {});
    void handle.exited.then(
      () => this.failReady(new Error('the follower ended before it started')),
      (err: Error) => this.failReady(err),
    );
  }

  stdout(chunk: Buffer): void {
    this.received += chunk.length;
    this.lines.push(chunk);
  }

  stderr(chunk: Buffer): void {
    this.reports.push(chunk);
  }

  /** Log bytes the script reported but did not send: [from, to) in the log, or undefined. */
  missing(): { from: number; to: number } | undefined {
    if (this.offset === undefined || this.finalSize === undefined) return undefined;
    const from = this.offset + this.received;
    return from < this.finalSize ? { from, to: this.finalSize } : undefined;
  }

  /** Delivers bytes fetched for missing(), then the last partial line; the handle settles. */
  finish(rest: Buffer | undefined): void {
    if (rest && rest.length > 0) this.stdout(rest);
    this.lines.end();
    this.handle.settle(this.exit ?? { code: null, signal: null });
  }

  /** Whether the script reported the end (cuju-exit): otherwise it was cut off. */
  get ended(): boolean {
    return this.finalSize !== undefined;
  }

  private report(line: string): void {
    const follow = /^cuju-follow:(\d+)(?: (running|gone))?$/.exec(line);
    if (follow) {
      this.offset = Number(follow[1]);
      // A VM found gone is ready once its death is known: `running` is then already false.
      if (follow[2] === 'gone') this.readyAtDeath = true;
      else this.markReady();
      return;
    }
    if (line.startsWith('cuju-death:')) {
      const record = parseDeathRecord(line.slice('cuju-death:'.length));
      this.exit = exitOf(record, record ? this.mapStamp(record) : undefined);
      this.handle.die(this.exit);
      if (this.readyAtDeath) this.markReady();
      return;
    }
    const end = /^cuju-exit:(\d+)$/.exec(line);
    if (end) this.finalSize = Number(end[1]);
  }
}

/** Bytes [from, to) of a local file. */
export async function readRange(path: string, from: number, to: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
