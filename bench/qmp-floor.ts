import { createConnection, type Socket } from 'node:net';
import { BenchFailure } from './lib/guard.js';

const LF = 0x0a;
const CONNECT_TIMEOUT_MS = 10_000;

/** QEMU queues at most 8 in-band commands with oob (QMP_REQ_QUEUE_LEN_MAX). */
export const OOB_WINDOW = 8;

export interface RawQmpFloorOptions {
  /** Negotiate `oob`, which lets QEMU queue up to 8 in-band commands. Default true. */
  oob?: boolean;
  /** Builds the `query-status` command line for a given id; lets a suite vary the bytes sent. */
  commandLine?: (id: number) => string;
  /** Names the floor in failure messages. */
  name?: string;
}

/**
 * The shortest sound request: ids cycle through the in-flight window, so they are one
 * digit, as short as a client that reuses ids of answered calls can make them.
 */
const withShortId = (id: number): string => `{"execute":"query-status","id":${id % OOB_WINDOW}}\n`;

/**
 * The raw-socket floor: the least a Node client can do per QMP command. It writes
 * hand-built command lines and counts newline-terminated replies without parsing them,
 * so its numbers are QEMU plus the Node socket layer and nothing else.
 *
 * Counting lines as replies is only sound because `-M none -S` emits no events (no
 * guest runs, nothing changes state); `unexpectedLines` lets the suite check that.
 * QEMU answers in-band commands in order, so concurrent calls are matched first in,
 * first out.
 *
 * If the socket closes, every waiter fails at once with a BenchFailure naming the floor.
 */
export class RawQmpFloor {
  /** Lines that arrived with nobody waiting for them; should stay 0. */
  unexpectedLines = 0;
  /** Resolvers and rejecters of pending calls, first in first out (two arrays: no closure per call). */
  private readonly resolvers: Array<(() => void) | undefined> = [];
  private readonly rejecters: Array<((error: Error) => void) | undefined> = [];
  private head = 0;
  /** Commands waiting for a window slot (concurrent calls only). */
  private backlog = 0;
  private inFlight = 0;
  private nextId = 0;
  private closedWith: Error | undefined;
  /** A running pipeline() batch, which counts lines itself. */
  private batch: { onLine(): void; fail(error: Error): void } | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly commandLine: (id: number) => string,
    private readonly name: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) this.onLine();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closedWith = new BenchFailure(`${this.name}: QEMU closed the QMP socket`);
      const waiting = this.rejecters.slice(this.head);
      this.resolvers.length = 0;
      this.rejecters.length = 0;
      this.head = 0;
      for (const fail of waiting) fail?.(this.closedWith);
      this.batch?.fail(this.closedWith);
    });
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(path: string, options: RawQmpFloorOptions = {}): Promise<RawQmpFloor> {
    const name = options.name ?? 'raw floor';
    const socket = createConnection({ path });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BenchFailure(`${name}: could not connect to ${path} within ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new BenchFailure(`${name}: cannot connect to ${path}: ${err.message}`));
      });
    });
    const floor = new RawQmpFloor(socket, options.commandLine ?? withShortId, name);
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
   * A `query-status` that may be issued while others are pending: written at once while
   * fewer than `window` are in flight, otherwise counted and written as replies free
   * slots. What it keeps per pending call is its resolver and rejecter in a FIFO: the floor of a
   * client's memory per pending call.
   */
  call(window = OOB_WINDOW): Promise<void> {
    if (this.inFlight < window) {
      this.inFlight++;
      return this.send(this.commandLine(this.nextId++));
    }
    this.backlog++;
    return this.send('');
  }

  /**
   * Runs `n` `query-status` commands keeping `window` in flight, one write per reply,
   * and resolves when all are answered: one promise for the whole batch, no object per
   * command.
   */
  pipeline(n: number, window: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closedWith) {
        reject(this.closedWith);
        return;
      }
      let sent = 0;
      let received = 0;
      const batch = { onLine: () => {}, fail: reject };
      batch.onLine = () => {
        received++;
        if (received === n) {
          this.batch = undefined;
          resolve();
        } else if (sent < n) {
          sent++;
          this.socket.write(this.commandLine(this.nextId++));
        }
      };
      this.batch = batch;
      while (sent < Math.min(window, n)) {
        sent++;
        this.socket.write(this.commandLine(this.nextId++));
      }
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve();
        return;
      }
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }

  /** Writes `line` (nothing when empty) and resolves at the next line from QEMU not yet claimed. */
  private send(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closedWith) {
        reject(this.closedWith);
        return;
      }
      this.resolvers.push(resolve);
      this.rejecters.push(reject);
      if (line) this.socket.write(line);
    });
  }

  private onLine(): void {
    if (this.batch) {
      this.batch.onLine();
      return;
    }
    const resolve = this.resolvers[this.head];
    if (!resolve) {
      this.unexpectedLines++;
      return;
    }
    this.resolvers[this.head] = undefined;
    this.rejecters[this.head++] = undefined;
    if (this.head === this.resolvers.length) {
      this.resolvers.length = 0;
      this.rejecters.length = 0;
      this.head = 0;
    }
    if (this.inFlight > 0) this.inFlight--;
    if (this.backlog > 0) {
      this.backlog--;
      this.inFlight++;
      this.socket.write(this.commandLine(this.nextId++));
    }
    resolve();
  }
}
