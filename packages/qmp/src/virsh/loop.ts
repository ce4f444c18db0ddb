import type { ChildProcess } from 'node:child_process';
import { describeValue, isRecord } from '../check.js';
import { QmpArgumentError } from '../errors.js';
import { checkVirshTarget, spawnVirsh, type VirshTarget } from './run.js';

/** How a long-lived virsh is restarted after it exits: exponential, from `minMs` to `maxMs`. */
export interface VirshBackoff {
  /** The first restart's delay. Default 200 ms. */
  minMs?: number;
  /** The longest delay. Default 10 000 ms. */
  maxMs?: number;
}

/** Why a loop's virsh ended, for the `onExit` hook. */
export interface VirshLoopExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines virsh wrote to stderr (the libvirt error, when there is one). */
  stderr: string;
  /** How long until the next start. */
  restartInMs: number;
  /** Starts so far, this one included. */
  starts: number;
}

/** What VirshLoop runs and where its lines go. */
export interface VirshLoopOptions {
  target: VirshTarget;
  /** The virsh command and its arguments, e.g. `['event', '--all', '--loop']`. */
  args: readonly string[];
  /** Every complete line virsh writes on stdout, without its line end. */
  onLine(line: string): void;
  /** virsh ended (daemon restarted, connection lost, domain gone); it is restarted after `restartInMs`. */
  onExit?(exit: VirshLoopExit): void;
  /** virsh (re)started. */
  onStart?(starts: number): void;
  backoff?: VirshBackoff;
}

/** A line longer than this is not an event: it is cut there (virsh events are short). */
const MAX_LINE_BYTES = 1024 * 1024;
/** A virsh that ran this long was healthy: the next restart starts from the shortest delay again. */
const HEALTHY_RUN_MS = 30_000;

function checkDelay(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new QmpArgumentError(
      field,
      `must be a non-negative number of milliseconds, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * A long-lived `virsh ... --loop` child (`event --all --loop`, `qemu-monitor-event --loop`),
 * read line by line and restarted with exponential backoff whenever it ends: libvirtd
 * restarts, the connection drops, the domain goes away. Events while no virsh runs are
 * lost, which is why whatever listens to a loop treats events as hints and re-reads
 * state after `onStart`. `stop()` kills the child and resolves once it is gone.
 */
export class VirshLoop {
  private readonly target: Required<VirshTarget>;
  private readonly minMs: number;
  private readonly maxMs: number;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started = false;
  private failures = 0;
  private starts = 0;

  constructor(private readonly options: VirshLoopOptions) {
    if (!isRecord(options)) {
      throw new QmpArgumentError('options', `must be an object, got ${describeValue(options)}`);
    }
    this.target = checkVirshTarget(options.target, 'options.target');
    if (
      !Array.isArray(options.args) ||
      !options.args.every((a) => typeof a === 'string' && !a.includes('\0'))
    ) {
      throw new QmpArgumentError('options.args', 'must be an array of strings without NUL characters');
    }
    if (typeof options.onLine !== 'function') {
      throw new QmpArgumentError(
        'options.onLine',
        `must be a function, got ${describeValue(options.onLine)}`,
      );
    }
    const backoff = options.backoff ?? {};
    this.minMs = checkDelay(backoff.minMs, 'options.backoff.minMs', 200);
    this.maxMs = Math.max(this.minMs, checkDelay(backoff.maxMs, 'options.backoff.maxMs', 10_000));
  }

  /** Starts virsh sooner than its next restart would (idempotent while it runs). */
  start(): void {
    if (this.stopped || this.started) return;
    this.started = true;
    this.spawn();
  }

  /** How many times virsh has been started. */
  get startCount(): number {
    return this.starts;
  }

  /** The running virsh's pid (undefined between runs). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while a virsh child is alive. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Stops for good: no restart, the child is killed; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (child) {
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 1000);
      await this.exited;
      clearTimeout(force);
    }
  }

  private spawn(): void {
    if (this.stopped) return;
    const child = spawnVirsh(this.target, this.options.args);
    this.child = child;
    this.starts++;
    const bornAt = performance.now();
    let partial = '';
    const errTail: string[] = [];
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      partial += chunk;
      let nl = partial.indexOf('\n');
      while (nl !== -1) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.length > 0) this.deliver(line);
        nl = partial.indexOf('\n');
      }
      if (partial.length > MAX_LINE_BYTES) {
        this.deliver(partial.slice(0, MAX_LINE_BYTES));
        partial = '';
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      errTail.push(chunk);
      if (errTail.length > 8) errTail.shift();
    });
    let done = false;
    this.exited = new Promise((resolve) => {
      const ended = (exitCode: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        this.child = undefined;
        resolve();
        if (this.stopped) return;
        if (performance.now() - bornAt >= HEALTHY_RUN_MS) this.failures = 0;
        const restartInMs = Math.min(this.maxMs, this.minMs * 2 ** this.failures);
        this.failures++;
        this.timer = setTimeout(() => this.spawn(), restartInMs);
        try {
          this.options.onExit?.({
            exitCode,
            signal,
            stderr: errTail.join('').trim(),
            restartInMs,
            starts: this.starts,
          });
        } catch {
          // A throwing hook must not stop the restarts.
        }
      };
      child.once('close', ended);
      child.once('error', () => ended(null, null));
    });
    try {
      this.options.onStart?.(this.starts);
    } catch {
      // As above: the loop keeps running whatever a hook does.
    }
  }

  private deliver(line: string): void {
    try {
      this.options.onLine(line);
    } catch {
      // A line handler's bug must not end the loop; handlers report their own errors.
    }
  }
}
