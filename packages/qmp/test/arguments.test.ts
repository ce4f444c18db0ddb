/**
 * Every public entry point of @cuju/qmp, called with arbitrary JavaScript values, either
 * works or fails with the package's typed error (QmpError): never a bare TypeError from
 * deep inside, never a half-sent command. (The HMP output parsers are left out: they are
 * moving to @cuju/sdk.)
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateQmpTypes,
  HmpClient,
  hmpLine,
  QmpArgumentError,
  QmpClient,
  QmpError,
  QmpHmp,
} from '../src/index.js';
import { RecordingHmp, RecordingQmp } from '../src/testing/index.js';
import { answerEverything, FakeQmpServer } from './helpers/fake-qmp.js';
import { FakeReadlineMonitor } from './helpers/fake-readline.js';
import { freePort } from './helpers/net.js';

const anyValue = fc.oneof(
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withSparseArray: true,
    withTypedArray: true,
  }),
  fc.constantFrom(
    Symbol('s'),
    () => 1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -1,
    '',
    '\0',
    'x'.repeat(200),
    new AbortController().signal,
  ),
);

/** A value that may be an object carrying any of the option names with arbitrary values. */
function optionsLike(keys: readonly string[]) {
  return fc.oneof(anyValue, fc.dictionary(fc.constantFrom(...keys), anyValue, { maxKeys: keys.length }));
}

type Outcome = 'returned' | 'pending' | 'resolved' | QmpError;

/** Calls `fn`: a synchronous throw, a rejection within a few ms, a value, or a promise still pending. */
async function outcome(fn: () => unknown): Promise<Outcome> {
  let value: unknown;
  try {
    value = fn();
  } catch (err) {
    if (err instanceof QmpError) return err;
    throw new Error(`threw a bare ${describeError(err)}`, { cause: err });
  }
  if (!(value instanceof Promise)) return 'returned';
  const settled = await Promise.race([
    value.then(
      () => 'resolved' as const,
      (err: unknown) => {
        if (err instanceof QmpError) return err;
        throw new Error(`rejected with a bare ${describeError(err)}`, { cause: err });
      },
    ),
    new Promise<'pending'>((r) => setTimeout(() => r('pending'), 5)),
  ]);
  // A promise that settles later must still reject only with a QmpError.
  if (settled === 'pending') {
    value.catch((err: unknown) => {
      if (!(err instanceof QmpError)) late.push(err);
    });
  }
  return settled;
}

const late: unknown[] = [];

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

const ENDPOINT_KEYS = ['path', 'host', 'port', 'socket', 'name'] as const;
const QMP_KEYS = [
  ...ENDPOINT_KEYS,
  'connectTimeoutMs',
  'greetingTimeoutMs',
  'timeouts',
  'negotiateOob',
  'maxMessageBytes',
  'eventHistory',
  'fetchSchema',
  'trace',
  'signal',
];
const HMP_KEYS = [
  ...ENDPOINT_KEYS,
  'connectTimeoutMs',
  'bannerTimeoutMs',
  'timeoutMs',
  'maxOutputBytes',
  'signal',
];
const CALL_KEYS = ['timeoutMs', 'signal', 'until', 'oob', 'cpuIndex', 'filter', 'afterSeq'];
const STREAM_KEYS = ['names', 'filter', 'bufferSize', 'overflow', 'onOverflow', 'signal'];
const RUNS = { numRuns: 150 };

let closedPort = 0;
/** Never let an arbitrary host name leave the machine: any usable host becomes loopback on a closed port. */
function loopbackOnly(options: unknown): unknown {
  if (
    options &&
    typeof options === 'object' &&
    'host' in options &&
    typeof options.host === 'string' &&
    options.host
  ) {
    return { ...options, host: '127.0.0.1', port: closedPort };
  }
  return options;
}

beforeAll(async () => {
  closedPort = await freePort();
});
afterAll(() => {
  expect(late).toEqual([]);
});

describe('arbitrary values at every public entry point give typed errors or work', () => {
  it('QmpClient.connect and HmpClient.connect', async () => {
    await fc.assert(
      fc.asyncProperty(optionsLike(QMP_KEYS), optionsLike(HMP_KEYS), async (q, h) => {
        await outcome(() => QmpClient.connect(loopbackOnly(q) as never));
        await outcome(() => HmpClient.connect(loopbackOnly(h) as never));
      }),
      RUNS,
    );
  });

  it('the methods of a connected QmpClient', async () => {
    const server = new FakeQmpServer({ handler: answerEverything });
    const client = await QmpClient.connect({ socket: server.clientSide, timeouts: { defaultMs: 50 } });
    await fc.assert(
      fc.asyncProperty(
        anyValue,
        anyValue,
        optionsLike(CALL_KEYS),
        optionsLike(STREAM_KEYS),
        async (a, b, call, stream) => {
          await outcome(() => client.execute(a as never, b as never, call as never));
          await outcome(() => client.hmp(a as never, call as never));
          await outcome(() => client.waitForEvent(a as never, call as never));
          await outcome(() => client.events(stream as never).close());
          await outcome(() => client.schema(call as never));
          await outcome(() => client.ping(call as never));
        },
      ),
      RUNS,
    );
    expect(client.connected).toBe(true);
    await client.close();
  });

  it('the methods of a connected HmpClient, QmpHmp and the builder', async () => {
    const monitor = new FakeReadlineMonitor({ answer: () => ['ok\r\n'] });
    const client = await HmpClient.connect({ socket: monitor.clientSide, timeoutMs: 50 });
    const server = new FakeQmpServer({ handler: (cmd, s) => s.reply(cmd, 'ok\r\n') });
    const qmp = await QmpClient.connect({ socket: server.clientSide });
    await fc.assert(
      fc.asyncProperty(anyValue, anyValue, anyValue, optionsLike(CALL_KEYS), async (a, b, c, call) => {
        await outcome(() => client.run(a as never, call as never));
        await outcome(() => new QmpHmp(a as never));
        await outcome(() => new QmpHmp(qmp).run(a as never, call as never));
        await outcome(() => hmpLine(a as never, b as never, c as never));
        await outcome(() => hmpLine('x', 'a:s,b:i?,c:-f', c as never));
        await outcome(() => generateQmpTypes(a as never, b as never));
      }),
      RUNS,
    );
    expect(client.connected).toBe(true);
    await client.close();
    await qmp.close();
  });

  it('the test doubles of @cuju/qmp/testing', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, anyValue, anyValue, optionsLike(STREAM_KEYS), async (a, b, c, stream) => {
        await outcome(() => new RecordingHmp(a as never, b as never));
        await outcome(() => RecordingHmp.scripted(a as never));
        await outcome(() => new RecordingQmp(a as never, b as never));
        const hmp = new RecordingHmp(() => 'out');
        await outcome(() => hmp.run(a as never, b as never));
        const qmp = new RecordingQmp({ 'query-status': {} });
        await outcome(() => qmp.execute(a as never, b as never, c as never));
        await outcome(() => qmp.emit(a as never, b));
        await outcome(() => qmp.events(stream as never));
      }),
      RUNS,
    );
  });

  it('names the field in the error', async () => {
    const err = await QmpClient.connect({ path: 5 } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpArgumentError);
    expect(err).toMatchObject({
      field: 'path',
      message: 'path must be a non-empty string (a Unix socket path), got the number 5',
    });
    expect(() => hmpLine('migrate', 'uri:s', null as never)).toThrow(
      /needs its values as an object, got null/,
    );
  });
});
