import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QmpClient, QmpProtocolError } from '../src/index.js';
import { answerNothing, FakeQmpServer, GREETING, tick } from './helpers/fake-qmp.js';

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

async function connected(options: { maxMessageBytes?: number } = {}) {
  const server = new FakeQmpServer({ handler: answerNothing });
  const client = await QmpClient.connect({ socket: server.clientSide, ...options });
  return { server, client };
}

describe('message size limit', () => {
  it('ends the connection with QmpProtocolError once a line outgrows the limit, before its end arrives', async () => {
    // The greeting (about 120 bytes) fits; a reply that grows past 200 bytes does not.
    const { server, client } = await connected({ maxMessageBytes: 200 });
    const call = client.execute('query-name');
    await tick();
    server.sendRaw(`{"return": {"name": "${'x'.repeat(150)}`);
    server.sendRaw('y'.repeat(100));
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpProtocolError);
    expect((err as Error).message).toMatch(/exceeded the limit of 200 bytes/);
    expect(client.state).toBe('idle');
  });
});

describe('lossless integers', () => {
  it('keeps integers beyond 2^53 exact as bigint and leaves the rest as numbers', async () => {
    const { server, client } = await connected();
    const call = client.execute('query-memory-devices');
    await tick();
    const id = server.commands('query-memory-devices')[0]!.id;
    server.sendRaw(
      `{"return": {"big": 18446744073709551615, "neg": -9223372036854775808, "small": 42, "f": 1.5, "edge": 9007199254740991}, "id": ${String(id)}}\r\n`,
    );
    expect(await call).toEqual({
      big: 18446744073709551615n,
      neg: -9223372036854775808n,
      small: 42,
      f: 1.5,
      edge: Number.MAX_SAFE_INTEGER,
    });
    await client.close();
  });

  it('leaves long digit runs inside strings as text (an HMP hex dump), and still finds a big number beside them', async () => {
    const { server, client } = await connected();
    const dump = '0000000000000000: 0x00000000 0x00000000\r\n0000000000000010: 0x00000000';
    const calls = [
      client.execute('human-monitor-command', { 'command-line': 'xp /8wx 0' }),
      client.execute('x-n'),
    ];
    await tick();
    const [hmp, n] = server.received.slice(1);
    server.sendRaw(`{"return": ${JSON.stringify(dump)}, "id": ${String(hmp!.id)}}\r\n`);
    server.sendRaw(
      `{"return": {"s": "1234567890123456789", "n": 1234567890123456789}, "id": ${String(n!.id)}}\r\n`,
    );
    expect(await calls[0]).toBe(dump);
    expect(await calls[1]).toEqual({ s: '1234567890123456789', n: 1234567890123456789n });
    await client.close();
  });

  it('reads every integer exactly, whatever digits stand around it in strings (property)', async () => {
    const { server, client } = await connected();
    const digits = fc.stringMatching(/^[0-9]{1,24}$/);
    const value = fc.record({
      n: fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
      text: fc
        .array(fc.oneof(digits, fc.constantFrom(': ', ' ', '"', '\\n', 'x', '-')), { maxLength: 8 })
        .map((p) => p.join('')),
      list: fc.array(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), { maxLength: 4 }),
    });
    const exact = (n: bigint) =>
      n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const call = client.execute('x-echo');
        await tick();
        const id = server.commands('x-echo').at(-1)!.id;
        const text = JSON.stringify(v.text);
        server.sendRaw(
          `{"return": {"text": ${text}, "n": ${v.n}, "list": [${v.list.join(', ')}]}, "id": ${String(id)}}\r\n`,
        );
        expect(await call).toEqual({ text: v.text, n: exact(v.n), list: v.list.map(exact) });
      }),
      { numRuns: 300 },
    );
    await client.close();
  });

  it('writes bigint arguments as exact JSON integers', async () => {
    const { server, client } = await connected();
    void client.execute('x-made-up', { addr: 18446744073709551615n, n: 1 }).catch(() => {});
    await tick();
    expect(server.received.at(-1)!.raw).toContain('"arguments":{"addr":18446744073709551615,"n":1}');
    await client.close();
  });
});

describe('client framing against a server that splits and merges replies', () => {
  it('routes replies and events correctly for any chunking (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 7 }),
        async (cuts, crlf, n) => {
          const server = new FakeQmpServer({ greet: false, handler: answerNothing });
          // The greeting and the capabilities reply are split too.
          const eol = crlf ? '\r\n' : '\n';
          const connecting = QmpClient.connect({ socket: server.clientSide });
          const greet = Buffer.from(`${JSON.stringify(GREETING)}${eol}`);
          for (const chunk of splitAt(greet, cuts)) server.sendRaw(chunk);
          const client = await connecting;
          const seen: string[] = [];
          client.on('event', (e) => seen.push(e.event));
          const calls = Array.from({ length: n }, () => client.execute('query-name'));
          await tick();
          const cmds = server.commands('query-name');
          expect(cmds).toHaveLength(n);
          // Answer in reverse order with an event between replies, all in one byte stream.
          const parts = cmds
            .reverse()
            .flatMap((c, i) => [
              JSON.stringify({ event: `EV${i}`, timestamp: { seconds: 1, microseconds: 0 } }),
              JSON.stringify({ return: { name: `vm-${String(c.id)}` }, id: c.id }),
            ]);
          const all = Buffer.from(parts.map((p) => p + eol).join(''));
          for (const chunk of splitAt(all, cuts)) server.sendRaw(chunk);
          const results = await Promise.all(calls);
          expect(results.map((r) => (r as { name: string }).name)).toEqual(
            server.commands('query-name').map((c) => `vm-${String(c.id)}`),
          );
          expect(seen).toEqual(Array.from({ length: n }, (_, i) => `EV${i}`));
          await client.close();
        },
      ),
      { numRuns: 200 },
    );
  });
});
