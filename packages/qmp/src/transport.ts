import { createConnection, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { describeValue, isRecord } from './check.js';
import { withDeadline } from './deadline.js';
import {
  type MonitorProtocol,
  ms,
  QmpAbortError,
  QmpArgumentError,
  QmpConnectError,
  QmpTimeoutError,
} from './errors.js';

/**
 * Where a monitor is: a Unix socket path, a TCP address, or a stream the caller already
 * opened (an SSH channel, a socketpair, a test double). `name` labels a given socket in
 * errors and traces.
 */
export type MonitorEndpoint =
  | { path: string }
  | { host: string; port: number }
  | { socket: Duplex; name?: string };

/** sun_path holds 108 bytes including the terminating NUL. */
export const MAX_UNIX_PATH_BYTES = 107;

/**
 * Checks a Unix socket path before any connect: the kernel reads a path up to its first
 * NUL and Node cuts one longer than sun_path, so either would reach another socket than
 * the one named. `field` names the option in the error.
 */
export function checkSocketPath(path: unknown, field: string): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new QmpArgumentError(
      field,
      `must be a non-empty string (a Unix socket path), got ${describeValue(path)}`,
    );
  }
  const nul = path.indexOf('\0');
  if (nul !== -1) {
    throw new QmpArgumentError(
      field,
      `contains a NUL character at index ${nul}; the kernel would read the path only up to it and connect to another socket`,
    );
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw new QmpArgumentError(
      field,
      `is ${bytes} bytes long; a Unix socket address holds at most ${MAX_UNIX_PATH_BYTES}, so the kernel would see another path (use a shorter path or a symlink to its directory)`,
    );
  }
  return path;
}

function isDuplex(value: unknown): value is Duplex {
  const d = value as Duplex;
  return (
    isRecord(value) &&
    typeof d.write === 'function' &&
    typeof d.on === 'function' &&
    typeof d.once === 'function' &&
    typeof d.end === 'function' &&
    typeof d.destroy === 'function'
  );
}

/** Reads exactly one endpoint out of connect options, or throws QmpArgumentError naming the field. */
export function checkEndpoint(options: Record<string, unknown>): MonitorEndpoint {
  const given = ['path', 'host', 'socket'].filter((k) => options[k] !== undefined);
  if (given.length !== 1) {
    throw new QmpArgumentError(
      'options',
      given.length === 0
        ? 'must name a monitor: path (Unix socket), host and port (TCP), or socket (an open stream)'
        : `must name one monitor, got ${given.join(' and ')}`,
    );
  }
  if (options.path !== undefined) return { path: checkSocketPath(options.path, 'path') };
  if (options.socket !== undefined) {
    if (!isDuplex(options.socket)) {
      throw new QmpArgumentError('socket', `must be a duplex stream, got ${describeValue(options.socket)}`);
    }
    if (options.name !== undefined && typeof options.name !== 'string') {
      throw new QmpArgumentError('name', `must be a string, got ${describeValue(options.name)}`);
    }
    return options.name === undefined
      ? { socket: options.socket }
      : { socket: options.socket, name: options.name as string };
  }
  const { host, port } = options;
  if (typeof host !== 'string' || host.length === 0) {
    throw new QmpArgumentError('host', `must be a non-empty string, got ${describeValue(host)}`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new QmpArgumentError('port', `must be an integer from 1 to 65535, got ${describeValue(port)}`);
  }
  return { host, port };
}

export function describeEndpoint(endpoint: MonitorEndpoint): string {
  if ('socket' in endpoint) return endpoint.name ?? 'the given socket';
  if ('path' in endpoint) return `unix:${endpoint.path}`;
  return `tcp:${endpoint.host}:${endpoint.port}`;
}

export interface OpenTransportOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  protocol: MonitorProtocol;
}

/** Opens the byte stream to a monitor; rejects with a typed error naming the endpoint. */
export function openTransport(endpoint: MonitorEndpoint, options: OpenTransportOptions): Promise<Duplex> {
  if ('socket' in endpoint) return Promise.resolve(endpoint.socket);
  const name = describeEndpoint(endpoint);
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
          `connecting to ${options.protocol} monitor ${name} took longer than ${ms(options.timeoutMs)}`,
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
        settler.reject(new QmpConnectError(name, err, options.protocol));
      };
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError);
        settler.resolve(s);
      });
    },
  );
}
