/** Settles a pending operation once; later calls do nothing. */
export interface Settler<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export interface DeadlineOptions {
  /** `Infinity` for no deadline. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  timeoutError(): Error;
  abortError(reason: unknown): Error;
  /** Runs when the deadline or the signal ends the wait, before the promise rejects. */
  onGiveUp?(error: Error): void;
}

/**
 * The waits that are not commands (connecting, the greeting or banner, event waits, a
 * shared schema fetch) go through here: a promise that ends with whichever comes first
 * (settled by `start`'s settler, the deadline, or the signal), and that removes its timer
 * and abort listener the moment it ends, so nothing lingers after an answer. Commands,
 * which are many, share one timer per connection instead (DeadlineTimer).
 */
export function withDeadline<T>(options: DeadlineOptions, start: (settler: Settler<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let stopTimer = () => {};
    const { signal } = options;
    const finish = () => {
      done = true;
      stopTimer();
      signal?.removeEventListener('abort', onAbort);
    };
    const giveUp = (error: Error) => {
      if (done) return;
      finish();
      options.onGiveUp?.(error);
      reject(error);
    };
    const onAbort = () => giveUp(options.abortError(signal?.reason));
    if (signal?.aborted) {
      giveUp(options.abortError(signal.reason));
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    stopTimer = startTimer(options.timeoutMs, () => giveUp(options.timeoutError()));
    try {
      start({
        resolve: (value) => {
          if (done) return;
          finish();
          resolve(value);
        },
        reject: (error) => {
          if (done) return;
          finish();
          reject(error);
        },
      });
    } catch (err) {
      giveUp(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/** Node fires any setTimeout longer than this after 1 ms, so longer deadlines are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` after `ms` (Infinity: never; any length Node cannot time at once: in steps). Returns a cancel function. */
export function startTimer(ms: number, fn: () => void): () => void {
  if (!Number.isFinite(ms)) return () => {};
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(
      () => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()),
      Math.min(left, MAX_TIMER_MS),
    );
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/**
 * One timer for every pending command of a connection. A command only records its
 * deadline (a number); the timer is armed for the earliest one and moved only when a
 * command with an earlier deadline arrives, so with the usual single default deadline it
 * is armed about once per deadline period, not once per command. When it fires, the
 * owner's `sweep(now)` expires what is due and returns the next deadline (Infinity for
 * none). A command answered before its deadline costs the timer nothing.
 */
export class DeadlineTimer {
  private at = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly sweep: (now: number) => number) {}

  /** Makes sure the timer fires no later than `deadline` (a performance.now() time). */
  request(deadline: number): void {
    if (deadline < this.at && !this.stopped) this.arm(deadline);
  }

  /** For good: a closed connection has nothing left to time. */
  stop(): void {
    this.stopped = true;
    this.at = Number.POSITIVE_INFINITY;
    clearTimeout(this.timer);
  }

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.at = deadline;
    if (!Number.isFinite(deadline)) return;
    const delay = Math.min(Math.max(0, deadline - performance.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.fire(), Math.ceil(delay));
  }

  private fire(): void {
    this.at = Number.POSITIVE_INFINITY;
    this.timer = undefined;
    const next = this.sweep(performance.now());
    // The sweep may have requested an earlier time itself (through request()).
    if (!this.stopped && next < this.at) this.arm(next);
  }
}
