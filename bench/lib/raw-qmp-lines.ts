import { createConnection, type Socket } from 'node:net';
import { BenchFailure } from './guard.js';

const LF = 0x0a;

/**
 * The least a client can do to read QMP as objects: lines split on LF (a line over
 * several chunks joined once), each JSON.parse'd; events go to `onEvent`, anything else
 * answers the one waiting `send()`. The floor for the suites that parse what they read
 * (qmp-events, hmp-large). If the socket closes, the waiting call fails at once.
 */
export class RawQmpLines {
  private pending: Buffer[] = [];
  private waiter: { resolve(msg: Record<string, unknown>): void; reject(error: Error): void } | undefined;
  private closed: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    name: string,
    private readonly onEvent: (event: Record<string, unknown>) => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = new BenchFailure(`${name}: the peer closed the socket`);
      this.waiter?.reject(this.closed);
    });
  }

  /** Connects, reads the greeting and negotiates (with oob when asked). */
  static async connect(
    path: string,
    name: string,
    options: { oob: boolean; onEvent?: (event: Record<string, unknown>) => void },
  ): Promise<RawQmpLines> {
    const lines = new RawQmpLines(createConnection({ path }), name, options.onEvent ?? (() => {}));
    await lines.send(undefined);
    await lines.send(
      options.oob
        ? '{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}\n'
        : '{"execute":"qmp_capabilities"}\n',
    );
    return lines;
  }

  /** Writes `line` (nothing when undefined) and resolves with the next message that is not an event. */
  send(line: string | undefined): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      this.waiter = { resolve, reject };
      if (line) this.socket.write(line);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      let text: string;
      if (this.pending.length === 0) text = chunk.toString('utf8', start, end);
      else {
        this.pending.push(chunk.subarray(start, end));
        text = Buffer.concat(this.pending).toString('utf8');
        this.pending = [];
      }
      start = end + 1;
      const msg = JSON.parse(text) as Record<string, unknown>;
      if ('event' in msg) this.onEvent(msg);
      else {
        const waiter = this.waiter;
        this.waiter = undefined;
        waiter?.resolve(msg);
      }
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }
}
