import { checkCount, checkFunction, checkSignal, describeValue, optionsObject } from './check.js';
import { withDeadline } from './deadline.js';
import { ms, QmpAbortError, QmpArgumentError, QmpEventOverflowError, QmpTimeoutError } from './errors.js';
import { Ring } from './ring.js';

/** QEMU's wall-clock timestamp of an event. */
export interface QmpTimestamp {
  seconds: number;
  microseconds: number;
}

/**
 * An event as QEMU sent it, plus `seq`: a client-assigned number that grows by one per
 * event on this connection. Use it as a cursor (gaps show dropped events); QEMU's
 * timestamp is wall-clock and may be -1/-1.
 */
export interface QmpEvent<Name extends string = string, Data = unknown> {
  event: Name;
  data: Data;
  timestamp: QmpTimestamp;
  seq: number;
}

/** Which events a subscription keeps. */
export type EventMatcher = (event: QmpEvent) => boolean;

/** What a subscriber does when its buffer is full: */
export type OverflowPolicy =
  /** discard the oldest buffered event (default); `dropped` counts them and `seq` shows the gap */
  | 'drop-oldest'
  /** discard the incoming event */
  | 'drop-newest'
  /** end the subscription with QmpEventOverflowError once the buffered events are read */
  | 'error';

/** How a subscription lost events when its buffer was full. */
export interface OverflowInfo {
  policy: OverflowPolicy;
  /** Total events this subscriber has lost so far. */
  dropped: number;
  capacity: number;
}

interface Subscriber {
  deliver(event: QmpEvent): void;
  end(error: Error): void;
}

/** Fans events out to subscribers; keeps a short history so a wait can look back by seq. */
export class EventHub {
  private seq = 0;
  /** An array, not a Set: delivery is the hot path, and a copy-on-write array iterates fastest. */
  private subscribers: Subscriber[] = [];
  private readonly history: Ring<QmpEvent>;
  private endedWith: Error | undefined;

  constructor(historySize: number) {
    this.history = new Ring(Math.max(1, historySize));
  }

  /** The seq of the newest event received so far (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Numbers the event and hands it to every subscriber. The object is the one parsed
   * off the wire, given its `seq` in place: no copy per event.
   */
  publish(event: QmpEvent): QmpEvent {
    event.seq = ++this.seq;
    this.history.push(event);
    const subscribers = this.subscribers;
    for (let i = 0; i < subscribers.length; i++) {
      const sub = subscribers[i]!;
      // A subscriber's filter is user code: if it throws, that subscriber ends with the
      // error; the connection and the other subscribers carry on.
      try {
        sub.deliver(event);
      } catch (err) {
        this.detach(sub);
        sub.end(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return event;
  }

  /** Ends every subscriber with `error`; later subscribers end at once. */
  end(error: Error): void {
    if (this.endedWith) return;
    this.endedWith = error;
    const subscribers = this.subscribers;
    this.subscribers = [];
    for (const sub of subscribers) sub.end(error);
  }

  stream(match: EventMatcher, options: EventStreamOptions = {}): EventStream {
    return new EventStream(this, match, options);
  }

  /**
   * Resolves with the first matching event. With `afterSeq`, events already received
   * whose seq is greater count too, which closes the window between an earlier
   * command and this call.
   */
  waitFor(match: EventMatcher, options: WaitOptions & { subject: string }): Promise<QmpEvent> {
    return this.arm(match, options).promise;
  }

  /**
   * Like waitFor, plus `cancel()`, which ends the wait without a signal of the caller's
   * (the promise then rejects, and that rejection is already handled).
   */
  arm(match: EventMatcher, options: WaitOptions & { subject: string }): ArmedWait {
    if (options.afterSeq !== undefined) {
      for (const past of this.history) {
        if (past.seq > options.afterSeq && match(past))
          return { promise: Promise.resolve(past), cancel: () => {} };
      }
    }
    const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
    let sub: Subscriber | undefined;
    let cancel = () => {};
    const promise = withDeadline<QmpEvent>(
      {
        timeoutMs,
        signal: options.signal,
        timeoutError: () =>
          new QmpTimeoutError(
            'event',
            timeoutMs,
            options.subject,
            `no ${options.subject} event within ${ms(timeoutMs)}`,
          ),
        abortError: (reason) => new QmpAbortError(`waiting for ${options.subject}`, reason),
        onGiveUp: () => {
          if (sub) this.detach(sub);
        },
      },
      (settler) => {
        const waiter: Subscriber = {
          deliver: (event) => {
            if (!match(event)) return;
            this.detach(waiter);
            settler.resolve(event);
          },
          end: (error) => settler.reject(error),
        };
        sub = waiter;
        cancel = () => {
          this.detach(waiter);
          settler.reject(new QmpAbortError(`waiting for ${options.subject}`, 'cancelled'));
        };
        this.attach(waiter);
      },
    );
    promise.catch(() => {});
    return { promise, cancel: () => cancel() };
  }

  /** @internal Returns false (and ends the subscriber) when the hub has already ended. */
  attach(sub: Subscriber): boolean {
    if (this.endedWith) {
      sub.end(this.endedWith);
      return false;
    }
    this.subscribers = [...this.subscribers, sub];
    return true;
  }

  /** @internal */
  detach(sub: Subscriber): void {
    const i = this.subscribers.indexOf(sub);
    if (i !== -1) this.subscribers = this.subscribers.filter((s) => s !== sub);
  }
}

export interface ArmedWait {
  promise: Promise<QmpEvent>;
  cancel(): void;
}

export interface WaitOptions {
  /** Give up after this long (QmpTimeoutError, phase 'event'). Default: no deadline of its own. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Also accept events already received with a seq greater than this. */
  afterSeq?: number;
}

/** Buffering of an event subscription: its capacity and what to do when it is full. */
export interface EventStreamOptions {
  /** Buffered events at most before the overflow policy applies. Default 1000. */
  bufferSize?: number;
  overflow?: OverflowPolicy;
  /** Called on every lost event (drop policies) or once (error policy). */
  onOverflow?: (info: OverflowInfo) => void;
  /** Ends the stream quietly when aborted. */
  signal?: AbortSignal;
}

/**
 * A bounded, async-iterable subscription. It ends quietly when the caller breaks out of
 * `for await`, calls `close()` or aborts its signal, and ends with the connection's
 * error (QmpDisconnectedError) when the monitor goes away, after the buffered events.
 */
export class EventStream implements AsyncIterableIterator<QmpEvent> {
  private readonly buffer: Ring<QmpEvent>;
  private readonly policy: OverflowPolicy;
  /** Callers of next() waiting for an event, oldest first (several may wait at once). */
  private readonly waiting: Array<{
    resolve: (r: IteratorResult<QmpEvent>) => void;
    reject: (e: Error) => void;
  }> = [];
  private endError: Error | undefined;
  private ended = false;
  private lost = 0;
  private readonly sub: Subscriber;
  private readonly onAbort = () => this.close();

  /** @internal Streams come from `QmpClient.events()`. */
  constructor(
    private readonly hub: EventHub,
    private readonly match: EventMatcher,
    private readonly options: EventStreamOptions,
  ) {
    const capacity = options.bufferSize ?? 1000;
    this.buffer = new Ring(capacity);
    this.policy = options.overflow ?? 'drop-oldest';
    this.sub = { deliver: (e) => this.deliver(e), end: (err) => this.finish(err) };
    if (options.signal?.aborted) {
      this.ended = true;
      return;
    }
    if (hub.attach(this.sub)) options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Events this subscriber has lost to its overflow policy. */
  get dropped(): number {
    return this.lost;
  }

  /** Events buffered and not yet read. */
  get pending(): number {
    return this.buffer.length;
  }

  /** The next event, waiting for it; done once the stream has ended. */
  next(): Promise<IteratorResult<QmpEvent>> {
    const event = this.buffer.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.endError) return Promise.reject(this.endError);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
    });
  }

  /** Ends the subscription (also called when a `for await` loop is left). */
  return(): Promise<IteratorResult<QmpEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The stream itself: use it with `for await`. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops the subscription and drops what is buffered; pending `next()` calls resolve as done. */
  close(): void {
    while (this.buffer.shift()) {}
    if (this.ended) return;
    this.ended = true;
    this.unhook();
    for (const w of this.waiting.splice(0)) w.resolve({ value: undefined, done: true });
  }

  private deliver(event: QmpEvent): void {
    if (this.ended || !this.match(event)) return;
    const waiting = this.waiting.shift();
    if (waiting) {
      waiting.resolve({ value: event, done: false });
      return;
    }
    if (!this.buffer.full) {
      this.buffer.push(event);
      return;
    }
    this.lost++;
    const info: OverflowInfo = { policy: this.policy, dropped: this.lost, capacity: this.buffer.capacity };
    if (this.policy === 'drop-oldest') this.buffer.push(event);
    else if (this.policy === 'error') this.finish(new QmpEventOverflowError(this.buffer.capacity));
    this.options.onOverflow?.(info);
  }

  private finish(error: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = error;
    this.unhook();
    for (const w of this.waiting.splice(0)) w.reject(error);
  }

  private unhook(): void {
    this.hub.detach(this.sub);
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }
}

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['drop-oldest', 'drop-newest', 'error'];

export function checkEventNames(value: unknown, field: string): readonly string[] {
  if (typeof value === 'string' && value.length > 0) return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((n) => typeof n === 'string' && n.length > 0)) {
    return value as string[];
  }
  throw new QmpArgumentError(
    field,
    `must be an event name or a non-empty array of event names, got ${describeValue(value)}`,
  );
}

/** Checks the options of an events() call: which events, and the stream's buffer, policy and signal. */
export function checkEventsOptions(options: unknown): { match: EventMatcher; stream: EventStreamOptions } {
  const opts = optionsObject(options, 'options');
  const names = opts.names === undefined ? undefined : checkEventNames(opts.names, 'options.names');
  const filter = checkFunction<EventMatcher>(opts.filter, 'options.filter');
  const bufferSize = checkCount(opts.bufferSize, 'options.bufferSize');
  const overflow = opts.overflow;
  if (overflow !== undefined && !OVERFLOW_POLICIES.includes(overflow as OverflowPolicy)) {
    throw new QmpArgumentError(
      'options.overflow',
      `must be one of ${OVERFLOW_POLICIES.join(', ')}, got ${describeValue(overflow)}`,
    );
  }
  const onOverflow = checkFunction<NonNullable<EventStreamOptions['onOverflow']>>(
    opts.onOverflow,
    'options.onOverflow',
  );
  const signal = checkSignal(opts.signal, 'options.signal');
  const match: EventMatcher =
    names || filter ? (e) => (!names || names.includes(e.event)) && (!filter || filter(e)) : () => true;
  return {
    match,
    stream: {
      ...(bufferSize !== undefined ? { bufferSize } : {}),
      ...(overflow !== undefined ? { overflow: overflow as OverflowPolicy } : {}),
      ...(onOverflow ? { onOverflow } : {}),
      ...(signal ? { signal } : {}),
    },
  };
}
