/**
 * Nothing in a benchmark may hang. Every piece of measured work runs under a deadline
 * and is watched against the death of the process it talks to (QEMU, a flood server):
 * whichever comes first ends the suite with a message that says which contender, which
 * step and why, instead of a run that waits forever on a socket nobody will answer.
 *
 * Guards wrap blocks of calls, never single calls, so they cost nothing measurable.
 */

/** Thrown when a suite cannot produce honest numbers; run.ts prints it and exits 1. */
export class BenchFailure extends Error {
  override name = 'BenchFailure';
}

/** A process a contender depends on. */
export interface Peer {
  /** Shown in messages, e.g. `QEMU pid 1234 (cuju-qmp)`. */
  name: string;
  /** Resolves with the exit code or signal once the process has gone. */
  exited: Promise<string>;
  /** What the process wrote on stderr, for the message. */
  stderr?(): string;
}

function tail(text: string, chars = 400): string {
  const t = text.trim();
  return t.length > chars ? `…${t.slice(-chars)}` : t;
}

/**
 * Settles with `work`, or fails with a BenchFailure when `timeoutMs` passes first or one
 * of `peers` exits first. `what` names the contender and the step.
 */
export function guarded<T>(
  what: string,
  work: Promise<T>,
  options: { timeoutMs: number; peers?: readonly Peer[] },
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BenchFailure(`${what}: no result within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
  });
  const deaths = (options.peers ?? []).map((peer) =>
    peer.exited.then((how): never => {
      const said = peer.stderr ? tail(peer.stderr()) : '';
      throw new BenchFailure(
        `${what}: ${peer.name} exited (${how}) in the middle of the measurement${said ? `; its stderr: ${said}` : ''}`,
      );
    }),
  );
  // A peer that dies after the work is done is the teardown's business, not an error.
  for (const death of deaths) death.catch(() => {});
  return Promise.race([work, deadline, ...deaths])
    .catch((err: unknown) => explain(err, deaths))
    .finally(() => clearTimeout(timer));
}

/**
 * A floor fails the moment its socket closes, which is usually a moment before the
 * peer's exit is seen: wait up to a second for that exit, and say it.
 */
async function explain(err: unknown, deaths: Promise<never>[]): Promise<never> {
  if (!(err instanceof BenchFailure) || deaths.length === 0 || /exited \(/.test(err.message)) throw err;
  const grace = new Promise<'none'>((resolve) => setTimeout(() => resolve('none'), 1000).unref());
  const exit = await Promise.race([Promise.race(deaths).catch((e: unknown) => e), grace]);
  if (exit instanceof BenchFailure) throw new BenchFailure(`${err.message}; then ${exit.message}`);
  throw err;
}
