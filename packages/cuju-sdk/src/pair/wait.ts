/**
 * Waits that always end: each has a deadline and honours an AbortSignal at once (the
 * listener rejects synchronously on `abort`), and leaves no timer or listener behind.
 */
import { FtPairError } from '../errors.js';

/** The error an aborted wait rejects with: CUJU_FT_PAIR_ABORTED carrying the signal's reason. */
export function abortedError(what: string, signal: AbortSignal): FtPairError {
  const reason = signal.reason as unknown;
  const stopped = reason instanceof FtPairError && reason.code === 'CUJU_FT_PAIR_STOPPED';
  return stopped
    ? new FtPairError('STOPPED', `${what}: down() was called`, undefined, reason)
    : new FtPairError('ABORTED', `${what} was aborted`, 'aborted', reason);
}

/**
 * Settles as `work` does, unless `signal` aborts first (rejects at once with
 * abortedError) or `timeoutMs` passes (rejects with `onTimeout()`).
 */
export function bounded<T>(
  work: Promise<T>,
  options: { what: string; signal?: AbortSignal | undefined; timeoutMs?: number; onTimeout?: () => Error },
): Promise<T> {
  const { signal, timeoutMs, what } = options;
  if (signal?.aborted) {
    work.catch(() => {});
    return Promise.reject(abortedError(what, signal));
  }
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      work.catch(() => {});
      reject(abortedError(what, signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        done();
        work.catch(() => {});
        reject(
          options.onTimeout?.() ??
            new FtPairError('TIMEOUT', `${what} did not finish within ${timeoutMs} ms`),
        );
      }, timeoutMs);
    }
    work.then(
      (value) => {
        done();
        resolve(value);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}

/** Resolves after `ms`, or rejects at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal, what = 'a wait'): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortedError(what, signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(what, signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An AbortSignal that aborts when any of `signals` does (undefined ones are skipped). */
export function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length === 1 ? present[0]! : AbortSignal.any(present);
}
