import { QmpProtocolError } from './errors.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines (LF or CRLF) and decodes each once. A line inside one
 * chunk is decoded straight from the chunk; only a line that spans chunks is kept as a
 * list of Buffers and joined once, when its end arrives, so a multi-megabyte reply costs
 * one copy, not a quadratic series of them.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    /** A non-empty line, without its line end; `bytes` is its size on the wire. */
    private readonly onLine: (text: string, bytes: number) => void,
  ) {}

  /** Feeds a chunk; throws QmpProtocolError when a line grows past the limit. */
  push(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      let text: string;
      let bytes: number;
      if (this.pendingBytes === 0) {
        bytes = end - start;
        if (bytes > this.maxLineBytes) this.tooLong();
        const stop = end > start && chunk[end - 1] === CR ? end - 1 : end;
        text = stop > start ? chunk.toString('utf8', start, stop) : '';
      } else {
        this.pending.push(chunk.subarray(start, end));
        bytes = this.pendingBytes + end - start;
        if (bytes > this.maxLineBytes) this.tooLong();
        const line = Buffer.concat(this.pending, bytes);
        this.pending = [];
        this.pendingBytes = 0;
        const stop = bytes > 0 && line[bytes - 1] === CR ? bytes - 1 : bytes;
        text = line.toString('utf8', 0, stop);
      }
      start = end + 1;
      if (text.length > 0) this.onLine(text, bytes);
    }
    if (start < chunk.length) {
      const rest = start === 0 ? chunk : chunk.subarray(start);
      this.pendingBytes += rest.length;
      if (this.pendingBytes > this.maxLineBytes) this.tooLong();
      this.pending.push(rest);
    }
  }

  private tooLong(): never {
    this.pending = [];
    this.pendingBytes = 0;
    throw new QmpProtocolError(
      `a monitor message exceeded the limit of ${this.maxLineBytes} bytes (set maxMessageBytes to allow larger ones)`,
    );
  }
}
