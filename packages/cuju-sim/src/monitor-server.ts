import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { MonitorSpec } from './config.js';

/**
 * A listening monitor chardev as QEMU runs it: one client at a time. A second client's
 * connection is accepted by the kernel but gets no greeting until the first leaves
 * (QEMU does not accept() while a client is attached), so it waits in silence.
 */
export abstract class MonitorServer {
  private server: Server | undefined;
  private active: Socket | undefined;
  private readonly waiting: Socket[] = [];

  /**
   * @param stallGreeting the client is attached but never hears a word (-sim-stall-greeting,
   *   and a block server's chardevs, which have no monitor behind them).
   * @param onAttach called as a client is attached, before it is greeted (Cuju crashes
   *   there while FT runs, issue #13).
   */
  constructor(
    readonly spec: MonitorSpec,
    private readonly stallGreeting: boolean,
    private readonly onAttach: () => void = () => {},
  ) {}

  /** Binds and listens; rejects with the OS error (the caller reports it QEMU-style). */
  listen(): Promise<void> {
    const { listen } = this.spec;
    // QEMU unlinks a stale socket file before binding a Unix chardev.
    if (listen.kind === 'unix') rmSync(listen.path, { force: true });
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.arrive(socket));
      server.once('error', reject);
      const ready = () => {
        server.off('error', reject);
        resolve();
      };
      if (listen.kind === 'unix') server.listen(listen.path, ready);
      else server.listen(listen.port, listen.host, ready);
      this.server = server;
    });
  }

  /** A description for messages: `unix:PATH` or `tcp:HOST:PORT`. */
  get where(): string {
    const { listen } = this.spec;
    return listen.kind === 'unix' ? `unix:${listen.path}` : `tcp:${listen.host}:${listen.port}`;
  }

  private arrive(socket: Socket): void {
    socket.on('error', () => {});
    socket.once('close', () => this.leave(socket));
    if (this.active) {
      this.waiting.push(socket);
      return;
    }
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    this.active = socket;
    this.onAttach();
    if (this.stallGreeting) return;
    this.onConnect(socket);
  }

  private leave(socket: Socket): void {
    const queued = this.waiting.indexOf(socket);
    if (queued !== -1) this.waiting.splice(queued, 1);
    if (this.active !== socket) return;
    this.active = undefined;
    this.onDisconnect(socket);
    const next = this.waiting.shift();
    if (next) this.attach(next);
  }

  /** The attached client, if any. */
  protected get client(): Socket | undefined {
    return this.active;
  }

  protected abstract onConnect(socket: Socket): void;
  protected abstract onDisconnect(socket: Socket): void;

  /** Stops listening, drops every client and removes a Unix socket file. */
  close(): void {
    this.server?.close();
    for (const s of [this.active, ...this.waiting]) s?.destroy();
    if (this.spec.listen.kind === 'unix') rmSync(this.spec.listen.path, { force: true });
  }
}
