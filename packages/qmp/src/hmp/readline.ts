/**
 * Frames the byte stream of a QEMU readline monitor (`-mon ...,mode=readline`):
 *
 *   on connect:  QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu)
 *   per command: <echo: the typed bytes, redrawn after every byte with ESC[D runs and ESC[K>\r\n
 *                <output lines, each ending \r\n>(qemu)
 *
 * QEMU handles one command at a time: it prints the command's output, then the prompt,
 * and only then reads the next typed byte (the monitor is suspended while a command
 * runs). So in the stream every command's echo follows the previous command's prompt,
 * and the echo is known in advance (every byte of a line is inserted as typed; lines with
 * bytes readline would treat otherwise are refused before sending).
 *
 * A prompt is only a prompt when nothing follows it: output can contain a line that
 * starts with "(qemu) " (a guest's text read back with ringbuf_read, say), and a read can
 * end right after it. The framer reports a candidate when the bytes so far end with a
 * prompt; the owner calls `confirm()` once the socket has been quiet for a turn, and any
 * byte arriving before that withdraws the candidate. What `confirm()` does depends on the
 * output:
 *
 * - no line of the output so far starts with "(qemu) ": the candidate is the prompt;
 * - some line does (the prompt is ambiguous): the framer asks the owner to send a probe,
 *   a typed byte and a backspace, which changes nothing in QEMU but is echoed only after
 *   the command's real prompt. The output is everything before the prompt that precedes
 *   the probe's echo: exact, however late or slow the output comes.
 *
 * And whatever happened before, a command's output starts only after its own echo: the
 * framer looks for the prompt followed by the echo of the line written, and bytes before
 * them (the rest of an earlier output that a look-alike cut short) are reported as
 * unsolicited, never taken for this command's output.
 *
 * Outputs are kept as a list of chunks and joined once, so large outputs cost one copy.
 */
const PROMPT = Buffer.from('(qemu) ');
const CRLF = Buffer.from('\r\n');
const LOOK_ALIKE = Buffer.from('\n(qemu) ');
const ESC_LEFT = Buffer.from('\x1b[D');
const ESC_CLEAR = Buffer.from('\x1b[K');

/** The probe: a printable byte, then DEL (backspace). The line stays empty and nothing runs. */
const PROBE = Buffer.from('x\x7f');
/** What QEMU's readline prints for PROBE at an empty prompt: `x`, clear to end; left, clear to end. */
const PROBE_ECHO = Buffer.concat([Buffer.from('x'), ESC_CLEAR, ESC_LEFT, ESC_CLEAR]);

/**
 * Typed bytes whose echo is looked for (the echo grows with the square of the line).
 * Only ASCII ones: a command line starts with its ASCII name, and a simulator that
 * re-encodes what it echoes still matches.
 */
const ECHO_PREFIX_BYTES = 8;

function echoPrefixLength(line: Buffer): number {
  let n = 0;
  while (n < Math.min(ECHO_PREFIX_BYTES, line.length) && line[n]! < 0x80) n++;
  return n;
}

/**
 * The prompt and the start of a line's echo, kept by the line's first characters (all the
 * needle depends on; never a whole line, which may hold a secret): commands repeat, and
 * building a needle takes dozens of small buffers.
 */
const ECHO_NEEDLES = new Map<string, Buffer>();
const MAX_ECHO_NEEDLES = 256;

function echoNeedle(line: string): Buffer {
  const start = line.slice(0, ECHO_PREFIX_BYTES);
  let needle = ECHO_NEEDLES.get(start);
  if (!needle) {
    const typed = Buffer.from(start);
    needle = Buffer.concat([PROMPT, echoOf(typed, echoPrefixLength(typed))]);
    if (ECHO_NEEDLES.size < MAX_ECHO_NEEDLES) ECHO_NEEDLES.set(start, needle);
  }
  return needle;
}

/**
 * The start of QEMU's echo of a typed line: after the k-th byte, readline moves the
 * cursor back over the k-1 bytes drawn before (ESC[D each), redraws the k bytes typed so
 * far and clears to the end of the line (ESC[K) (util/readline.c, readline_update).
 */
function echoOf(line: Buffer, bytes = line.length): Buffer {
  const parts: Buffer[] = [];
  for (let k = 1; k <= Math.min(bytes, line.length); k++) {
    for (let i = 1; i < k; i++) parts.push(ESC_LEFT);
    parts.push(line.subarray(0, k), ESC_CLEAR);
  }
  return Buffer.concat(parts);
}

/** Finds the first occurrence of a needle in a stream fed chunk by chunk. */
class Finder {
  private carry: Buffer;

  /** `context`: the bytes just before the stream, which the needle may start in. */
  constructor(
    private readonly needle: Buffer,
    context: Buffer,
  ) {
    this.carry = Buffer.from(context.subarray(Math.max(0, context.length - (needle.length - 1))));
  }

  /**
   * Returns where the needle starts relative to `chunk` (negative: it started in earlier
   * bytes), or undefined when it has not appeared yet.
   */
  feed(chunk: Buffer): number | undefined {
    const n = this.needle.length;
    if (this.carry.length > 0) {
      const seam = Buffer.concat([this.carry, chunk.subarray(0, n - 1)]);
      const i = seam.indexOf(this.needle);
      if (i !== -1) return i - this.carry.length;
    }
    const i = chunk.indexOf(this.needle);
    if (i !== -1) return i;
    const joined = chunk.length >= n - 1 ? chunk : Buffer.concat([this.carry, chunk]);
    this.carry = Buffer.from(joined.subarray(Math.max(0, joined.length - (n - 1))));
    return undefined;
  }
}

type Phase = 'banner' | 'idle' | 'echo' | 'echo-end' | 'output' | 'probe';

export interface ReadlineEvents {
  banner(text: string): void;
  /** The output of the command that was written last (byte-exact, line ends kept). */
  output(text: Buffer): void;
  /** Bytes outside any command's output: QEMU printing on its own, or the rest of an output cut short. */
  unsolicited(bytes: Buffer): void;
  /** The bytes so far end with a prompt; call confirm() once the socket has been quiet. */
  candidate(): void;
  /** Write these bytes to QEMU (a probe; see above). */
  send(bytes: Buffer): void;
}

export class ReadlineFramer {
  private phase: Phase = 'banner';
  /** Output (or banner) bytes of the current exchange. */
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** The last bytes received, whatever the phase: the context a prompt may start in. */
  private recent: Buffer = Buffer.alloc(0);
  private candidatePending = false;
  private finder: Finder | undefined;
  /** Bytes received in the echo phase before the echo was found. */
  private early: Buffer[] = [];
  private earlyBytes = 0;
  /** Where the first "\n(qemu) " of the output ends (bytes from the output's start), once seen. */
  private firstLookAlikeEnd = -1;
  private lookAlikeFinder: Finder | undefined;
  private echoTail: Buffer = Buffer.alloc(0);

  constructor(
    private readonly maxOutputBytes: number,
    private readonly on: ReadlineEvents,
  ) {}

  /** True between the banner's prompt and the next command. */
  get idle(): boolean {
    return this.phase === 'idle';
  }

  /** Call right after writing `line` (without its newline): its echo comes next. */
  commandWritten(line: string): void {
    this.reset();
    this.phase = 'echo';
    this.finder = new Finder(echoNeedle(line), this.recent);
  }

  /** Feeds received bytes; throws RangeError when one output grows past the limit. */
  push(chunk: Buffer): void {
    this.candidatePending = false;
    this.remember(chunk);
    switch (this.phase) {
      case 'idle':
        this.on.unsolicited(chunk);
        return;
      case 'echo':
        this.pushEcho(chunk);
        return;
      case 'echo-end':
        this.pushEchoEnd(chunk);
        return;
      case 'probe':
        this.pushProbe(chunk);
        return;
      default:
        this.pushOutput(chunk);
    }
  }

  /** The socket has been quiet since the candidate: completes, or probes when the prompt is ambiguous. */
  confirm(): void {
    if (!this.candidatePending) return;
    this.candidatePending = false;
    if (this.phase === 'output' && this.firstLookAlikeEnd !== -1 && this.firstLookAlikeEnd < this.bytes) {
      this.phase = 'probe';
      this.finder = new Finder(Buffer.concat([PROMPT, PROBE_ECHO]), this.lastBytes(PROMPT.length));
      this.on.send(PROBE);
      return;
    }
    this.complete(this.bytes - PROMPT.length);
  }

  private pushEcho(chunk: Buffer): void {
    const at = this.finder!.feed(chunk);
    if (at === undefined) {
      this.keepEarly(chunk);
      return;
    }
    // Bytes before the prompt that precedes the echo belong to an earlier command.
    if (at > 0 || this.earlyBytes + at > 0) {
      const all = Buffer.concat([...this.early, chunk.subarray(0, Math.max(0, at))]);
      const late = all.subarray(0, this.earlyBytes + at);
      if (late.length > 0) this.on.unsolicited(late);
    }
    this.early = [];
    this.earlyBytes = 0;
    this.phase = 'echo-end';
    this.finder = undefined;
    // The echo runs on past the prefix looked for; its end is the first CRLF.
    this.pushEchoEnd(chunk.subarray(Math.max(0, at)));
  }

  private pushEchoEnd(chunk: Buffer): void {
    const joined = this.echoTail.length ? Buffer.concat([this.echoTail, chunk]) : chunk;
    const end = joined.indexOf(CRLF);
    if (end === -1) {
      this.echoTail = Buffer.from(joined.subarray(Math.max(0, joined.length - 1)));
      return;
    }
    this.echoTail = Buffer.alloc(0);
    this.phase = 'output';
    // A line start before the output, so an output that begins with "(qemu) " is seen too.
    this.lookAlikeFinder = new Finder(LOOK_ALIKE, Buffer.from('\n'));
    const rest = joined.subarray(end + CRLF.length);
    if (rest.length > 0) this.pushOutput(rest);
  }

  private pushOutput(chunk: Buffer): void {
    this.append(chunk);
    if (this.phase === 'output' && this.firstLookAlikeEnd === -1) {
      const at = this.lookAlikeFinder!.feed(chunk);
      if (at !== undefined) {
        this.firstLookAlikeEnd = this.bytes - chunk.length + at + LOOK_ALIKE.length;
        this.lookAlikeFinder = undefined;
      }
    }
    if (this.endsWithPrompt()) {
      this.candidatePending = true;
      this.on.candidate();
    }
  }

  private pushProbe(chunk: Buffer): void {
    this.append(chunk);
    const at = this.finder!.feed(chunk);
    if (at === undefined) return;
    const promptStart = this.bytes - chunk.length + at;
    const after = promptStart + PROMPT.length + PROBE_ECHO.length;
    const extra = this.bytes > after ? this.joined().subarray(after) : undefined;
    this.complete(promptStart);
    if (extra && extra.length > 0) this.on.unsolicited(Buffer.from(extra));
  }

  private append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes > this.maxOutputBytes + PROMPT.length) {
      this.reset();
      this.phase = 'idle';
      throw new RangeError(`monitor output exceeded ${this.maxOutputBytes} bytes`);
    }
  }

  private keepEarly(chunk: Buffer): void {
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > this.maxOutputBytes) {
      this.reset();
      this.phase = 'idle';
      throw new RangeError(`more than ${this.maxOutputBytes} bytes arrived before the echo of the command`);
    }
  }

  private endsWithPrompt(): boolean {
    if (this.bytes < PROMPT.length) return false;
    const last = this.lastBytes(PROMPT.length + 1);
    if (!last.subarray(last.length - PROMPT.length).equals(PROMPT)) return false;
    // The prompt starts a line: it is the whole output so far, or follows a line end.
    return this.bytes === PROMPT.length || last[0] === 0x0a;
  }

  /** Hands over the first `end` bytes as the banner or the output; the exchange is over. */
  private complete(end: number): void {
    const body = this.joined().subarray(0, end);
    const wasBanner = this.phase === 'banner';
    this.reset();
    this.phase = 'idle';
    // The monitor sits at its prompt with an empty line (after a probe too, whose echo
    // came after the prompt): the next command's echo follows a prompt.
    this.recent = PROMPT;
    if (wasBanner) this.on.banner(body.toString('utf8').replace(/\r?\n$/, ''));
    else this.on.output(body);
  }

  private remember(chunk: Buffer): void {
    const n = PROMPT.length;
    this.recent =
      chunk.length >= n
        ? Buffer.from(chunk.subarray(chunk.length - n))
        : Buffer.concat([this.recent, chunk]).subarray(-n);
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
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return joined.subarray(Math.max(0, joined.length - n));
  }

  private reset(): void {
    this.candidatePending = false;
    this.chunks = [];
    this.bytes = 0;
    this.finder = undefined;
    this.early = [];
    this.earlyBytes = 0;
    this.firstLookAlikeEnd = -1;
    this.lookAlikeFinder = undefined;
    this.echoTail = Buffer.alloc(0);
  }
}
