/**
 * nova's versioned notifications on RabbitMQ, as hints. nova (oslo.messaging, driver
 * `messagingv2`) publishes to the topic exchange `nova` with routing key
 * `versioned_notifications.<priority>`; each message is the envelope
 * `{"oslo.version": "2.0", "oslo.message": "<json>"}` around
 * `{message_id, publisher_id, event_type, priority, payload, timestamp}`, the payload a
 * nova object (`InstanceCreatePayload`, ...). The adapter binds its own queue to the
 * exchange (it never steals messages from the shared `versioned_notifications.info`
 * queue other consumers read), turns instance events of managed VMs into `vm-changed`
 * and forced-down compute services into `host-down`, and after every (re)connection says
 * `resync`: whatever happened while it was away is found by polling.
 */
import amqp from 'amqplib';
import { z } from 'zod';
import type { IaasHint } from '../adapter.js';
import { OpenStackError } from './errors.js';
import { isManaged } from './metadata.js';
import { parseAt } from './parse.js';

/** Where nova's notifications are (nova.conf `[oslo_messaging_notifications]`, `[notifications]`). */
export interface NotificationSource {
  /** The transport URL's broker, `amqp://user:pass@host:5672/vhost`. */
  url: string;
  /** nova's `control_exchange` (default `nova`). */
  exchange?: string;
  /** `[notifications] versioned_notifications_topics` (default `versioned_notifications`). */
  topic?: string;
  /** oslo's `amqp_durable_queues` (default false): must match how nova declared the exchange. */
  durable?: boolean;
  /** A named durable queue (survives our restarts); default a private queue that goes with us. */
  queue?: string;
}

const Wire = z.object({ 'oslo.version': z.string(), 'oslo.message': z.string() });

export const OsloNotification = z.object({
  message_id: z.string(),
  publisher_id: z.string(),
  event_type: z.string().min(1),
  priority: z.string(),
  timestamp: z.string(),
  payload: z.unknown(),
});
export type OsloNotification = z.infer<typeof OsloNotification>;

const NovaObject = <T extends z.ZodType>(data: T) =>
  z.object({
    'nova_object.name': z.string(),
    'nova_object.namespace': z.string().optional(),
    'nova_object.version': z.string().optional(),
    'nova_object.data': data,
  });

const InstanceData = z.object({
  uuid: z.string().min(1),
  host: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).default({}),
});

const ServiceData = z.object({
  host: z.string(),
  binary: z.string(),
  forced_down: z.boolean().optional(),
  disabled: z.boolean().optional(),
});

/** The notification in an AMQP message body (the messagingv2 envelope, or a bare v1 message). */
export function parseOsloMessage(body: Buffer | string): OsloNotification {
  let outer: unknown;
  try {
    outer = JSON.parse(String(body));
  } catch {
    throw new OpenStackError('bad-response', 'notification: not JSON', { field: 'notification' });
  }
  const wire = Wire.safeParse(outer);
  let inner: unknown = outer;
  if (wire.success) {
    try {
      inner = JSON.parse(wire.data['oslo.message']);
    } catch {
      throw new OpenStackError('bad-response', 'notification.oslo.message: not JSON', {
        field: 'notification.oslo.message',
      });
    }
  }
  return parseAt(OsloNotification, inner, 'notification');
}

/**
 * The hint a notification gives, or undefined: `instance.*` of a VM whose metadata says
 * FT (or said it: the status keys) → vm-changed; `service.update` of a nova-compute that
 * is forced down → host-down (the nova host name; the adapter maps it).
 */
export function hintOf(n: OsloNotification): IaasHint | undefined {
  if (n.event_type.startsWith('instance.')) {
    const p = parseAt(NovaObject(InstanceData), n.payload, `notification(${n.event_type}).payload`);
    const data = p['nova_object.data'];
    return isManaged(data.metadata) ? { kind: 'vm-changed', iaasId: data.uuid } : undefined;
  }
  if (n.event_type === 'service.update') {
    const p = parseAt(NovaObject(ServiceData), n.payload, 'notification(service.update).payload');
    const data = p['nova_object.data'];
    return data.binary === 'nova-compute' && data.forced_down
      ? { kind: 'host-down', host: data.host }
      : undefined;
  }
  return undefined;
}

/** Options of {@link notificationHints}. */
export interface NotificationHintOptions {
  /** A bad message (acknowledged and dropped) or a lost connection: for the log. */
  onWarning?: (message: string, field?: string) => void;
  /** Reconnect backoff bounds (default 500 ms .. 15 s). */
  backoffMs?: { min: number; max: number };
  /** Connection deadline (default 10 s). */
  connectTimeoutMs?: number;
}

/**
 * The hints nova's notifications give, until `signal` aborts; reconnects with backoff and
 * says `resync` after each connection (the first included).
 */
export async function* notificationHints(
  source: NotificationSource,
  signal: AbortSignal,
  options: NotificationHintOptions = {},
): AsyncGenerator<IaasHint> {
  const exchange = source.exchange ?? 'nova';
  const topic = source.topic ?? 'versioned_notifications';
  const backoff = options.backoffMs ?? { min: 500, max: 15_000 };
  const warn = options.onWarning ?? (() => {});
  let delay = backoff.min;
  while (!signal.aborted) {
    const queue: IaasHint[] = [];
    let wake: (() => void) | undefined;
    let lost: string | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    let conn: amqp.ChannelModel | undefined;
    const onAbort = () => notify();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      conn = await amqp.connect(source.url, { timeout: options.connectTimeoutMs ?? 10_000 });
      conn.on('error', (err: Error) => {
        lost = err.message;
      });
      conn.on('close', () => {
        lost ??= 'connection closed';
        notify();
      });
      const ch = await conn.createChannel();
      ch.on('error', (err: Error) => {
        lost = err.message;
      });
      ch.on('close', () => {
        lost ??= 'channel closed';
        notify();
      });
      await ch.assertExchange(exchange, 'topic', { durable: source.durable ?? false, autoDelete: false });
      const q = source.queue
        ? await ch.assertQueue(source.queue, { durable: true })
        : await ch.assertQueue('', { exclusive: true, autoDelete: true });
      for (const priority of ['info', 'error', 'warn'])
        await ch.bindQueue(q.queue, exchange, `${topic}.${priority}`);
      await ch.consume(q.queue, (msg) => {
        if (!msg) {
          lost ??= 'consumer cancelled by the broker';
          notify();
          return;
        }
        try {
          const hint = hintOf(parseOsloMessage(msg.content));
          if (hint) queue.push(hint);
        } catch (err) {
          warn(`dropped a notification: ${(err as Error).message}`, (err as OpenStackError).field);
        }
        ch.ack(msg);
        notify();
      });
      delay = backoff.min;
      yield { kind: 'resync' };
      while (!signal.aborted && lost === undefined) {
        while (queue.length > 0) {
          yield queue.shift()!;
          if (signal.aborted) break;
        }
        if (signal.aborted || lost !== undefined) break;
        await new Promise<void>((r) => {
          wake = r;
          if (queue.length > 0 || lost !== undefined || signal.aborted) r();
        });
      }
      // Deliver what arrived before the loss; it is still a valid hint.
      while (!signal.aborted && queue.length > 0) yield queue.shift()!;
      if (lost !== undefined && !signal.aborted) warn(`notifications: ${lost}; reconnecting`);
    } catch (err) {
      if (!signal.aborted)
        warn(`notifications: cannot consume from ${redact(source.url)}: ${(err as Error).message}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      await conn?.close().catch(() => {});
    }
    if (signal.aborted) return;
    await sleep(delay, signal);
    delay = Math.min(delay * 2, backoff.max);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}
