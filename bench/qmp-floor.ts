import { createConnection, type Socket } from 'node:net';

const LF = 0x0a;

export interface RawQmpFloorOptions {
  /** Negotiate `oob`, which lets QEMU queue up to 8 in-band commands. Default true. */
  oob?: boolean;
  /** Builds the `query-status` command line for a given id; lets a suite vary the bytes sent. */
  commandLine?: (id: number) => string;
}

const withId = (id: number): string => `{"execute":"query-status","id":${id}}\n`;

/**
 * The raw-socket floor: the least a Node client can do per QMP command. It writes
 * hand-built command lines and counts newline-terminated replies without parsing them,
 * so its numbers are QEMU plus the Node socket layer and nothing else.
 *
 * Counting lines as replies is only sound because `-M none -S` emits no events (no
 * guest runs, nothing changes state); `unexpectedLines` lets the suite check that.
 */
export class RawQmpFloor {
  /** Lines that arrived with nobody waiting for them; should stay 0. */
  unexpectedLines = 0;
  private onLine: (() => void) | undefined;
  private nextId = 1;

  private constructor(
    private readonly socket: Socket,
    private readonly commandLine: (id: number) => string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
        if (this.onLine) this.onLine();
        else this.unexpectedLines++;
      }
    });
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(path: string, options: RawQmpFloorOptions = {}): Promise<RawQmpFloor> {
    const socket = createConnection({ path });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const floor = new RawQmpFloor(socket, options.commandLine ?? withId);
    await floor.send('');
    await floor.send(
      options.oob === false
        ? '{"execute":"qmp_capabilities"}\n'
        : '{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}\n',
    );
    return floor;
  }

  /** One `query-status` round trip. */
  queryStatus(): Promise<void> {
    return this.send(this.commandLine(this.nextId++));
  }

  /**
   * Runs `n` `query-status` commands keeping `window` in flight, one write per reply,
   * and resolves when all are answered.
   */
  pipeline(n: number, window: number): Promise<void> {
    return new Promise((resolve) => {
      let sent = 0;
      let received = 0;
      const sendOne = () => {
        sent++;
        this.socket.write(this.commandLine(this.nextId++));
      };
      this.onLine = () => {
        received++;
        if (received === n) {
          this.onLine = undefined;
          resolve();
        } else if (sent < n) {
          sendOne();
        }
      };
      while (sent < Math.min(window, n)) sendOne();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }

  /** Writes `line` (nothing when empty) and resolves at the next line from QEMU. */
  private send(line: string): Promise<void> {
    return new Promise((resolve) => {
      this.onLine = () => {
        this.onLine = undefined;
        resolve();
      };
      if (line) this.socket.write(line);
    });
  }
}
