import { createConnection, type Socket } from 'node:net';

const PROMPT = Buffer.from('(qemu) ');

/**
 * The raw-socket floor for QEMU's readline monitor: the least a Node client can do per
 * HMP command. It writes `info status\n` and waits until the received bytes end with the
 * prompt, without separating the echo from the output or keeping either, so its numbers
 * are QEMU plus the Node socket layer and nothing else.
 *
 * Watching only the end of the stream is sound because QEMU's echo of the typed line
 * never redraws the prompt, and an idle `-M none -S` prints nothing on its own.
 */
export class RawHmpFloor {
  /** The last bytes received, enough to hold a prompt that arrived split over chunks. */
  private tail: Buffer = Buffer.alloc(0);
  private onPrompt: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.tail =
        chunk.length >= PROMPT.length ? chunk : Buffer.concat([this.tail, chunk]).subarray(-PROMPT.length);
      if (this.onPrompt && this.endsWithPrompt()) {
        const done = this.onPrompt;
        this.onPrompt = undefined;
        done();
      }
    });
  }

  /** Connects and waits for the banner's prompt. */
  static async connect(path: string): Promise<RawHmpFloor> {
    const socket = createConnection({ path });
    const floor = new RawHmpFloor(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      floor.onPrompt = () => {
        socket.off('error', reject);
        resolve();
      };
    });
    return floor;
  }

  /** One `info status` round trip: resolves at the next prompt. */
  infoStatus(): Promise<void> {
    return new Promise((resolve) => {
      this.onPrompt = resolve;
      this.socket.write('info status\n');
    });
  }

  /** Ends the connection and waits for QEMU to close its side, so its listener is free again. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  private endsWithPrompt(): boolean {
    const t = this.tail;
    return t.length >= PROMPT.length && t.subarray(t.length - PROMPT.length).equals(PROMPT);
  }
}
