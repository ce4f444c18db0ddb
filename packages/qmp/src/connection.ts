import type { Duplex } from 'node:stream';
import { type Settler, withDeadline } from './deadline.js';
import {
  type MonitorProtocol,
  QmpAbortError,
  QmpBusyError,
  QmpDisconnectedError,
  QmpProtocolError,
} from './errors.js';
import { describeEndpoint, type MonitorEndpoint, openTransport } from './transport.js';

/**
 * The run state of a monitor connection, after qemu.qmp's Runstate:
 *
 * - `connecting`: the socket is open and the greeting (QMP) or banner (HMP) is awaited;
 *   `connect()` has not resolved yet, so only its caller's listeners can see it;
 * - `running`: commands may be sent;
 * - `disconnecting`: `close()` was called; pending calls have been rejected and the
 *   socket is being shut down;
 * - `idle`: the connection is over (closed by the client or the peer, or set-up failed).
 *   A client does not reconnect; connect again for a new one.
 */
export type RunState = 'connecting' | 'running' | 'disconnecting' | 'idle';

/** Which state may follow which: the state machine as data. */
export const RUN_STATE_TRANSITIONS: Readonly<Record<RunState, readonly RunState[]>> = {
  connecting: ['running', 'idle'],
  running: ['disconnecting', 'idle'],
  disconnecting: ['idle'],
  idle: [],
};

/** How a connection ended. */
export type DisconnectError = QmpDisconnectedError | QmpProtocolError;

export interface ConnectionHooks {
  /** Bytes received; a throw ends the connection with that error (as a QmpProtocolError). */
  data(chunk: Buffer): void;
  /** The connection is over: reject everything pending with `error`. */
  ended(error: DisconnectError): void;
  /**
   * The client, which the core tells `state` (state, previous) after every change and
   * `disconnect` (error) once the connection is over.
   */
  emitter: { emit(event: 'state' | 'disconnect', ...args: unknown[]): boolean };
}

/**
 * The connection core QmpClient and HmpClient share: the socket, its wiring, the run
 * state, the wait for the peer's first words, and one way to end (whoever ends it, every
 * pending call and stream ends with the same typed error in the same tick).
 */
export class MonitorConnection<Hello> {
  private current: RunState = 'connecting';
  /** The error pending calls ended with (set when they end, before the socket is gone). */
  private endedWith: DisconnectError | undefined;
  /** The socket is gone and the state is idle. */
  private finished = false;
  private byClient = false;
  private helloWaiter: Settler<Hello> | undefined;
  private readonly closed: Promise<void>;

  constructor(
    readonly socket: Duplex,
    readonly endpoint: string,
    readonly protocol: MonitorProtocol,
    private readonly hooks: ConnectionHooks,
  ) {
    let lastError: Error | undefined;
    socket.on('data', (chunk: Buffer) => {
      if (this.endedWith) return;
      try {
        hooks.data(chunk);
      } catch (err) {
        this.shutdown(
          err instanceof QmpProtocolError
            ? err
            : new QmpProtocolError(`${endpoint}: ${err instanceof Error ? err.message : String(err)}`, {
                cause: err,
              }),
        );
      }
    });
    socket.on('error', (err) => {
      lastError = err;
    });
    // EOF is the end: QEMU never half-closes a monitor.
    socket.on('end', () => socket.destroy());
    this.closed = new Promise((resolve) => {
      const onClose = () => {
        this.shutdown(lastError ?? new Error(`QEMU closed the ${protocol} monitor connection`));
        resolve();
      };
      socket.once('close', onClose);
      // A stream handed over already closed never emits 'close' again.
      if (socket.destroyed) process.nextTick(onClose);
    });
  }

  get state(): RunState {
    return this.current;
  }

  /** How the connection ended, once it has. */
  get error(): DisconnectError | undefined {
    return this.endedWith;
  }

  /** The error for a call made while not running. */
  refusal(what: string): QmpDisconnectedError {
    return new QmpDisconnectedError(
      this.endpoint,
      this.current === 'connecting'
        ? `cannot ${what}: still connecting`
        : `cannot ${what}: the connection is closed`,
      this.endedWith,
    );
  }

  /**
   * Waits for the peer's first words (QMP greeting, HMP banner); past the deadline the
   * monitor is taken to be busy with another client (QmpBusyError).
   */
  awaitHello(timeoutMs: number, signal: AbortSignal | undefined): Promise<Hello> {
    return withDeadline<Hello>(
      {
        timeoutMs,
        signal,
        timeoutError: () => new QmpBusyError(this.endpoint, timeoutMs, this.protocol),
        abortError: (reason) => new QmpAbortError(`connecting to ${this.endpoint}`, reason),
      },
      (settler) => {
        if (this.endedWith) settler.reject(this.endedWith);
        else this.helloWaiter = settler;
      },
    ).finally(() => {
      this.helloWaiter = undefined;
    });
  }

  /** True while the greeting or banner is awaited. */
  get awaitingHello(): boolean {
    return this.helloWaiter !== undefined;
  }

  hello(value: Hello): void {
    this.helloWaiter?.resolve(value);
  }

  /** Set-up done: commands may flow. */
  ready(): void {
    this.move('running');
  }

  /** Ends the connection: everything pending ends with the same error, then the socket goes. */
  shutdown(cause: Error): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.endedWith) {
      this.endPending(
        cause instanceof QmpProtocolError
          ? cause
          : new QmpDisconnectedError(this.endpoint, `the monitor connection ended (${cause.message})`, cause),
      );
    }
    this.socket.destroy();
    this.move('idle');
  }

  /** True when the connection ended because the client closed it. */
  get closedByClient(): boolean {
    return this.byClient;
  }

  /** Closes politely (QEMU closes its side in turn), destroying the socket after 1 s. */
  async close(): Promise<void> {
    if (!this.finished && !this.byClient) {
      this.byClient = true;
      this.move('disconnecting');
      // Pending calls end now, not when the socket is gone.
      if (!this.endedWith) {
        this.endPending(new QmpDisconnectedError(this.endpoint, 'the client closed the connection'));
      }
      this.socket.end();
    }
    const timer = setTimeout(() => this.socket.destroy(), 1000);
    await this.closed;
    clearTimeout(timer);
  }

  private endPending(error: DisconnectError): void {
    this.endedWith = error;
    this.helloWaiter?.reject(error);
    this.hooks.ended(error);
  }

  private move(next: RunState): void {
    const previous = this.current;
    if (!RUN_STATE_TRANSITIONS[previous].includes(next)) return;
    this.current = next;
    const { emitter } = this.hooks;
    isolate(() => emitter.emit('state', next, previous));
    const error = this.endedWith;
    if (next === 'idle' && error) isolate(() => emitter.emit('disconnect', error));
  }
}

export interface OpenOptions {
  connectTimeoutMs: number;
  signal: AbortSignal | undefined;
  protocol: MonitorProtocol;
}

/** Opens the transport; returns the stream and the endpoint as errors show it. */
export async function openMonitor(
  endpoint: MonitorEndpoint,
  options: OpenOptions,
): Promise<{ socket: Duplex; name: string }> {
  const socket = await openTransport(endpoint, {
    timeoutMs: options.connectTimeoutMs,
    signal: options.signal,
    protocol: options.protocol,
  });
  return { socket, name: describeEndpoint(endpoint) };
}

/**
 * Runs user code (event listeners, the trace hook) so that a throw cannot corrupt the
 * connection's state: the error is rethrown on its own tick, as Node does for a throwing
 * listener outside any caller's stack.
 */
export function isolate(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}
