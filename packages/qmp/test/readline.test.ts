import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { HmpClient } from '../src/index.js';
import { BANNER, FakeReadlineMonitor, type OutputStep } from './helpers/fake-readline.js';

const clients: HmpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function connect(monitor: FakeReadlineMonitor): Promise<HmpClient> {
  const client = await HmpClient.connect({ socket: monitor.clientSide, name: 'fake-readline' });
  clients.push(client);
  return client;
}

const TRANSCRIPT: Record<string, string> = {
  'info status': 'VM status: paused (prelaunch)\r\n',
  'info name': '',
  'help info': 'info balloon  -- show balloon information\r\ninfo block [-n] [-v] [device] -- show info\r\n',
  'info foo': "unknown command: 'info foo'\r\n",
};

describe('HmpClient framing of the readline monitor', () => {
  it('reads the banner, strips echo and prompt, and keeps the output byte-exact', async () => {
    const client = await connect(new FakeReadlineMonitor({ answer: (line) => [TRANSCRIPT[line] ?? ''] }));
    expect(client.banner).toBe(BANNER);
    for (const [line, out] of Object.entries(TRANSCRIPT)) expect(await client.run(line)).toBe(out);
  });

  it('gives the same outputs however QEMU’s writes are cut (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(400), { maxLength: 12 }), async (cuts) => {
        const monitor = new FakeReadlineMonitor({ cuts, answer: (line) => [TRANSCRIPT[line] ?? ''] });
        const client = await HmpClient.connect({ socket: monitor.clientSide });
        try {
          const lines = Object.keys(TRANSCRIPT);
          expect(await Promise.all(lines.map((l) => client.run(l)))).toEqual(lines.map((l) => TRANSCRIPT[l]));
        } finally {
          await client.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('takes "(qemu) " inside a line, or followed by more bytes in the same turn, for output', async () => {
    const client = await connect(
      new FakeReadlineMonitor({
        answer: (line) =>
          line === 'say' ? ['say (qemu) ', 'done\r\n'] : ['guest\r\n(qemu) ', 'says hi\r\n'],
      }),
    );
    expect(await client.run('say')).toBe('say (qemu) done\r\n');
    expect(await client.run('ringbuf_read rb 100')).toBe('guest\r\n(qemu) says hi\r\n');
  });

  it('reads an output whose prompt look-alikes pause mid-way in full, by probing the prompt', async () => {
    const monitor = new FakeReadlineMonitor({
      answer: (line) =>
        line === 'ringbuf_read rb 100'
          ? ['a\r\n(qemu) b\r\n(qemu) ', { pauseMs: 60 }, 'c\r\n(qemu) ', { pauseMs: 30 }, 'd\r\n']
          : ['VM status: running\r\n'],
    });
    const client = await connect(monitor);
    const unsolicited: string[] = [];
    client.on('unsolicited', (text) => unsolicited.push(text));
    expect(await client.run('ringbuf_read rb 100')).toBe('a\r\n(qemu) b\r\n(qemu) c\r\n(qemu) d\r\n');
    expect(await client.run('info status')).toBe('VM status: running\r\n');
    expect(unsolicited).toEqual([]);
    // The probe changed nothing in QEMU: only the two commands ran.
    expect(monitor.executed).toEqual(['ringbuf_read rb 100', 'info status']);
  });

  it("never lets a late look-alike's output bleed into the next command", async () => {
    // The first look-alike ends a read and the rest of the output comes late: the first
    // command is cut there (documented), the rest is reported, the next command is clean.
    const steps: Record<string, OutputStep[]> = {
      'ringbuf_read rb 100': ['guest\r\n(qemu) ', { pauseMs: 60 }, 'late part\r\n'],
      'info status': ['VM status: running\r\n'],
      'info name': [],
    };
    const monitor = new FakeReadlineMonitor({ answer: (line) => steps[line] ?? [] });
    const client = await connect(monitor);
    const unsolicited: string[] = [];
    client.on('unsolicited', (text) => unsolicited.push(text));
    const first = await client.run('ringbuf_read rb 100');
    expect(first).toBe('guest\r\n');
    expect(await client.run('info status')).toBe('VM status: running\r\n');
    expect(await client.run('info name')).toBe('');
    expect(unsolicited.join('')).toBe('late part\r\n');
    expect(monitor.executed).toEqual(['ringbuf_read rb 100', 'info status', 'info name']);
  });

  it('keeps every command’s output its own when look-alikes and pauses come anywhere (property)', async () => {
    const piece = fc.oneof(
      fc.constantFrom('line\r\n', '(qemu) x\r\n', '(qemu) ', 'guest\r\n(qemu) '),
      fc.integer({ min: 1, max: 15 }).map((pauseMs) => ({ pauseMs })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 6 }),
        fc.array(fc.nat(60), { maxLength: 4 }),
        async (steps, cuts) => {
          // The output always ends with a line end, as QEMU's outputs do.
          const script = [...steps, 'end\r\n'];
          const monitor = new FakeReadlineMonitor({
            cuts,
            answer: (line) => (line === 'noisy' ? script : [`${line} ok\r\n`]),
          });
          const client = await HmpClient.connect({ socket: monitor.clientSide });
          const unsolicited: string[] = [];
          client.on('unsolicited', (t) => unsolicited.push(t));
          try {
            const noisy = await client.run('noisy');
            const after = await Promise.all(['one', 'two'].map((l) => client.run(l)));
            expect(after).toEqual(['one ok\r\n', 'two ok\r\n']);
            // The output is whole, or cut at a look-alike (taken for the prompt) with the
            // rest reported as unsolicited text: nothing is lost, nothing lands elsewhere.
            const text = script.filter((s): s is string => typeof s === 'string').join('');
            const late = unsolicited.join('');
            expect(late === '' ? noisy : `${noisy}(qemu) ${late}`).toBe(text);
          } finally {
            await client.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses an output larger than maxOutputBytes and ends the connection', async () => {
    const monitor = new FakeReadlineMonitor({ answer: () => ['x'.repeat(500)] });
    const client = await HmpClient.connect({ socket: monitor.clientSide, maxOutputBytes: 100 });
    clients.push(client);
    await expect(client.run('info mtree')).rejects.toMatchObject({ code: 'QMP_PROTOCOL' });
    expect(client.state).toBe('idle');
  });
});
