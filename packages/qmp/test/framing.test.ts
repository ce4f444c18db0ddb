import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter, parseQmpJson, QmpClient, QmpProtocolError, stringifyQmpJson } from '../src/index.js';
import { answerNothing, FakeQmpServer, GREETING, tick } from './helpers/fake-qmp.js';

function collectLines(chunks: Buffer[], max = 1 << 20): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter(max, (l) => lines.push(l.toString('utf8')));
  for (const c of chunks) splitter.push(c);
  return lines;
}

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

describe('LineSplitter', () => {
  const stream = Buffer.from('{"a":1}\r\n{"b":"x\\ny"}\n\r\n{"c":[1,2,3]}\r\n');
  const expected = ['{"a":1}', '{"b":"x\\ny"}', '{"c":[1,2,3]}'];

  it('yields the same lines for a split at every byte boundary', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(collectLines([stream.subarray(0, i), stream.subarray(i)])).toEqual(expected);
    }
    expect(collectLines([...stream].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  it('yields the same lines for any set of cut points (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 20 }), (cuts) => {
        expect(collectLines(splitAt(stream, cuts))).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a line longer than the limit, even before its end arrives', () => {
    const splitter = new LineSplitter(10, () => {});
    expect(() => splitter.push(Buffer.from('0123456789abc'))).toThrow(QmpProtocolError);
    const again = new LineSplitter(10, () => {});
    again.push(Buffer.from('01234'));
    expect(() => again.push(Buffer.from('56789ab\n'))).toThrow(/exceeded the limit of 10 bytes/);
  });
});

describe('lossless JSON', () => {
  it('keeps integers beyond 2^53 exact as bigint and leaves the rest as numbers', () => {
    const parsed = parseQmpJson(
      '{"big":18446744073709551615,"neg":-9223372036854775808,"small":42,"f":1.5,"edge":9007199254740991}',
    ) as Record<string, unknown>;
    expect(parsed.big).toBe(18446744073709551615n);
    expect(parsed.neg).toBe(-9223372036854775808n);
    expect(parsed.small).toBe(42);
    expect(parsed.f).toBe(1.5);
    expect(parsed.edge).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('writes bigint arguments as exact JSON integers', () => {
    expect(stringifyQmpJson({ addr: 18446744073709551615n, n: 1 })).toBe(
      '{"addr":18446744073709551615,"n":1}',
    );
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
