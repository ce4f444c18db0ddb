/**
 * The receiving end of ZStack's canonical-event webhooks: a small HTTP server that takes
 * the management node's POSTs (`{path, content, managementNodeId}`) on a path with a
 * random secret in it. ZStack signs nothing, so a delivery is only ever a hint: the
 * adapter re-reads the VM with its own session before anything changes.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FtServiceError } from '../../errors.js';
import type { ZStackCanonicalEvent } from './shapes.js';

/** Where the receiver listens and how the management node reaches it. */
export interface WebhookReceiverOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** The URL the management node posts to, without the secret path (default: the listening address). */
  publicUrl?: string;
}

const MAX_BODY = 1024 * 1024;

export class WebhookReceiver {
  private readonly secret = randomBytes(16).toString('hex');
  private readonly listeners = new Set<(e: ZStackCanonicalEvent) => void>();
  private server: Server | undefined;
  private base = '';

  constructor(private readonly options: WebhookReceiverOptions = {}) {}

  /** The URL to give ZStack's CreateWebhook (with the secret path). */
  get url(): string {
    if (!this.server) throw new FtServiceError('FTS_INTERNAL', 'the webhook receiver is not listening');
    return `${this.base}/cuju-ft/zstack/${this.secret}`;
  }

  async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      void this.handle(req).then(
        (status) => res.writeHead(status).end(),
        () => res.writeHead(400).end(),
      );
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.base = (
      this.options.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    ).replace(/\/+$/, '');
    this.server = server;
  }

  /** Called with every well-formed delivery. */
  onEvent(listener: (e: ZStackCanonicalEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<number> {
    if (req.method !== 'POST') return 405;
    if (req.url !== `/cuju-ft/zstack/${this.secret}`) return 404;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) return 413;
      chunks.push(c as Buffer);
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (!isCanonicalEvent(body)) return 400;
    for (const l of this.listeners) l(body);
    return 200;
  }
}

function isCanonicalEvent(v: unknown): v is ZStackCanonicalEvent {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.path === 'string' && typeof o.content === 'object' && o.content !== null;
}
