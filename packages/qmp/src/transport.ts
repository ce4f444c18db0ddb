import { createConnection, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { withDeadline } from './deadline.js';
import { QmpAbortError, QmpConnectError, QmpTimeoutError } from './errors.js';

/**
 * Where a monitor is: a Unix socket path, a TCP address, or a stream the caller already
 * opened (an SSH channel, a socketpair, a test double). `name` labels a given socket in
 * errors and traces.
 */
export type MonitorEndpoint =
  | { path: string }
  | { host: string; port: number }
  | { socket: Duplex; name?: string };

/** An endpoint as people read it: its path, `host:port`, or the stream's name. */
export function describeEndpoint(endpoint: MonitorEndpoint): string {
  if ('socket' in endpoint) return endpoint.name ?? 'the given socket';
  if ('path' in endpoint) return `unix:${endpoint.path}`;
  return `tcp:${endpoint.host}:${endpoint.port}`;
}

export interface OpenTransportOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** Opens the byte stream to a monitor; rejects with a typed error naming the endpoint. */
export function openTransport(endpoint: MonitorEndpoint, options: OpenTransportOptions): Promise<Duplex> {
  if ('socket' in endpoint) return Promise.resolve(endpoint.socket);
  const name = describeEndpoint(endpoint);
  if (!('path' in endpoint)) {
    const { port } = endpoint;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return Promise.reject(new QmpConnectError(name, new RangeError(`port must be 1-65535, got ${port}`)));
    }
  }
  let socket: Socket | undefined;
  return withDeadline<Duplex>(
    {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      timeoutError: () =>
        new QmpTimeoutError(
          'connect',
          options.timeoutMs,
          name,
          `connecting to ${name} took longer than ${options.timeoutMs} ms`,
        ),
      abortError: (reason) => new QmpAbortError(`connecting to ${name}`, reason),
      onGiveUp: () => socket?.destroy(),
    },
    (settler) => {
      const s =
        'path' in endpoint
          ? createConnection({ path: endpoint.path })
          : createConnection({ host: endpoint.host, port: endpoint.port, noDelay: true });
      socket = s;
      const onError = (err: Error) => {
        s.destroy();
        settler.reject(new QmpConnectError(name, err));
      };
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError);
        settler.resolve(s);
      });
    },
  );
}

export interface MonitorSocketHandlers {
  /** Bytes received; a throw ends the connection (see `failed`). */
  data(chunk: Buffer): void;
  /** `data` threw: the stream can no longer be trusted. */
  failed(error: unknown): void;
  /** The socket is gone; `cause` is its last error, or EOF. */
  closed(cause: Error): void;
}

/**
 * Wires a monitor socket the same way for QMP and HMP. EOF is the end: QEMU never
 * half-closes a monitor. Resolves when the socket has closed.
 */
export function wireMonitorSocket(socket: Duplex, handlers: MonitorSocketHandlers): Promise<void> {
  let lastError: Error | undefined;
  socket.on('data', (chunk: Buffer) => {
    try {
      handlers.data(chunk);
    } catch (err) {
      handlers.failed(err);
    }
  });
  socket.on('error', (err) => {
    lastError = err;
  });
  socket.on('end', () => socket.destroy());
  return new Promise((resolve) =>
    socket.once('close', () => {
      handlers.closed(lastError ?? new Error('QEMU closed the monitor connection'));
      resolve();
    }),
  );
}

/** Ends a monitor socket politely (QEMU closes its side in turn), destroying it after 1 s. */
export async function closeSocket(socket: Duplex, closed: Promise<void>): Promise<void> {
  socket.end();
  const timer = setTimeout(() => socket.destroy(), 1000);
  await closed;
  clearTimeout(timer);
}
