import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReadlineFramer } from '../src/hmp/readline.js';

/** What QEMU sends while a line is typed: the line redrawn after every byte (peers-setup.md). */
function echoOf(line: string): string {
  let out = '';
  for (let i = 1; i <= line.length; i++) out += `${'\x1b[D'.repeat(i - 1)}${line.slice(0, i)}\x1b[K`;
  return `${out}\r\n`;
}

const BANNER = "QEMU 7.2.22 monitor - type 'help' for more information";

/**
 * Feeds one segment per exchange (the banner, then each command's echo, output and
 * prompt), each cut at the given points: QEMU sends nothing of a command before it was
 * written, so no chunk spans two exchanges.
 */
function run(
  segments: Buffer[],
  cuts: number[] = [],
): { banner?: string; outputs: string[]; idleAfterEach: boolean[] } {
  const result: { banner?: string; outputs: string[]; idleAfterEach: boolean[] } = {
    outputs: [],
    idleAfterEach: [],
  };
  const framer = new ReadlineFramer(1 << 20, {
    banner: (b) => {
      result.banner = b;
    },
    output: (o) => result.outputs.push(o.toString('utf8')),
    unsolicited: () => {},
    candidate: () => {},
  });
  segments.forEach((segment, i) => {
    if (i > 0) framer.commandWritten();
    const points = [...new Set(cuts.map((c) => c % (segment.length + 1)))].sort((a, b) => a - b);
    let prev = 0;
    for (const p of [...points, segment.length]) {
      framer.push(segment.subarray(prev, p));
      prev = p;
    }
    // The exchange is over and the socket quiet: the owner confirms the prompt.
    framer.confirm();
    result.idleAfterEach.push(framer.idle);
  });
  return result;
}

describe('ReadlineFramer', () => {
  const transcript = [
    ['info status', 'VM status: paused (prelaunch)\r\n'],
    ['info name', ''],
    [
      'help info',
      'info balloon  -- show balloon information\r\ninfo block [-n] [-v] [device] -- show info\r\n',
    ],
    ['info foo', "unknown command: 'info foo'\r\n"],
  ] as const;
  const segments = [
    Buffer.from(`${BANNER}\r\n(qemu) `),
    ...transcript.map(([cmd, out]) => Buffer.from(`${echoOf(cmd)}${out}(qemu) `)),
  ];

  it('reads the banner, strips echo and prompt, and keeps the output byte-exact', () => {
    const r = run(segments);
    expect(r.banner).toBe(BANNER);
    expect(r.outputs).toEqual(transcript.map(([, out]) => out));
    expect(r.idleAfterEach.every(Boolean)).toBe(true);
  });

  it('gives the same result split at every byte boundary, and for any set of cuts (property)', () => {
    const longest = Math.max(...segments.map((s) => s.length));
    for (let cut = 0; cut <= longest; cut++) {
      expect(run(segments, [cut]).outputs).toEqual(transcript.map(([, out]) => out));
    }
    fc.assert(
      fc.property(fc.array(fc.nat(longest), { maxLength: 25 }), (cuts) => {
        const r = run(segments, cuts);
        expect(r.banner).toBe(BANNER);
        expect(r.outputs).toEqual(transcript.map(([, out]) => out));
      }),
      { numRuns: 300 },
    );
  });

  it('does not take "(qemu) " inside a line for the prompt', () => {
    const outputs: string[] = [];
    const framer = new ReadlineFramer(1 << 20, {
      banner: () => {},
      output: (o) => outputs.push(o.toString()),
      unsolicited: () => {},
      candidate: () => {},
    });
    framer.push(Buffer.from(`${BANNER}\r\n(qemu) `));
    framer.confirm();
    framer.commandWritten();
    framer.push(Buffer.from(`${echoOf('x')}say (qemu) `));
    framer.confirm();
    expect(outputs).toEqual([]);
    framer.push(Buffer.from('done\r\n(qemu) '));
    framer.confirm();
    expect(outputs).toEqual(['say (qemu) done\r\n']);
  });

  it('withdraws a prompt candidate when more bytes follow before it is confirmed', () => {
    const outputs: string[] = [];
    const candidates: number[] = [];
    const framer = new ReadlineFramer(1 << 20, {
      banner: () => {},
      output: (o) => outputs.push(o.toString()),
      unsolicited: () => {},
      candidate: (n) => candidates.push(n),
    });
    framer.push(Buffer.from(`${BANNER}\r\n(qemu) `));
    framer.confirm();
    framer.commandWritten();
    // A guest line that starts like a prompt, cut by a read right after "(qemu) ".
    framer.push(Buffer.from(`${echoOf('ringbuf_read serial0 100')}guest\r\n(qemu) `));
    expect(candidates).toHaveLength(2);
    framer.push(Buffer.from('says hi\r\n(qemu) '));
    framer.confirm();
    expect(outputs).toEqual(['guest\r\n(qemu) says hi\r\n']);
    expect(candidates).toHaveLength(3);
  });

  it('refuses an output larger than the limit', () => {
    const framer = new ReadlineFramer(100, {
      banner: () => {},
      output: () => {},
      unsolicited: () => {},
      candidate: () => {},
    });
    framer.push(Buffer.from(`${BANNER}\r\n(qemu) `));
    framer.confirm();
    framer.commandWritten();
    framer.push(Buffer.from(echoOf('info mtree')));
    expect(() => framer.push(Buffer.alloc(200, 0x61))).toThrow(/exceeded 100 bytes/);
  });
});
