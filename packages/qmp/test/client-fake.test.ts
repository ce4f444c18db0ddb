import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  QmpAbortError,
  QmpBusyError,
  QmpClient,
  QmpCommandError,
  QmpConnectError,
  QmpDisconnectedError,
  type QmpError,
  QmpEventOverflowError,
  QmpProtocolError,
  QmpTimeoutError,
  type QmpTraceEntry,
} from '../src/index.js';
import { answerNothing, FakeQmpServer, sleep, tick } from './helpers/fake-qmp.js';
import { freePort } from './helpers/net.js';

async function connected(
  options: { capabilities?: string[]; trace?: QmpTraceEntry[]; maxMessageBytes?: number } = {},
) {
  const server = new FakeQmpServer({
    handler: answerNothing,
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
  });
  const trace = options.trace;
  const client = await QmpClient.connect({
    socket: server.clientSide,
    name: 'fake-monitor',
    ...(trace ? { trace: (e: QmpTraceEntry) => trace.push(e) } : {}),
    ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
  });
  return { server, client };
}

describe('greeting and negotiation', () => {
  it('enables oob when offered and exposes the greeting', async () => {
    const { server, client } = await connected();
    expect(client.greeting.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(client.oob).toBe(true);
    expect(server.received[0]?.arguments).toEqual({ enable: ['oob'] });
    await client.close();
  });

  it('negotiates plainly when the server offers no oob', async () => {
    const { server, client } = await connected({ capabilities: [] });
    expect(client.oob).toBe(false);
    expect(server.received[0]?.arguments).toBeUndefined();
    await client.close();
  });

  it('gives QmpBusyError naming the endpoint when no greeting comes', async () => {
    const server = new FakeQmpServer({ greet: false });
    const started = Date.now();
    const err = await QmpClient.connect({
      socket: server.clientSide,
      name: 'unix:/run/vm1.qmp',
      greetingTimeoutMs: 150,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpBusyError);
    expect((err as QmpBusyError).code).toBe('QMP_MONITOR_BUSY');
    expect((err as Error).message).toContain('unix:/run/vm1.qmp');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(server.clientSide.destroyed).toBe(true);
  });

  it('fails with a protocol error when the server greets with garbage', async () => {
    const server = new FakeQmpServer({ greet: false });
    server.sendRaw('\x00\xffnot json at all\r\n');
    await expect(QmpClient.connect({ socket: server.clientSide })).rejects.toBeInstanceOf(QmpProtocolError);
  });
});

describe('pipelining and the in-band window', () => {
  it('keeps 7 in flight with oob (QEMU stops reading at 8 queued) and releases the queue as replies come', async () => {
    const { server, client } = await connected();
    const calls = Array.from({ length: 20 }, () => client.execute('query-status'));
    await tick();
    expect(server.commands('query-status')).toHaveLength(7);
    expect(client.pendingCalls).toEqual({ inFlight: 7, queued: 13 });
    for (let answered = 0; answered < 20; answered++) {
      const cmd = server.commands('query-status')[answered]!;
      server.reply(cmd, { status: 'running', running: true, singlestep: false, n: cmd.id });
      await tick();
      expect(server.commands('query-status').length).toBe(Math.min(20, answered + 8));
    }
    const results = await Promise.all(calls);
    expect(results.map((r) => (r as unknown as { n: number }).n)).toEqual(
      server.commands('query-status').map((c) => c.id),
    );
    await client.close();
  });

  it('keeps 1 in flight without oob, as QEMU reads nothing more until it answers', async () => {
    const { server, client } = await connected({ capabilities: [] });
    const calls = [client.execute('query-name'), client.execute('query-uuid'), client.execute('query-kvm')];
    await tick();
    expect(server.received.map((c) => c.execute)).toEqual(['qmp_capabilities', 'query-name']);
    server.reply(server.commands('query-name')[0]!, { name: 'a' });
    await tick();
    expect(server.received.map((c) => c.execute)).toEqual(['qmp_capabilities', 'query-name', 'query-uuid']);
    server.reply(server.commands('query-uuid')[0]!, { UUID: 'u' });
    await tick();
    server.reply(server.commands('query-kvm')[0]!, { enabled: false, present: false });
    expect(await Promise.all(calls)).toEqual([
      { name: 'a' },
      { UUID: 'u' },
      { enabled: false, present: false },
    ]);
    await client.close();
  });
});

describe('timeouts and cancellation', () => {
  it('times out, drops the late reply quietly and stays usable', async () => {
    const trace: QmpTraceEntry[] = [];
    const { server, client } = await connected({ trace });
    const err = await client.execute('query-status', undefined, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpTimeoutError);
    expect((err as QmpTimeoutError).phase).toBe('reply');
    expect((err as QmpTimeoutError).subject).toBe('query-status');
    const late = server.commands('query-status')[0]!;
    server.reply(late, { status: 'running', running: true, singlestep: false });
    await tick();
    expect(
      trace.some((t) => t.kind === 'dropped' && t.id === late.id && /late reply/.test(t.note ?? '')),
    ).toBe(true);
    const next = client.execute('query-name');
    await tick();
    server.reply(server.commands('query-name')[0]!, { name: 'ok' });
    expect(await next).toEqual({ name: 'ok' });
    await client.close();
  });

  it('rejects with an AbortError on abort, and a queued call is never sent', async () => {
    const { server, client } = await connected({ capabilities: [] });
    const first = client.execute('query-name');
    const ac = new AbortController();
    const second = client.execute('query-uuid', undefined, { signal: ac.signal });
    await tick();
    ac.abort(new Error('user gave up'));
    const err = await second.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpAbortError);
    expect((err as Error).name).toBe('AbortError');
    expect((err as QmpError).code).toBe('QMP_ABORTED');
    server.reply(server.commands('query-name')[0]!, { name: 'x' });
    await first;
    await tick();
    expect(server.commands('query-uuid')).toHaveLength(0);
    await client.close();
  });

  it('refuses an already aborted signal and bad arguments without sending anything', async () => {
    const { server, client } = await connected();
    await expect(
      client.execute('query-status', undefined, { signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(QmpAbortError);
    await expect(client.execute('query-status', undefined, { timeoutMs: -1 })).rejects.toMatchObject({
      code: 'QMP_INVALID_ARGUMENT',
    });
    // @ts-expect-error arguments must be an object
    await expect(client.execute('query-status', 'yes')).rejects.toMatchObject({
      code: 'QMP_INVALID_ARGUMENT',
    });
    await expect(client.hmp('info status\nquit')).rejects.toMatchObject({ code: 'QMP_INVALID_ARGUMENT' });
    await tick();
    expect(server.received.map((c) => c.execute)).toEqual(['qmp_capabilities']);
    await client.close();
  });
});

describe('protocol errors', () => {
  it('closes with QmpProtocolError on a line larger than maxMessageBytes', async () => {
    const { server, client } = await connected();
    const call = client.execute('query-status');
    const disconnected = new Promise<Error>((r) => client.once('disconnect', r));
    await tick();
    const id = server.commands('query-status')[0]!.id;
    server.sendRaw(`{"return":{"blob":"${'x'.repeat(20 * 1024 * 1024)}"},"id":${String(id)}}\r\n`);
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpProtocolError);
    expect((err as Error).message).toMatch(/exceeded the limit of 16777216 bytes/);
    expect(await disconnected).toBe(err);
    expect(client.connected).toBe(false);
  });

  it('accepts the same 20 MiB line when the limit allows it', async () => {
    const { server, client } = await connected({ maxMessageBytes: 32 * 1024 * 1024 });
    const call = client.execute('query-status');
    await tick();
    const id = server.commands('query-status')[0]!.id;
    const blob = 'x'.repeat(20 * 1024 * 1024);
    server.sendRaw(`{"return":{"blob":"${blob}"},"id":${String(id)}}\r\n`);
    expect(((await call) as unknown as { blob: string }).blob.length).toBe(blob.length);
    await client.close();
  });

  it('treats an error without id (server parse error) as a protocol error', async () => {
    const { server, client } = await connected();
    const call = client.execute('query-status');
    await tick();
    server.sendLine({ error: { class: 'GenericError', desc: 'JSON parse error, invalid keyword' } });
    await expect(call).rejects.toSatisfy(
      (e: unknown) => e instanceof QmpProtocolError && /without id/.test(e.message),
    );
  });

  it('closes on garbage bytes mid-session', async () => {
    const { server, client } = await connected();
    const call = client.execute('query-status');
    await tick();
    server.sendRaw('{"return": {}, "id": \x01\x02garbage\r\n');
    await expect(call).rejects.toBeInstanceOf(QmpProtocolError);
    await expect(client.execute('query-name')).rejects.toBeInstanceOf(QmpDisconnectedError);
  });

  it('drops a reply with an unknown id and records it in the trace', async () => {
    const trace: QmpTraceEntry[] = [];
    const { server, client } = await connected({ trace });
    const call = client.execute('query-name');
    await tick();
    server.sendLine({ return: { name: 'stray' }, id: 'not-ours' });
    server.reply(server.commands('query-name')[0]!, { name: 'mine' });
    expect(await call).toEqual({ name: 'mine' });
    expect(trace.find((t) => t.kind === 'dropped')?.note).toBe('reply with an unknown id');
    await client.close();
  });

  it('passes big integers through exactly, both ways', async () => {
    const { server, client } = await connected();
    const call = client.execute('x-made-up', { addr: 18446744073709551615n });
    await tick();
    const cmd = server.received.at(-1)!;
    expect(cmd.raw).toContain('"addr":18446744073709551615');
    server.sendRaw(`{"return": {"addr": 18446744073709551615, "size": 4096}, "id": ${String(cmd.id)}}\r\n`);
    expect(await call).toEqual({ addr: 18446744073709551615n, size: 4096 });
    await client.close();
  });
});

describe('command errors and redaction', () => {
  it('carries class, desc, command and redacted arguments', async () => {
    const trace: QmpTraceEntry[] = [];
    const { server, client } = await connected({ trace });
    const call = client.execute('object-add', { 'qom-type': 'secret', id: 'sec0', data: 'hunter2' });
    await tick();
    const cmd = server.commands('object-add')[0]!;
    server.sendLine({ error: { class: 'GenericError', desc: 'bad secret' }, id: cmd.id });
    const err = (await call.catch((e: unknown) => e)) as QmpCommandError;
    expect(err).toBeInstanceOf(QmpCommandError);
    expect(err).toMatchObject({
      code: 'QMP_COMMAND_FAILED',
      errorClass: 'GenericError',
      desc: 'bad secret',
      command: 'object-add',
    });
    expect(err.arguments).toEqual({ 'qom-type': 'secret', id: 'sec0', data: '<redacted>' });
    expect(JSON.stringify(trace)).not.toContain('hunter2');
    expect(cmd.raw).toContain('hunter2'); // the server still got the real value
    await client.close();
  });

  it('redacts passwords in every traced message', async () => {
    const trace: QmpTraceEntry[] = [];
    const { server, client } = await connected({ trace });
    const calls = [
      client.execute('set_password', { protocol: 'vnc', password: 's3cret-vnc' }),
      client.execute('change-vnc-password', { password: 's3cret-change' }),
      client.hmp('set_password vnc s3cret-hmp'),
      client.execute('blockdev-add', { driver: 'luks', 'node-name': 'n', 'key-secret': 'sec0', file: 'f' }),
    ];
    await tick();
    for (const cmd of server.received.slice(1))
      server.reply(cmd, cmd.execute === 'human-monitor-command' ? '' : {});
    await Promise.all(calls);
    const text = JSON.stringify(trace);
    for (const secret of ['s3cret-vnc', 's3cret-change', 's3cret-hmp', '"key-secret":"sec0"'])
      expect(text).not.toContain(secret);
    expect(text).toContain('set_password <redacted>');
    await client.close();
  });
});

describe('events', () => {
  it('resolves execute(until) for an event that comes before the reply, and after it', async () => {
    const { server, client } = await connected();
    const stop = client.execute('stop', undefined, { until: { event: 'STOP' } });
    await tick();
    server.event('STOP');
    server.reply(server.commands('stop')[0]!);
    await expect(stop).resolves.toEqual({});

    let resolved = false;
    const cont = client.execute('cont', undefined, { until: { event: 'RESUME' } }).then(() => {
      resolved = true;
    });
    await tick();
    server.reply(server.commands('cont')[0]!);
    await sleep(10);
    expect(resolved).toBe(false);
    server.event('RESUME');
    await cont;
    await client.close();
  });

  it('times out the event phase with phase "event"', async () => {
    const { server, client } = await connected();
    const stop = client.execute('stop', undefined, { until: { event: 'STOP' }, timeoutMs: 80 });
    await tick();
    server.reply(server.commands('stop')[0]!);
    await expect(stop).rejects.toSatisfy((e: unknown) => e instanceof QmpTimeoutError && e.phase === 'event');
    await client.close();
  });

  it('looks back with afterSeq, and filters', async () => {
    const { server, client } = await connected();
    const before = client.lastEventSeq;
    server.event('DEVICE_DELETED', { device: 'a', path: '/a' });
    server.event('DEVICE_DELETED', { device: 'b', path: '/b' });
    await tick();
    const ev = await client.waitForEvent('DEVICE_DELETED', {
      afterSeq: before,
      filter: (e) => e.data.device === 'b',
    });
    expect(ev.data).toEqual({ device: 'b', path: '/b' });
    expect(ev.seq).toBe(before + 2);
    await expect(client.waitForEvent('RESET', { timeoutMs: 30 })).rejects.toBeInstanceOf(QmpTimeoutError);
    await client.close();
  });

  it('drop-oldest keeps the newest events and counts what it lost', async () => {
    const { server, client } = await connected();
    const losses: number[] = [];
    const stream = client.events({ names: ['E'], bufferSize: 3, onOverflow: (i) => losses.push(i.dropped) });
    for (let i = 0; i < 5; i++) server.event('E', { i });
    server.event('OTHER');
    await tick();
    expect(stream.dropped).toBe(2);
    expect(losses).toEqual([1, 2]);
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await stream.next()).value);
    expect(got.map((e) => e?.data)).toEqual([{ i: 2 }, { i: 3 }, { i: 4 }]);
    stream.close();
    expect((await stream.next()).done).toBe(true);
    await client.close();
  });

  it('drop-newest keeps the oldest; error ends the stream after the buffered events', async () => {
    const { server, client } = await connected();
    const newest = client.events({ bufferSize: 2, overflow: 'drop-newest' });
    const strict = client.events({ bufferSize: 2, overflow: 'error' });
    for (let i = 0; i < 4; i++) server.event('E', { i });
    await tick();
    expect(newest.dropped).toBe(2);
    expect((await newest.next()).value?.data).toEqual({ i: 0 });
    expect((await newest.next()).value?.data).toEqual({ i: 1 });
    const seen: number[] = [];
    const err = await (async () => {
      for await (const e of strict) seen.push((e.data as { i: number }).i);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([0, 1]);
    expect(err).toBeInstanceOf(QmpEventOverflowError);
    await client.close();
  });
});

describe('disconnect', () => {
  it('rejects every pending call and ends every iterator with QmpDisconnectedError', async () => {
    const { server, client } = await connected();
    const calls = [client.execute('query-status'), client.execute('query-name')];
    const iterating = (async () => {
      for await (const _ of client.events()) {
        /* waits */
      }
    })();
    const disconnected = new Promise<Error>((r) => client.once('disconnect', r));
    await tick();
    server.hangUp();
    for (const c of calls) await expect(c).rejects.toBeInstanceOf(QmpDisconnectedError);
    await expect(iterating).rejects.toBeInstanceOf(QmpDisconnectedError);
    expect(await disconnected).toBeInstanceOf(QmpDisconnectedError);
    const after = await client.execute('query-status').catch((e: unknown) => e);
    expect(after).toBeInstanceOf(QmpDisconnectedError);
    expect((after as Error).message).toContain('fake-monitor');
  });

  it('counts quit as done when the connection closes before its reply', async () => {
    const { server, client } = await connected();
    const quit = client.execute('quit');
    await tick();
    server.hangUp();
    await expect(quit).resolves.toEqual({});
  });

  it('close() rejects pending calls and is idempotent', async () => {
    const { client } = await connected();
    const call = client.execute('query-status');
    await client.close();
    await client.close();
    await expect(call).rejects.toSatisfy(
      (e: unknown) => e instanceof QmpDisconnectedError && /client closed/.test(e.message),
    );
  });
});

describe('connecting', () => {
  it('names the socket path when it does not exist', async () => {
    const err = await QmpClient.connect({ path: '/nonexistent/vm1.qmp' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpConnectError);
    expect(err).toMatchObject({ code: 'QMP_CONNECT_FAILED', endpoint: 'unix:/nonexistent/vm1.qmp' });
    expect((err as Error).message).toMatch(/ENOENT/);
  });

  it('names the TCP address when nothing listens, and refuses a bad port before dialing', async () => {
    const port = await freePort();
    const err = await QmpClient.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QMP_CONNECT_FAILED', endpoint: `tcp:127.0.0.1:${port}` });
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    await expect(QmpClient.connect({ host: '127.0.0.1', port: 70000 })).rejects.toMatchObject({
      code: 'QMP_INVALID_ARGUMENT',
      field: 'port',
      message: 'port must be an integer from 1 to 65535, got the number 70000',
    });
  });

  it('aborts connecting through the signal', async () => {
    const server = new FakeQmpServer({ greet: false });
    const ac = new AbortController();
    const connecting = QmpClient.connect({ socket: server.clientSide, signal: ac.signal });
    ac.abort();
    await expect(connecting).rejects.toMatchObject({ name: 'AbortError', code: 'QMP_ABORTED' });
  });
});

describe('review fixes', () => {
  it('refuses arguments QEMU could not parse, sends nothing and stays connected', async () => {
    const { server, client } = await connected();
    await expect(client.execute('qom-list', { path: 'a\ud800b' })).rejects.toThrow(
      /arguments.path of 'qom-list' is not well-formed Unicode/,
    );
    await expect(client.execute('x', { n: Number.NaN })).rejects.toThrow(/arguments.n of 'x' is NaN/);
    let deep: unknown = 1;
    for (let i = 0; i < 1100; i++) deep = [deep];
    await expect(client.execute('x', { deep })).rejects.toThrow(/nests deeper than QEMU accepts/);
    await tick();
    expect(server.received.map((c) => c.execute)).toEqual(['qmp_capabilities']);
    expect(client.connected).toBe(true);
    await client.close();
  });

  it('a throwing event filter fails only its own wait', async () => {
    const { server, client } = await connected();
    const broken = client.waitForEvent('DEVICE_DELETED', {
      filter: (e) => (e.data as unknown as { device: { id: string } }).device.id === 'x',
    });
    const fine = client.waitForEvent('DEVICE_DELETED');
    server.event('DEVICE_DELETED', { path: '/p' });
    await expect(broken).rejects.toBeInstanceOf(TypeError);
    expect((await fine).data).toEqual({ path: '/p' });
    const call = client.execute('query-name');
    await tick();
    server.reply(server.commands('query-name')[0]!, { name: 'still here' });
    expect(await call).toEqual({ name: 'still here' });
    await client.close();
  });

  it('keeps deadlines longer than a Node timer can hold', async () => {
    const { server, client } = await connected();
    const call = client.execute('query-name', undefined, { timeoutMs: 2 ** 31 + 5 });
    const wait = client.waitForEvent('RESET', { timeoutMs: 30 * 24 * 3600 * 1000 });
    await sleep(20);
    server.reply(server.commands('query-name')[0]!, { name: 'late but in time' });
    server.event('RESET');
    expect(await call).toEqual({ name: 'late but in time' });
    expect((await wait).event).toBe('RESET');
    await client.close();
  });

  it('serves several pending next() calls in order', async () => {
    const { server, client } = await connected();
    const stream = client.events();
    const first = stream.next();
    const second = stream.next();
    server.event('A');
    server.event('B');
    expect((await first).value?.event).toBe('A');
    expect((await second).value?.event).toBe('B');
    const third = stream.next();
    server.hangUp();
    await expect(third).rejects.toBeInstanceOf(QmpDisconnectedError);
  });

  it("does not fail one caller's schema() because another aborted", async () => {
    const { server, client } = await connected();
    const ac = new AbortController();
    const aborted = client.schema({ signal: ac.signal });
    const patient = client.schema();
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    await tick();
    expect(server.commands('query-qmp-schema')).toHaveLength(1);
    server.reply(server.commands('query-qmp-schema')[0]!, [
      { name: 'query-status', 'meta-type': 'command', 'arg-type': '0', 'ret-type': '1' },
    ]);
    expect((await patient).hasCommand('query-status')).toBe(true);
    await client.close();
  });

  it('arms an `until` wait when its command is written, not while it queues', async () => {
    const { server, client } = await connected({ capabilities: [] });
    const deleted = (id: string) =>
      client.execute('device_del', { id }, { until: { event: 'DEVICE_DELETED' } });
    const a = deleted('a');
    const b = deleted('b');
    let bDone = false;
    void b.then(() => {
      bDone = true;
    });
    await tick();
    server.event('DEVICE_DELETED', { device: 'a', path: '/a' });
    server.reply(server.commands('device_del')[0]!);
    await a;
    await tick();
    expect(server.commands('device_del')).toHaveLength(2); // b was written after a's reply...
    await sleep(10);
    expect(bDone).toBe(false); // ...so a's event did not count for it
    server.reply(server.commands('device_del')[1]!);
    server.event('DEVICE_DELETED', { device: 'b', path: '/b' });
    await b;
    await client.close();
  });

  it('does not count quit as done when the client itself closes', async () => {
    const { client } = await connected();
    const quit = client.execute('quit');
    await tick();
    await client.close();
    await expect(quit).rejects.toBeInstanceOf(QmpDisconnectedError);
  });

  it('checks options before opening a socket', async () => {
    let connections = 0;
    const dir = mkdtempSync(join(tmpdir(), 'qmp-opt-'));
    const server = createServer(() => connections++).listen(join(dir, 's.sock'));
    await new Promise((r) => server.once('listening', r));
    for (const bad of [{ eventHistory: 1.5 }, { maxMessageBytes: 0 }, { greetingTimeoutMs: -1 }]) {
      await expect(QmpClient.connect({ path: join(dir, 's.sock'), ...bad })).rejects.toMatchObject({
        code: 'QMP_INVALID_ARGUMENT',
      });
    }
    await sleep(20);
    expect(connections).toBe(0);
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts only live calls as queued, and frees what an abandoned one carried', async () => {
    const { server, client } = await connected({ capabilities: [] });
    const first = client.execute('query-name');
    const queued = Array.from({ length: 5 }, () =>
      client.execute('query-uuid', undefined, { timeoutMs: 20 }),
    );
    for (const q of queued) await expect(q).rejects.toBeInstanceOf(QmpTimeoutError);
    expect(client.pendingCalls).toEqual({ inFlight: 1, queued: 0 });
    server.reply(server.commands('query-name')[0]!, { name: 'n' });
    await first;
    await tick();
    expect(server.commands('query-uuid')).toHaveLength(0);
    await client.close();
  });
});
