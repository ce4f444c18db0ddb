import { createConnection, type Socket } from 'node:net';
import { BenchFailure } from './lib/guard.js';

const PROMPT = Buffer.from('(qemu) ');
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The raw-socket floor for QEMU's readline monitor: the least a Node client can do per
 * HMP command. It writes `<command>\n` and waits until the received bytes end with the
 * prompt, without separating the echo from the output or keeping either, so its numbers
 * are QEMU plus the Node socket layer and nothing else.
 *
 * Watching only the end of the stream is sound because QEMU's echo of the typed line
 * never redraws the prompt, an idle `-M none -S` prints nothing on its own, and the
 * outputs measured hold no line that starts with `(qemu) `.
 *
 * If the socket closes, the waiting call fails at once with a BenchFailure.
 */
export class RawHmpFloor {
  /** The last bytes received, enough to hold a prompt that arrived split over chunks. */
  private tail: Buffer = Buffer.alloc(0);
  /** Bytes received since the command was written. */
  received = 0;
  private waiter: { resolve(): void; reject(error: Error): void } | undefined;
  private closed: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly name: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.tail =
        chunk.length >= PROMPT.length ? chunk : Buffer.concat([this.tail, chunk]).subarray(-PROMPT.length);
      if (this.waiter && this.endsWithPrompt()) {
        const done = this.waiter;
        this.waiter = undefined;
        done.resolve();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = new BenchFailure(`${this.name}: QEMU closed the HMP socket`);
      this.waiter?.reject(this.closed);
      this.waiter = undefined;
    });
  }

  /** Connects and waits for the banner's prompt. */
  static async connect(path: string, name = 'raw HMP floor'): Promise<RawHmpFloor> {
    const socket = createConnection({ path });
    const floor = new RawHmpFloor(socket, name);
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new BenchFailure(`${name}: no banner from ${path} within ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS,
      );
      socket.once('error', (err) =>
        reject(new BenchFailure(`${name}: cannot connect to ${path}: ${err.message}`)),
      );
      floor.waiter = { resolve, reject };
    }).finally(() => clearTimeout(timer));
    return floor;
  }

  /** One `info status` round trip: resolves at the next prompt. */
  infoStatus(): Promise<void> {
    return this.run('info status');
  }

  /** One command: resolves at the next prompt. */
  run(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      this.received = 0;
      this.waiter = { resolve, reject };
      this.socket.write(`${line}\n`);
    });
  }

  /** Ends the connection and waits for QEMU to close its side, so its listener is free again. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  private endsWithPrompt(): boolean {
    const t = this.tail;
    return t.length >= PROMPT.length && t.subarray(t.length - PROMPT.length).equals(PROMPT);
  }
}
