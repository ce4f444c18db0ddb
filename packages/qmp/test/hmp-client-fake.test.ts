import { afterEach, describe, expect, it } from 'vitest';
import {
  HmpArgumentError,
  HmpClient,
  QmpAbortError,
  QmpBusyError,
  QmpDisconnectedError,
  QmpTimeoutError,
  type RunState,
} from '../src/index.js';
import { duplexPair } from './helpers/duplex.js';
import { FakeReadlineMonitor } from './helpers/fake-readline.js';
import { rejection } from './helpers/within.js';

const clients: HmpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function connect(monitor: FakeReadlineMonitor, timeoutMs?: number): Promise<HmpClient> {
  const client = await HmpClient.connect({
    socket: monitor.clientSide,
    name: 'fake-readline',
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  clients.push(client);
  return client;
}

describe('HmpClient refuses what readline would not take as written', () => {
  // Each line, sent as it is, makes the fake (like QEMU 7.2) run something else than the line.
  const hazards: Array<[string, string, number, number]> = [
    ['a letter whose UTF-8 holds 0x9B (ě = C4 9B)', 'info xěA', 6, 6],
    ['U+009B itself (C2 9B)', 'info x\u009bA', 6, 6],
    ['ESC [ A', 'info x\x1b[A', 6, 6],
    ['a newline', 'info status\nquit', 11, 11],
    ['DEL', 'info x\x7fy', 6, 6],
    ['a C1 control (U+0085)', 'info \u0085', 5, 5],
    ['0x9B after other non-ASCII text', 'info žluťoučký kůň ě', 19, 25],
  ];

  it.each(hazards)('refuses %s, naming its position, and sends nothing', async (_what, line, index, byte) => {
    const monitor = new FakeReadlineMonitor({ answer: (l) => [`ran ${l}\r\n`] });
    const client = await connect(monitor);
    expect(await client.run('stop')).toBe('ran stop\r\n');
    const err = await rejection(client.run(line));
    expect(err).toBeInstanceOf(HmpArgumentError);
    expect(err).toMatchObject({ code: 'QMP_INVALID_ARGUMENT', position: { index, byte } });
    expect((err as Error).message).toContain(`index ${index}`);
    expect(await client.run('info name')).toBe('ran info name\r\n');
    expect(monitor.executed).toEqual(['stop', 'info name']);
  });

  it('shows on the fake why: `info xěA` typed raw reruns the previous command', async () => {
    // What the refusal prevents, with the fake's QEMU-like readline: 0x9B is CSI, CSI A recalls.
    const monitor = new FakeReadlineMonitor({ answer: (l) => [`ran ${l}\r\n`] });
    const client = await connect(monitor);
    await client.run('stop');
    const raw = Buffer.concat([Buffer.from('info x'), Buffer.from([0xc4, 0x9b]), Buffer.from('A\n')]);
    const reran = new Promise<void>((resolve) => {
      const check = () => (monitor.executed.length === 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    monitor.clientSide.write(raw);
    await reran;
    expect(monitor.executed[1]).toBe('stop');
  });

  it('accepts non-ASCII text without 0x9B and returns it byte-exact', async () => {
    const monitor = new FakeReadlineMonitor({ answer: (l) => [`${l.slice(5)}\r\n`] });
    const client = await connect(monitor);
    expect(await client.run('echo žluťoučký kůň')).toBe('žluťoučký kůň\r\n');
    expect(await client.run('echo 日本語 🙂')).toBe('日本語 🙂\r\n');
  });

  it('refuses a line longer than readline keeps, and a blank one', async () => {
    const client = await connect(new FakeReadlineMonitor());
    expect(await rejection(client.run(`info ${'x'.repeat(5000)}`))).toMatchObject({
      code: 'QMP_INVALID_ARGUMENT',
      message: expect.stringContaining('4095 bytes'),
    });
    expect(await rejection(client.run('   '))).toBeInstanceOf(HmpArgumentError);
  });
});

describe('HmpClient life and faults', () => {
  it('reports its run state and each change, ending idle with one disconnect event', async () => {
    const monitor = new FakeReadlineMonitor();
    const client = await connect(monitor);
    const changes: Array<[RunState, RunState]> = [];
    client.on('state', (state, previous) => changes.push([state, previous]));
    const disconnected = new Promise<Error>((r) => client.once('disconnect', r));
    expect(client.state).toBe('running');
    expect(client.connected).toBe(true);
    await client.close();
    expect(client.state).toBe('idle');
    expect(changes).toEqual([
      ['disconnecting', 'running'],
      ['idle', 'disconnecting'],
    ]);
    expect(await disconnected).toBeInstanceOf(QmpDisconnectedError);
    expect(await rejection(client.run('info status'))).toBeInstanceOf(QmpDisconnectedError);
  });

  it('says the monitor is busy when no banner comes, naming HMP', async () => {
    const { clientSide } = duplexPair();
    const err = await rejection(
      HmpClient.connect({ socket: clientSide, name: 'silent', bannerTimeoutMs: 50 }),
    );
    expect(err).toBeInstanceOf(QmpBusyError);
    expect((err as Error).message).toMatch(/silent: no HMP banner within 50 ms/);
  });

  it('names HMP when the socket cannot be opened', async () => {
    const err = await rejection(HmpClient.connect({ path: '/nonexistent/vm1.monitor' }));
    expect(err).toMatchObject({ code: 'QMP_CONNECT_FAILED', endpoint: 'unix:/nonexistent/vm1.monitor' });
    expect((err as Error).message).toMatch(
      /^cannot connect to HMP monitor unix:\/nonexistent\/vm1\.monitor: .*ENOENT/,
    );
  });

  it('times out and aborts with whole milliseconds, and the next command still gets its own output', async () => {
    const monitor = new FakeReadlineMonitor({
      answer: (l) => (l === 'slow' ? [{ pauseMs: 150 }, 'slow done\r\n'] : [`${l} done\r\n`]),
    });
    const client = await connect(monitor);
    const timedOut = await rejection(client.run('slow', { timeoutMs: 20.4 }));
    expect(timedOut).toBeInstanceOf(QmpTimeoutError);
    expect((timedOut as Error).message).toMatch(/no prompt after 'slow' within 20 ms$/);
    const ac = new AbortController();
    const aborted = client.run('queued', { signal: ac.signal });
    ac.abort();
    expect(await rejection(aborted)).toBeInstanceOf(QmpAbortError);
    expect(await client.run('next')).toBe('next done\r\n');
    expect(monitor.executed).toEqual(['slow', 'next']);
  });

  it('rejects every pending command at once when the monitor goes away', async () => {
    const monitor = new FakeReadlineMonitor({ answer: () => [{ pauseMs: 10_000 }] });
    const client = await connect(monitor);
    const pending = [client.run('a'), client.run('b')];
    await new Promise((r) => setTimeout(r, 10));
    monitor.hangUp();
    for (const p of pending) expect(await rejection(p)).toBeInstanceOf(QmpDisconnectedError);
    expect(client.state).toBe('idle');
  });

  it('keeps secrets out of its error messages', async () => {
    const client = await connect(new FakeReadlineMonitor());
    const err = await rejection(client.run('set_password vnc hunter2', { signal: AbortSignal.abort() }));
    expect((err as Error).message).toContain('set_password <redacted>');
    expect((err as Error).message).not.toContain('hunter2');
  });
});
