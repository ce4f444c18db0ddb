/**
 * An in-process stand-in for QEMU's readline monitor, for what a real QEMU cannot do on
 * demand: output that pauses in the middle, writes cut at chosen bytes. It behaves as
 * QEMU 7.2 does where it matters (util/readline.c, monitor/hmp.c):
 *
 * - every typed byte is handled one at a time: a printable byte is inserted and the line
 *   redrawn (ESC[D back over what was drawn, the line, ESC[K); DEL and BS delete; ESC and
 *   0x9B (CSI) start an escape sequence whose bytes are swallowed, and `ESC [ A` / CSI A
 *   recalls the previous line, as QEMU's history does; other C0 bytes are dropped;
 *   CR or LF runs the line (echoed as CRLF);
 * - one command at a time: while a command's output is being written the monitor reads
 *   nothing, and the prompt comes last, after all of it;
 * - each write is pushed as its own chunk (no socket merges or splits them).
 */
import type { Duplex } from 'node:stream';
import { duplexPair } from './duplex.js';

export const BANNER = "QEMU 7.2.22 monitor - type 'help' for more information";

/** One piece of a command's output: bytes to write, or a pause. */
export type OutputStep = string | Buffer | { pauseMs: number };

export interface FakeReadlineOptions {
  /** The output of a line, as steps; the prompt is added after the last. Default: nothing. */
  answer?: (line: string) => OutputStep[];
  /** Cut every output write into chunks at these offsets (mod its length). */
  cuts?: number[];
}

export class FakeReadlineMonitor {
  readonly clientSide: Duplex;
  /** Lines run, in order (what QEMU executed, history recalls included). */
  readonly executed: string[] = [];
  private readonly serverSide: Duplex;
  private buf: Buffer = Buffer.alloc(0);
  private drawn = 0;
  private esc: 'none' | 'esc' | 'csi' = 'none';
  private history: Buffer | undefined;
  private busy = false;
  private readonly input: number[] = [];

  constructor(private readonly options: FakeReadlineOptions = {}) {
    const { clientSide, serverSide } = duplexPair();
    this.clientSide = clientSide;
    this.serverSide = serverSide;
    serverSide.on('data', (chunk: Buffer) => {
      this.input.push(...chunk);
      void this.drain();
    });
    this.write(`${BANNER}\r\n(qemu) `);
  }

  hangUp(): void {
    this.clientSide.push(null);
    this.clientSide.destroy();
  }

  private write(data: string | Buffer): void {
    if (this.serverSide.destroyed) return;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const points = [...new Set((this.options.cuts ?? []).map((c) => c % (bytes.length + 1)))].sort(
      (a, b) => a - b,
    );
    let prev = 0;
    for (const p of [...points, bytes.length]) {
      if (p > prev) this.serverSide.write(bytes.subarray(prev, p));
      prev = p;
    }
  }

  private redraw(): void {
    this.write(Buffer.concat([Buffer.from('\x1b[D'.repeat(this.drawn)), this.buf, Buffer.from('\x1b[K')]));
    this.drawn = this.buf.length;
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    while (this.input.length > 0) {
      const byte = this.input.shift()!;
      const line = this.handle(byte);
      if (line === undefined) continue;
      this.busy = true;
      await this.run(line);
      this.busy = false;
    }
  }

  /** One typed byte; returns a line to run when Enter (or a history recall and Enter) completes it. */
  private handle(byte: number): string | undefined {
    if (this.esc === 'esc') {
      this.esc = byte === 0x5b ? 'csi' : 'none';
      return undefined;
    }
    if (this.esc === 'csi') {
      this.esc = 'none';
      if (byte === 0x41 && this.history) {
        // Up: recall the previous line, as readline_up_char does.
        this.buf = Buffer.from(this.history);
        this.redraw();
      }
      return undefined;
    }
    if (byte === 0x0a || byte === 0x0d) {
      const line = this.buf;
      this.buf = Buffer.alloc(0);
      this.drawn = 0;
      this.write('\r\n');
      if (line.length > 0) this.history = line;
      return line.toString('utf8');
    }
    if (byte === 0x1b) this.esc = 'esc';
    else if (byte === 0x9b) this.esc = 'csi';
    else if (byte === 0x7f || byte === 0x08) {
      if (this.buf.length > 0) {
        this.buf = this.buf.subarray(0, -1);
        this.redraw();
      }
    } else if (byte >= 0x20) {
      this.buf = Buffer.concat([this.buf, Buffer.from([byte])]);
      this.redraw();
    }
    return undefined;
  }

  private async run(line: string): Promise<void> {
    this.executed.push(line);
    for (const step of this.options.answer?.(line) ?? []) {
      if (typeof step === 'object' && !Buffer.isBuffer(step))
        await new Promise((r) => setTimeout(r, step.pauseMs));
      else this.write(step);
    }
    this.write('(qemu) ');
  }
}
