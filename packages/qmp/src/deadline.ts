/** Settles a pending operation once; later calls do nothing. */
export interface Settler<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/** A settler that does nothing: a placeholder until withDeadline hands over the real one (synchronously). */
export function noSettler<T>(): Settler<T> {
  return { resolve: () => {}, reject: () => {} };
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
 * Every wait in this package goes through here: a promise that ends with whichever comes
 * first (settled by `start`'s settler, the deadline, or the signal), and that removes its
 * timer and abort listener the moment it ends, so nothing lingers after an answer.
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
