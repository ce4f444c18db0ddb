import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Hmp,
  HmpArgumentError,
  HmpClient,
  QmpAbortError,
  QmpArgumentError,
  QmpClient,
  QmpCommandError,
  QmpDisconnectedError,
  QmpHmp,
  type QmpMonitor,
  QmpTimeoutError,
  RUN_STATE_TRANSITIONS,
  type RunState,
} from '../src/index.js';
import { RecordingHmp, RecordingQmp } from '../src/testing/index.js';
import { answerNothing, FakeQmpServer, tick } from './helpers/fake-qmp.js';
import { rejection } from './helpers/within.js';

describe('socket paths the kernel would read differently', () => {
  /**
   * A listener at the path the kernel would reach instead (the part before a NUL, the
   * first 107 bytes of a longer path): it must get no connection.
   */
  async function decoy(): Promise<{ path: string; connections: () => number; close(): Promise<void> }> {
    const dir = mkdtempSync(join(tmpdir(), 'qmp-path-'));
    const path = join(dir, 'x'.repeat(107 - dir.length - 1));
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    }).listen(path);
    await new Promise((r) => server.once('listening', r));
    return {
      path,
      connections: () => connections,
      close: async () => {
        await new Promise((r) => server.close(r));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  it.each([
    ['a NUL', (p: string) => `${p}\0.other`, /^path contains a NUL character at index 107;/],
    [
      'more than 107 bytes',
      (p: string) => `${p}yyyy`,
      /^path is 111 bytes long; a Unix socket address holds at most 107/,
    ],
  ])('are refused before any connect, naming the path option: %s', async (_what, make, message) => {
    const target = await decoy();
    expect(Buffer.byteLength(target.path)).toBe(107);
    for (const connect of [
      () => QmpClient.connect({ path: make(target.path), connectTimeoutMs: 1000 }),
      () => HmpClient.connect({ path: make(target.path), connectTimeoutMs: 1000 }),
    ]) {
      const err = await rejection(connect());
      expect(err).toBeInstanceOf(QmpArgumentError);
      expect(err).toMatchObject({
        code: 'QMP_INVALID_ARGUMENT',
        field: 'path',
        message: expect.stringMatching(message),
      });
    }
    expect(target.connections()).toBe(0);
    await target.close();
  });

  it('counts bytes, not characters, and accepts exactly 107', async () => {
    expect(await rejection(QmpClient.connect({ path: `/tmp/${'ž'.repeat(52)}` }))).toMatchObject({
      field: 'path',
      message: expect.stringContaining('is 109 bytes long'),
    });
    const path = `/tmp/${'p'.repeat(102)}`;
    // Not refused as an argument: the connect itself ran (and found nothing there).
    expect(await rejection(QmpClient.connect({ path }))).toMatchObject({
      code: 'QMP_CONNECT_FAILED',
      endpoint: `unix:${path}`,
    });
  });
});

describe('QmpClient run state', () => {
  it('follows connecting, running, disconnecting, idle, and tells every change', async () => {
    const server = new FakeQmpServer({ handler: answerNothing });
    const seen: Array<[RunState, RunState]> = [];
    const client = await QmpClient.connect({ socket: server.clientSide });
    client.on('state', (state, previous) => seen.push([state, previous]));
    expect(client.state).toBe('running');
    const pending = client.execute('query-status');
    const closing = client.close();
    expect(client.state).toBe('disconnecting');
    // Pending calls end at close(), not when the socket is finally gone.
    expect(await rejection(pending)).toBeInstanceOf(QmpDisconnectedError);
    await closing;
    expect(client.state).toBe('idle');
    expect(seen).toEqual([
      ['disconnecting', 'running'],
      ['idle', 'disconnecting'],
    ]);
    // Every change follows the transition table.
    for (const [state, previous] of seen) expect(RUN_STATE_TRANSITIONS[previous]).toContain(state);
  });

  it('goes straight from running to idle when QEMU goes away', async () => {
    const server = new FakeQmpServer({ handler: answerNothing });
    const client = await QmpClient.connect({ socket: server.clientSide });
    const seen: RunState[] = [];
    client.on('state', (state) => seen.push(state));
    const disconnected = new Promise<Error>((r) => client.once('disconnect', r));
    server.hangUp();
    expect(await disconnected).toBeInstanceOf(QmpDisconnectedError);
    expect(seen).toEqual(['idle']);
    expect(client.connected).toBe(false);
  });

  it('writes deadlines in messages as whole milliseconds', async () => {
    const server = new FakeQmpServer({ handler: answerNothing });
    const client = await QmpClient.connect({ socket: server.clientSide });
    const err = await rejection(client.execute('query-status', undefined, { timeoutMs: 12.7 }));
    expect(err).toBeInstanceOf(QmpTimeoutError);
    expect((err as QmpTimeoutError).message).toMatch(/no reply to 'query-status' within 13 ms$/);
    expect((err as QmpTimeoutError).timeoutMs).toBe(13);
    const event = await rejection(client.waitForEvent('RESET', { timeoutMs: 5.2 }));
    expect((event as Error).message).toBe('no RESET event within 5 ms');
    await client.close();
  });

  it('sends short ids, reusing those of answered calls', async () => {
    const server = new FakeQmpServer();
    const client = await QmpClient.connect({ socket: server.clientSide });
    for (let i = 0; i < 50; i++) await client.execute('query-status');
    const ids = server.commands('query-status').map((c) => c.id);
    expect(new Set(ids)).toEqual(new Set([0]));
    expect(server.commands('query-status')[0]!.raw).toBe('{"execute":"query-status","id":0}');
    await client.close();
  });

  it('keeps an abandoned call’s id until its late reply, so no reply goes to the wrong call', async () => {
    const server = new FakeQmpServer({ handler: answerNothing });
    const client = await QmpClient.connect({ socket: server.clientSide });
    const ac = new AbortController();
    const abandoned = client.execute('query-name', undefined, { signal: ac.signal });
    const second = client.execute('query-uuid');
    await tick();
    ac.abort();
    expect(await rejection(abandoned)).toBeInstanceOf(QmpAbortError);
    const third = client.execute('query-kvm');
    await tick();
    const [name, uuid, kvm] = ['query-name', 'query-uuid', 'query-kvm'].map((c) => server.commands(c)[0]!);
    expect(new Set([name!.id, uuid!.id, kvm!.id]).size).toBe(3);
    server.reply(name!, { name: 'late' });
    server.reply(kvm!, { enabled: false, present: false });
    server.reply(uuid!, { UUID: 'u' });
    expect(await second).toEqual({ UUID: 'u' });
    expect(await third).toEqual({ enabled: false, present: false });
    await client.close();
  });
});

describe('QmpMonitor and Hmp with the doubles of @cuju/qmp/testing', () => {
  /** Code a user would write against the interfaces, not the clients. */
  async function pauseAndReport(qmp: QmpMonitor, hmp: Hmp): Promise<string> {
    const stopped = qmp.events({ names: ['STOP'] });
    await qmp.execute('stop');
    const event = await stopped.next();
    stopped.close();
    return `${event.value?.event}: ${await hmp.run('info status')}`;
  }

  it('lets code written against QmpMonitor and Hmp run on recording doubles', async () => {
    const qmp = new RecordingQmp((command) => {
      if (command === 'stop') queueMicrotask(() => qmp.emit('STOP'));
      return {};
    });
    const hmp = new RecordingHmp({ 'info status': 'VM status: paused\r\n' });
    expect(await pauseAndReport(qmp, hmp)).toBe('STOP: VM status: paused\r\n');
    expect(qmp.commands).toEqual(['stop']);
    expect(hmp.lines).toEqual(['info status']);
  });

  it('gives QEMU’s CommandNotFound for a command the script lacks, and refuses what QmpClient refuses', async () => {
    const qmp = new RecordingQmp({ 'query-status': { status: 'running', running: true, singlestep: false } });
    expect((await qmp.execute('query-status')).status).toBe('running');
    expect(await rejection(qmp.execute('cont'))).toMatchObject({
      code: 'QMP_COMMAND_FAILED',
      errorClass: 'CommandNotFound',
    });
    expect(await rejection(qmp.execute('x', { n: Number.NaN }))).toBeInstanceOf(QmpArgumentError);
    await qmp.close();
    expect(await rejection(qmp.execute('query-status'))).toBeInstanceOf(QmpDisconnectedError);
  });

  it('turns any QmpMonitor into an Hmp through human-monitor-command', async () => {
    const qmp = new RecordingQmp((command, args) =>
      command === 'human-monitor-command' ? `ran ${String(args?.['command-line'])}\r\n` : {},
    );
    const hmp = new QmpHmp(qmp);
    expect(await hmp.run('info status')).toBe('ran info status\r\n');
    expect(qmp.calls[0]).toMatchObject({
      command: 'human-monitor-command',
      args: { 'command-line': 'info status' },
    });
    // The same refusals as the readline client: nothing reaches the monitor.
    expect(await rejection(hmp.run('info xěA'))).toBeInstanceOf(HmpArgumentError);
    expect(qmp.calls).toHaveLength(1);
  });

  it('plays a strict script step by step', async () => {
    const failure = new QmpCommandError({
      errorClass: 'GenericError',
      desc: 'no',
      command: 'x',
      arguments: {},
      id: 0,
    });
    const hmp = RecordingHmp.scripted([
      ['migrate_set_capability cuju-ft on', ''],
      ['migrate -c tcp:127.0.0.1:4441', failure],
    ]);
    expect(await hmp.run('migrate_set_capability cuju-ft on')).toBe('');
    expect(await rejection(hmp.run('info status'))).toMatchObject({
      code: 'QMP_INVALID_ARGUMENT',
      message: expect.stringContaining('expects "migrate -c tcp:127.0.0.1:4441"'),
    });
    expect(await rejection(hmp.run('migrate -c tcp:127.0.0.1:4441'))).toBe(failure);
    expect(hmp.remaining).toBe(0);
  });

  it('ends open event streams when the double disconnects', async () => {
    const qmp = new RecordingQmp({});
    const stream = qmp.events();
    qmp.emit('RESUME');
    qmp.disconnect();
    expect((await stream.next()).value?.event).toBe('RESUME');
    expect(await rejection(stream.next())).toBeInstanceOf(QmpDisconnectedError);
  });
});
