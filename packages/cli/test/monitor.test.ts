/**
 * `cuju monitor` against a real qemu-system-x86_64 (-M none -nodefaults, QMP and HMP on
 * Unix sockets): `monitor events` prints events one per line as they come (like `virsh
 * qemu-monitor-event --loop`), ends on Ctrl-C with 130 and on QEMU's exit with 0; the
 * shell's `--execute` runs QMP and HMP lines with `--json` replies; bad sockets exit 4.
 */
import { HmpClient } from '@cuju/qmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QemuProcess, startQemu } from '../../qmp/scripts/qemu-process.js';
import { cuju, requirePeer, start, tempDir } from './helpers.js';

const hasQemu = requirePeer('qemu-system-x86_64');
let qemu: QemuProcess;
let cwd: { dir: string; cleanup: () => void };

beforeAll(async () => {
  cwd = tempDir('cuju-cli-monitor-');
  if (hasQemu) qemu = await startQemu({ hmp: true });
});
afterAll(async () => {
  await qemu?.stop();
  cwd.cleanup();
});

/** Runs HMP lines on the QEMU's readline monitor (another client than the CLI's). */
async function hmp(...lines: string[]): Promise<void> {
  const client = await HmpClient.connect({ path: qemu.hmpPath });
  try {
    for (const line of lines) await client.run(line);
  } finally {
    await client.close();
  }
}

describe.runIf(hasQemu)('cuju monitor events', () => {
  it('prints each event as it comes, as JSON lines with --json, and stops after --count', async () => {
    const events = start(['monitor', 'events', '--socket', qemu.qmpPath, '--json', '--count', '2'], {
      cwd: cwd.dir,
    });
    await events.waitFor((r) => r.type === 'connected');
    // startQemu's VM starts paused (-S): cont, then stop.
    await hmp('cont', 'stop');
    expect(await events.exited).toBe(0);
    const got = events.records.filter((r) => r.type === 'event');
    expect(got.map((e) => e.event)).toEqual(['RESUME', 'STOP']);
    expect(got[0]).toMatchObject({ timestamp: { seconds: expect.any(Number) }, seq: expect.any(Number) });
  });

  it('filters by --event and prints a human line per event', async () => {
    const events = start(
      ['monitor', 'events', '--socket', qemu.qmpPath, '--event', 'RESUME', '--count', '1'],
      {
        cwd: cwd.dir,
      },
    );
    // Without --json the only sign that it listens is its note on stderr.
    await new Promise<void>((resolve) => events.child.stderr!.once('data', () => resolve()));
    await hmp('cont', 'stop');
    expect(await events.exited).toBe(0);
    expect(events.stdout()).toMatch(/^event RESUME at \d+\.\d{6}: <null>\n$/);
  });

  it('ends on Ctrl-C with 130', async () => {
    const events = start(['monitor', 'events', '--socket', qemu.qmpPath, '--json'], { cwd: cwd.dir });
    await events.waitFor((r) => r.type === 'connected');
    events.child.kill('SIGINT');
    expect(await events.exited).toBe(130);
    expect(events.records.at(-1)).toMatchObject({ type: 'error', code: 'CLI_INTERRUPTED' });
  });

  it('a missing socket exits 4', async () => {
    const r = await cuju(['monitor', 'events', '--socket', `${cwd.dir}/none.qmp`, '--json'], {
      cwd: cwd.dir,
    });
    expect(r.code).toBe(4);
    expect(r.records.at(-1)).toMatchObject({ type: 'error', code: 'CLI_NOT_FOUND' });
  });
});

describe.runIf(hasQemu)('cuju monitor --execute', () => {
  it('runs QMP lines in qmp-shell syntax and prints the replies as JSON lines', async () => {
    const r = await cuju(
      [
        'monitor',
        '--socket',
        qemu.qmpPath,
        '--qmp',
        '-e',
        'cont',
        '-e',
        'query-status',
        '-e',
        'query-command-line-options option=chardev',
        '--json',
      ],
      { cwd: cwd.dir },
    );
    expect(r.code, r.stderr).toBe(0);
    const replies = r.records.filter((x) => x.type === 'reply');
    expect(replies[0]).toMatchObject({ line: 'cont', return: {} });
    expect(replies[1]).toMatchObject({ line: 'query-status', return: { status: 'running', running: true } });
    expect(replies[2]!.return).toEqual([expect.objectContaining({ option: 'chardev' })]);
  });

  it('a command QEMU refuses is an error line and exit 1', async () => {
    const r = await cuju(['monitor', '--socket', qemu.qmpPath, '--qmp', '-e', 'no-such-command', '--json'], {
      cwd: cwd.dir,
    });
    expect(r.code).toBe(1);
    expect(r.records.find((x) => x.type === 'error' && x.line === 'no-such-command')).toMatchObject({
      message: expect.stringContaining('CommandNotFound'),
    });
  });

  it('runs HMP lines on a readline monitor (not a Cuju build: no build detected)', async () => {
    const r = await cuju(['monitor', '--socket', qemu.hmpPath, '-e', 'stop', '-e', 'info status', '--json'], {
      cwd: cwd.dir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.records[0]).toMatchObject({ type: 'connected', protocol: 'hmp', build: null });
    expect(r.records[1]).toMatchObject({ type: 'reply', line: 'stop', output: '' });
    expect(r.records[2]).toMatchObject({ type: 'reply', line: 'info status', output: 'VM status: paused' });
  });
});

describe.runIf(hasQemu)('cuju monitor events when QEMU goes away', () => {
  it('prints SHUTDOWN, says the monitor closed, exits 0', async () => {
    const own = await startQemu({ hmp: true });
    try {
      const events = start(['monitor', 'events', '--socket', own.qmpPath, '--json'], { cwd: cwd.dir });
      await events.waitFor((r) => r.type === 'connected');
      const client = await HmpClient.connect({ path: own.hmpPath });
      await client.run('quit').catch(() => {});
      await client.close();
      expect(await events.exited).toBe(0);
      expect(events.records.filter((r) => r.type === 'event').map((r) => r.event)).toContain('SHUTDOWN');
      expect(events.records.at(-1)).toMatchObject({ type: 'closed' });
    } finally {
      await own.stop();
    }
  });
});
