/**
 * An in-process QMP server for what a real QEMU cannot do on demand: replies split at
 * chosen byte boundaries, oversize lines, stalled greetings, garbage. It talks to the
 * client through a Duplex pair, so every chunk the server pushes reaches the client as
 * one 'data' event (no coalescing by a kernel socket).
 */
import type { Duplex } from 'node:stream';
import { duplexPair } from './duplex.js';

export interface ReceivedCommand {
  execute?: string;
  'exec-oob'?: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
  raw: string;
}

export type CommandHandler = (cmd: ReceivedCommand, server: FakeQmpServer) => void;

export const GREETING = {
  QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'fake' }, capabilities: ['oob'] },
};

export class FakeQmpServer {
  readonly clientSide: Duplex;
  readonly received: ReceivedCommand[] = [];
  private buffered = '';
  handler: CommandHandler;

  constructor(options: { greet?: boolean; capabilities?: string[]; handler?: CommandHandler } = {}) {
    const { clientSide, serverSide } = duplexPair();
    this.clientSide = clientSide;
    this.handler = options.handler ?? answerEverything;
    serverSide.on('data', (chunk: Buffer) => this.onData(chunk.toString('utf8')));
    if (options.greet !== false) {
      const greeting = structuredClone(GREETING);
      if (options.capabilities) greeting.QMP.capabilities = options.capabilities;
      this.sendLine(greeting);
    }
  }

  /** Sends raw bytes to the client as one chunk. */
  sendRaw(bytes: string | Buffer): void {
    this.clientSide.push(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  }

  sendLine(message: unknown): void {
    this.sendRaw(`${JSON.stringify(message)}\r\n`);
  }

  reply(cmd: ReceivedCommand, value: unknown = {}): void {
    this.sendLine({ return: value, id: cmd.id });
  }

  event(name: string, data?: unknown): void {
    this.sendLine({
      event: name,
      ...(data === undefined ? {} : { data }),
      timestamp: { seconds: 1, microseconds: 2 },
    });
  }

  /** Ends the connection the way a dying QEMU does. */
  hangUp(): void {
    this.clientSide.push(null);
    this.clientSide.destroy();
  }

  /** Commands received whose id has not been answered by `reply`: counted by the test. */
  commands(name?: string): ReceivedCommand[] {
    return this.received.filter((c) => !name || (c.execute ?? c['exec-oob']) === name);
  }

  private onData(text: string): void {
    this.buffered += text;
    for (;;) {
      const nl = this.buffered.indexOf('\n');
      if (nl === -1) return;
      const raw = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const cmd = { ...(JSON.parse(raw) as Omit<ReceivedCommand, 'raw'>), raw };
      this.received.push(cmd);
      if (cmd.execute === 'qmp_capabilities') this.reply(cmd);
      else this.handler(cmd, this);
    }
  }
}

/** Default handler: every command succeeds with `{}`. */
export const answerEverything: CommandHandler = (cmd, server) => server.reply(cmd);

/** Handler that answers nothing; the test replies by hand. */
export const answerNothing: CommandHandler = () => {};

export const tick = () => new Promise((r) => setImmediate(r));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
