/**
 * Live updates for server-sent events: every committed status, history event and step
 * progress, fanned out to the connected clients. A slow client does not hold the others:
 * its writes are buffered by its socket, and it is dropped past a bound.
 */
import type { ServerResponse } from 'node:http';

export type LiveEventName = 'status' | 'event' | 'step' | 'leader';

const MAX_BUFFERED = 1 << 20;

export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(keepaliveMs = 15_000) {
    this.keepalive = setInterval(() => this.comment('keepalive'), keepaliveMs);
    this.keepalive.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  add(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  publish(name: LiveEventName, data: unknown): void {
    const frame = `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED) {
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  }

  private comment(text: string): void {
    for (const res of this.clients) res.write(`: ${text}\n\n`);
  }

  /** Ends every stream (graceful shutdown: clients reconnect to another instance). */
  closeAll(): void {
    clearInterval(this.keepalive);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
