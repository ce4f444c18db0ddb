/**
 * Frames the byte stream of a QEMU readline monitor (`-mon ...,mode=readline`):
 *
 *   on connect:  QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu)
 *   per command: <echo: the typed bytes, redrawn after every byte with ESC[D runs and ESC[K>\r\n
 *                <output lines, each ending \r\n>(qemu)
 *
 * The framer knows nothing of commands; it reports the banner, then, for each command
 * written, the bytes between the end of the echo and the next prompt. Output is kept as
 * a list of chunks and joined once, so large outputs (info mtree, help) cost one copy.
 *
 * A prompt is only a prompt when nothing follows it: output can contain a line that
 * starts with "(qemu) " (a guest's text read back with ringbuf_read, say), and a read can
 * end right after it. So bytes ending in "\n(qemu) " make a candidate; the owner calls
 * `confirm()` once the socket has been quiet (see `candidate`), and any byte arriving
 * before that withdraws the candidate.
 */
const PROMPT = Buffer.from('(qemu) ');
const CRLF = Buffer.from('\r\n');
const LF = 0x0a;

type Phase = 'banner' | 'idle' | 'echo' | 'output';

export interface ReadlineEvents {
  banner(text: string): void;
  /** The output of the command that was written last (byte-exact, line ends kept). */
  output(text: Buffer): void;
  /** Bytes that arrived while no command was running (QEMU rarely prints on its own). */
  unsolicited(bytes: Buffer): void;
  /** The bytes so far end with a prompt; call confirm() if no more arrive. `lastRead` is the size of the read that ended with it. */
  candidate(lastRead: number): void;
}

export class ReadlineFramer {
  private phase: Phase = 'banner';
  private chunks: Buffer[] = [];
  private bytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  private candidatePending = false;

  constructor(
    private readonly maxOutputBytes: number,
    private readonly on: ReadlineEvents,
  ) {}

  /** True between the banner's prompt and the next command. */
  get idle(): boolean {
    return this.phase === 'idle';
  }

  /** Call right after writing a command line: its echo comes next. */
  commandWritten(): void {
    this.phase = 'echo';
    this.reset();
  }

  /** Feeds received bytes; throws RangeError when one output grows past the limit. */
  push(received: Buffer): void {
    let chunk: Buffer = received;
    this.candidatePending = false;
    if (this.phase === 'idle') {
      this.on.unsolicited(chunk);
      return;
    }
    if (this.phase === 'echo') {
      // The echo holds no CRLF of its own (control characters are never sent), so the
      // first CRLF after writing ends it.
      const joined = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
      const end = joined.indexOf(CRLF);
      if (end === -1) {
        this.tail = joined.subarray(Math.max(0, joined.length - 1));
        return;
      }
      this.phase = 'output';
      this.tail = Buffer.alloc(0);
      chunk = joined.subarray(end + CRLF.length);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes > this.maxOutputBytes + PROMPT.length) {
      this.reset();
      throw new RangeError(`monitor output exceeded ${this.maxOutputBytes} bytes`);
    }
    if (this.endsWithPrompt()) {
      this.candidatePending = true;
      this.on.candidate(received.length);
    }
  }

  /** Completes the banner or the command if its prompt is still the last thing received. */
  confirm(): void {
    if (!this.candidatePending) return;
    this.candidatePending = false;
    this.complete();
  }

  private endsWithPrompt(): boolean {
    if (this.bytes < PROMPT.length) return false;
    const all =
      this.bytes <= 4096 || this.chunks.length === 1 ? this.joined() : this.lastBytes(PROMPT.length + 1);
    const end = all.length;
    if (!all.subarray(end - PROMPT.length).equals(PROMPT)) return false;
    // The prompt starts a line: it is the whole output so far, or follows a line end.
    return this.bytes === PROMPT.length || all[end - PROMPT.length - 1] === LF;
  }

  private complete(): void {
    const all = this.joined();
    const body = all.subarray(0, all.length - PROMPT.length);
    const wasBanner = this.phase === 'banner';
    this.phase = 'idle';
    this.reset();
    if (wasBanner) this.on.banner(body.toString('utf8').replace(/\r?\n$/, ''));
    else this.on.output(body);
  }

  private joined(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.bytes)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private lastBytes(n: number): Buffer {
    const parts: Buffer[] = [];
    let have = 0;
    for (let i = this.chunks.length - 1; i >= 0 && have < n; i--) {
      const c = this.chunks[i]!;
      parts.unshift(c);
      have += c.length;
    }
    const joined = Buffer.concat(parts);
    return joined.subarray(Math.max(0, joined.length - n));
  }

  private reset(): void {
    this.candidatePending = false;
    this.chunks = [];
    this.bytes = 0;
    this.tail = Buffer.alloc(0);
  }
}
