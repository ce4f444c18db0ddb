import { createConnection, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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
  return new Promise<Duplex>((resolve, reject) => {
    const socket: Socket =
      'path' in endpoint
        ? createConnection({ path: endpoint.path })
        : createConnection({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const settle = (err?: Error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve(socket);
      }
    };
    const onError = (err: Error) => settle(new QmpConnectError(name, err));
    const onConnect = () => settle();
    const onAbort = () => settle(new QmpAbortError(`connecting to ${name}`, options.signal?.reason));
    const timer = setTimeout(
      () =>
        settle(
          new QmpTimeoutError(
            'connect',
            options.timeoutMs,
            name,
            `connecting to ${name} took longer than ${options.timeoutMs} ms`,
          ),
        ),
      options.timeoutMs,
    );
    socket.once('error', onError);
    socket.once('connect', onConnect);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
