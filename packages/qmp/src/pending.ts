/**
 * A command waiting for its answer, as both clients keep it: its own settler, its own
 * abort listener (`handleEvent`, so a signal costs no closure), and a deadline it only
 * records; the connection's one DeadlineTimer sweeps.
 *
 *   QUEUED ──write──▶ SENT ──answer──▶ DONE
 *      └──deadline/abort──▶ ABANDONED ◀──┘ (a sent one stays a tombstone until its answer)
 */
export const QUEUED = 0;
export const SENT = 1;
export const DONE = 2;
export const ABANDONED = 3;

/** What an operation needs of its client: one object per client, not a closure per operation. */
export interface PendingOwner<P> {
  /** The deadline passed or the signal fired. */
  giveUp(op: P, error: Error): void;
  /** The error for an aborted operation. */
  abortError(op: P): Error;
}

export abstract class PendingOp<T> {
  status = QUEUED;
  resolve!: (value: T) => void;
  reject!: (error: Error) => void;

  constructor(
    readonly owner: PendingOwner<PendingOp<T>>,
    readonly timeoutMs: number,
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
  ) {}

  /** Waiting (queued or sent) and not given up. */
  get live(): boolean {
    return this.status === QUEUED || this.status === SENT;
  }

  /** Settles with `value` (or `error`) and lets go of the signal. */
  finish(error: Error | undefined, value?: T): void {
    this.status = DONE;
    this.signal?.removeEventListener('abort', this);
    if (error) this.reject(error);
    else this.resolve(value as T);
  }

  /** Marks it given up: a queued one is never written, a sent one leaves a tombstone. */
  abandon(error: Error): void {
    this.status = ABANDONED;
    this.signal?.removeEventListener('abort', this);
    this.reject(error);
  }

  handleEvent(): void {
    this.owner.giveUp(this, this.owner.abortError(this));
  }
}

/**
 * Gives up every live operation whose deadline has passed (`expire` makes its error) and
 * returns the earliest deadline left (Infinity for none).
 */
export function sweepDeadlines<P extends { readonly live: boolean; readonly deadline: number }>(
  ops: Iterable<P | undefined>,
  now: number,
  expire: (op: P) => void,
): number {
  let next = Number.POSITIVE_INFINITY;
  for (const op of ops) {
    if (!op?.live) continue;
    if (op.deadline <= now) expire(op);
    else if (op.deadline < next) next = op.deadline;
  }
  return next;
}
