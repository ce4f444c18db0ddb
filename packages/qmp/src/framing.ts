import { QmpProtocolError } from './errors.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines (LF or CRLF) without growing a string per chunk:
 * partial lines are kept as a list of Buffers and joined once, when their end arrives,
 * so a multi-megabyte reply costs one copy, not a quadratic series of them.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
  ) {}

  /** Feeds a chunk; throws QmpProtocolError when a line grows past the limit. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(LF, start);
      if (end === -1) break;
      let line: Buffer;
      if (this.pendingBytes === 0) {
        line = chunk.subarray(start, end);
      } else {
        this.pending.push(chunk.subarray(start, end));
        line = Buffer.concat(this.pending, this.pendingBytes + end - start);
        this.pending = [];
        this.pendingBytes = 0;
      }
      this.checkSize(line.length);
      const trimmed = line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, -1) : line;
      if (trimmed.length > 0) this.onLine(trimmed);
      start = end + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pendingBytes += rest.length;
      this.checkSize(this.pendingBytes);
      this.pending.push(rest);
    }
  }

  /** Bytes received after the last line end. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private checkSize(bytes: number): void {
    if (bytes > this.maxLineBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      throw new QmpProtocolError(
        `a monitor message exceeded the limit of ${this.maxLineBytes} bytes (set maxMessageBytes to allow larger ones)`,
      );
    }
  }
}
