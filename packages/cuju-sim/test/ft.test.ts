import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  killAll,
  port,
  portFree,
  RawHmp,
  RawQmp,
  startSim,
  tempDir,
  waitForPath,
} from './helpers/sim-process.js';

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

/** runvm.sh's command line (reference §8), with the monitor in `d` and an optional QMP socket. */
function vmArgs(d: string, name: string, extra: string[] = []): string[] {
  return [
    '-drive',
    'if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img',
    '-device',
    'virtio-blk,drive=drive0',
    '-m',
    '1G',
    '-enable-kvm',
    '-net',
    'tap,ifname=tap0',
    '-net',
    'nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25',
    '-cpu',
    'host',
    '-vga',
    'std',
    '-chardev',
    `socket,id=mon,path=${join(d, `${name}.monitor`)},server,nowait`,
    '-mon',
    'chardev=mon,id=monitor,mode=readline',
    '-qmp',
    `unix:${join(d, `${name}.qmp`)},server,nowait`,
    ...extra,
  ];
}

/** The backup prints `first commit` before its ACK1 reaches the primary: wait for the primary's side too. */
async function ftStarted(hmp: RawHmp): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await hmp.run('cuju-get-ft-started')) === 'ft_started: 1\r\n') return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the primary never reported ft_started: 1');
}

function pair() {
  return pairWith([]);
}

async function pairWith(primaryExtra: string[]) {
  const d = dir();
  const ftPort = await port();
  const backup = startSim(vmArgs(d, 'vm1r', ['-incoming', `tcp:127.0.0.3:${ftPort},ft_mode`]));
  const primary = startSim(vmArgs(d, 'vm1', primaryExtra));
  // A probe of the -incoming port would count as one of Cuju's 4 FT connections: wait
  // for the line the simulator prints once everything listens instead.
  await Promise.all([backup.waitForStdout('VM init finished'), primary.waitForStdout('VM init finished')]);
  return { d, ftPort, backup, primary };
}

describe('cuju-sim: one FT pair over real TCP', () => {
  it('runs the ftmode.sh flow and reports FT through monitors and stdout markers', async () => {
    const { d, ftPort, backup, primary } = await pair();
    const qmp = await RawQmp.open({ path: join(d, 'vm1.qmp') });
    const greeting = await qmp.negotiate();
    expect(greeting).toEqual({
      QMP: { version: { qemu: { micro: 1, minor: 8, major: 2 }, package: '' }, capabilities: [] },
    });
    await qmp.call('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    // ftmode.sh: the same two lines, and Cuju prints nothing on the monitor for either.
    expect(await hmp.run('migrate_set_capability cuju-ft on')).toBe('');
    expect(await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`)).toBe('');
    await backup.waitForStdout('first commit');
    await primary.waitForStdout('Enter FT mode');
    expect(backup.stdout()).toContain('enter cuju FT mode (incoming)');
    await qmp.wait((m) => m.event === 'RESUME');
    expect(qmp.events('STOP')).toHaveLength(1);
    expect(qmp.events('MIGRATION').map((e) => (e.data as { status: string }).status)).toEqual([
      'setup',
      'active',
      'completed',
    ]);
    expect(await hmp.run('cuju-get-ft-started')).toBe('ft_started: 1\r\n');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
    const infoMigrate = await hmp.run('info migrate');
    expect(infoMigrate).toMatch(
      /^GFT STATUS PRE\r\ncapabilities: .*cuju-ft: on .*\r\nMigration status: cancelled\r\n/,
    );
    const backupHmp = await RawHmp.open(join(d, 'vm1r.monitor'));
    expect(await backupHmp.run('info status')).toBe('VM status: paused (inmigrate)\r\n');
    expect(await backupHmp.run('cuju-get-ft-mode')).toBe('cuju_ft_mode: 5\r\n');
    // query-migrate on the backup has no status (its outgoing state is none).
    const backupQmp = await RawQmp.open({ path: join(d, 'vm1r.qmp') });
    await backupQmp.negotiate();
    expect((await backupQmp.call('query-migrate')).return).toEqual({});
  });

  it('fails over when the primary is SIGKILLed: markers, RESUME and running on the backup', async () => {
    const { d, ftPort, backup, primary } = await pair();
    const backupQmp = await RawQmp.open({ path: join(d, 'vm1r.qmp') });
    await backupQmp.negotiate();
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run('migrate_set_capability cuju-ft on');
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('first commit');
    primary.kill('SIGKILL');
    await backup.waitForStdout('cuju_ft_trans_close vm_started.');
    expect(backup.stdout()).toMatch(/cuju_ft_trans_close\ncuju_ft_trans_close vm_started\.\n/);
    await backupQmp.wait((m) => m.event === 'RESUME');
    expect((await backupQmp.call('query-status')).return).toEqual({
      status: 'running',
      singlestep: false,
      running: true,
    });
    const bh = await RawHmp.open(join(d, 'vm1r.monitor'));
    expect(await bh.run('cuju-get-ft-mode')).toBe('cuju_ft_mode: 6\r\n');
  });

  it('leaves FT on the primary when the backup dies, and keeps the VM running', async () => {
    const { d, ftPort, backup, primary } = await pair();
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run('migrate_set_capability cuju-ft on');
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('first commit');
    await ftStarted(hmp);
    backup.kill('SIGKILL');
    await backup.exited;
    let started = '';
    for (let i = 0; i < 100 && started !== 'ft_started: 0\r\n'; i++) {
      started = await hmp.run('cuju-get-ft-started');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(started).toBe('ft_started: 0\r\n');
    expect(await hmp.run('cuju-get-ft-mode')).toBe('cuju_ft_mode: -1\r\n');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
    expect(await hmp.run('info migrate')).toContain('Migration status: failed');
    expect(primary.exited).toBeInstanceOf(Promise);
  });

  it('fails `migrate -c` to a port nobody listens on, as Cuju does', async () => {
    const d = dir();
    const closed = await port();
    const primary = startSim(vmArgs(d, 'vm1'));
    await waitForPath(join(d, 'vm1.monitor'));
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run('migrate_set_capability cuju-ft on');
    expect(await hmp.run(`migrate -c tcp:127.0.0.1:${closed}`)).toBe('');
    await primary.waitForStdout('Enter FT mode'); // printed before connecting, even when that fails
    let info = '';
    for (let i = 0; i < 100 && !info.includes('failed'); i++) {
      info = await hmp.run('info migrate');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(info).toContain('Migration status: failed (Failed to connect socket: Connection refused)');
    expect(primary.stderr()).toContain('qemu-system-x86_64: Failed to connect socket: Connection refused');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
  });

  it('moves the VM instead of protecting it when cuju-ft was not set (migrate -c alone)', async () => {
    const { d, ftPort, backup } = await pair();
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    expect(await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`)).toBe('');
    await backup.waitForStdout('first commit');
    let status = '';
    for (let i = 0; i < 100 && !status.includes('postmigrate'); i++) {
      status = await hmp.run('info status');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe('VM status: paused (postmigrate)\r\n');
    expect(await hmp.run('cuju-get-ft-started')).toBe('ft_started: 0\r\n');
  });

  it('kills the backup too when the primary dies during the initial sync (no committed epoch)', async () => {
    const d = dir();
    const ftPort = await port();
    const backup = startSim(vmArgs(d, 'vm1r', ['-incoming', `tcp:127.0.0.3:${ftPort},ft_mode`]));
    const primary = startSim(vmArgs(d, 'vm1', ['-sim-crash-at', 'ft-initial-sync']));
    await Promise.all([backup.waitForStdout('VM init finished'), primary.waitForStdout('VM init finished')]);
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run('migrate_set_capability cuju-ft on');
    void hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`).catch(() => {});
    expect((await primary.exited).signal).toBe('SIGKILL');
    expect((await backup.exited).code).toBe(1);
    expect(backup.stderr()).toContain('load of migration failed');
    expect(backup.stdout()).not.toContain('vm_started');
  });

  it('takes over when the FT links drop (-sim-drop-ft-links-after): both sides then run', async () => {
    const d = dir();
    const ftPort = await port();
    const backup = startSim(vmArgs(d, 'vm1r', ['-incoming', `tcp:127.0.0.3:${ftPort},ft_mode`]));
    const primary = startSim(vmArgs(d, 'vm1', ['-sim-drop-ft-links-after', '100']));
    await Promise.all([backup.waitForStdout('VM init finished'), primary.waitForStdout('VM init finished')]);
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run('migrate_set_capability cuju-ft on');
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('cuju_ft_trans_close vm_started.');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
  });

  it('cancels FT with cuju-migrate-cancel without a takeover on the backup', async () => {
    const { d, ftPort, backup } = await pair();
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run('migrate_set_capability cuju-ft on');
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('first commit');
    await ftStarted(hmp);
    expect(await hmp.run('cuju-migrate-cancel')).toBe('');
    expect(await hmp.run('cuju-get-ft-started')).toBe('ft_started: 0\r\n');
    const bh = await RawHmp.open(join(d, 'vm1r.monitor'));
    let mode = '';
    for (let i = 0; i < 50 && mode !== 'cuju_ft_mode: 0\r\n'; i++) {
      mode = await bh.run('cuju-get-ft-mode');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(mode).toBe('cuju_ft_mode: 0\r\n');
    expect(await bh.run('info status')).toBe('VM status: paused (inmigrate)\r\n');
    expect(backup.stdout()).not.toContain('vm_started');
  });

  it('prints the epoch change on stdout (cuju-adjust-epoch, in µs though it says ms)', async () => {
    const d = dir();
    const primary = startSim(vmArgs(d, 'vm1'));
    await waitForPath(join(d, 'vm1.monitor'));
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    expect(await hmp.run('cuju-adjust-epoch 1000*5')).toBe('');
    await primary.waitForStdout('new epoch size is 5000 ms.');
  });
});

describe('cuju-sim: QMP form and fault injection', () => {
  it('starts FT through QMP migrate with "cuju": true', async () => {
    const { d, ftPort, backup } = await pair();
    const qmp = await RawQmp.open({ path: join(d, 'vm1.qmp') });
    await qmp.negotiate();
    expect(
      (await qmp.call('migrate-set-capabilities', { capabilities: [{ capability: 'cuju-ft', state: true }] }))
        .return,
    ).toEqual({});
    expect((await qmp.call('migrate', { uri: `tcp:127.0.0.3:${ftPort}`, cuju: true })).return).toEqual({});
    await backup.waitForStdout('first commit');
    expect((await qmp.call('migrate', { uri: `tcp:127.0.0.3:${ftPort}`, cuju: true })).error).toEqual({
      class: 'GenericError',
      desc: "There's a migration process in progress",
    });
    expect((await qmp.call('cuju-adjust-epoch', { epoch: 10000 })).return).toEqual({});
  });

  it('-sim-stall-greeting: monitors accept clients and never greet them', async () => {
    const d = dir();
    const sim = startSim([...vmArgs(d, 'vm1'), '-sim-stall-greeting']);
    await sim.waitForStdout('VM init finished');
    const qmp = await RawQmp.open({ path: join(d, 'vm1.qmp') });
    await new Promise((r) => setTimeout(r, 300));
    expect(qmp.messages).toEqual([]);
  });

  it('-sim-monitor-delay and -sim-slow-epoch: FT still starts and the monitors still answer', async () => {
    // (No timing is asserted: the options only slow things down.)
    const { d, ftPort, backup } = await pairWith(['-sim-monitor-delay', '100', '-sim-slow-epoch', '50']);
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    expect(await hmp.run('info version')).toBe('2.8.1\r\n');
    await hmp.run('migrate_set_capability cuju-ft on');
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('first commit');
    await ftStarted(hmp);
  });
});

describe('cuju-sim: monitors', () => {
  it('presents the 2.8.1 banner and echoes with QEMU redraw sequences', async () => {
    const d = dir();
    startSim(vmArgs(d, 'vm1'));
    await waitForPath(join(d, 'vm1.monitor'));
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    expect(await hmp.banner).toBe("QEMU 2.8.1 monitor - type 'help' for more information\r\n");
    // What QEMU sends while a line is typed: the whole line redrawn after every byte.
    expect(await hmp.run('info version')).toBe('2.8.1\r\n');
    const echo = Array.from(
      { length: 'info version'.length },
      (_, i) => `${'\x1b[D'.repeat(i)}${'info version'.slice(0, i + 1)}\x1b[K`,
    ).join('');
    expect(hmp.lastRaw).toBe(`${echo}\r\n2.8.1\r\n`);
    expect(await hmp.run('info foo')).toBe("unknown command: 'foo'\r\n"); // 2.8 names only the subcommand
    expect(await hmp.run('migrate_set_capability cuju-ft maybe')).toMatch(
      /Try "help migrate_set_capability" for more information\r\n$/,
    );
  });

  it('keeps a second client waiting without a greeting until the first leaves', async () => {
    const d = dir();
    startSim(vmArgs(d, 'vm1'));
    await waitForPath(join(d, 'vm1.qmp'));
    const first = await RawQmp.open({ path: join(d, 'vm1.qmp') });
    await first.negotiate();
    const second = await RawQmp.open({ path: join(d, 'vm1.qmp') });
    await new Promise((r) => setTimeout(r, 300));
    expect(second.messages).toEqual([]);
    first.close();
    await second.wait((m) => 'QMP' in m);
  });

  it('answers QMP errors with 2.8 classes and texts', async () => {
    const d = dir();
    startSim(vmArgs(d, 'vm1'));
    await waitForPath(join(d, 'vm1.qmp'));
    const qmp = await RawQmp.open({ path: join(d, 'vm1.qmp') });
    await qmp.wait((m) => 'QMP' in m);
    expect((await qmp.call('query-status')).error).toMatchObject({ class: 'CommandNotFound' });
    await qmp.call('qmp_capabilities');
    expect((await qmp.call('no-such-command')).error).toEqual({
      class: 'CommandNotFound',
      desc: 'The command no-such-command has not been found',
    });
    expect((await qmp.call('migrate')).error).toEqual({
      class: 'GenericError',
      desc: "Invalid parameter type for 'uri', expected: string",
    });
    expect(
      (
        await qmp.call('migrate-set-capabilities', {
          capabilities: [{ capability: 'cuju-wdt', state: true }],
        })
      ).error,
    ).toEqual({
      class: 'GenericError',
      desc: "Invalid parameter 'cuju-wdt'",
    });
    const schema = (await qmp.call('query-qmp-schema')).return as Array<{
      name: string;
      'meta-type': string;
      values?: string[];
    }>;
    expect(schema.find((e) => e['meta-type'] === 'enum' && e.values?.includes('cuju-ft'))).toBeDefined();
    expect(schema.some((e) => e.name === 'cuju-failover' && e['meta-type'] === 'command')).toBe(true);
    const hmpText = (await qmp.call('human-monitor-command', { 'command-line': 'info status' })).return;
    expect(hmpText).toBe('VM status: running\r\n');
  });
});

describe('cuju-sim: command line and exit paths', () => {
  it('refuses an unknown option and a malformed value with exit code 1', async () => {
    const bad = startSim(['-frobnicate']);
    expect((await bad.exited).code).toBe(1);
    expect(bad.stderr()).toBe('qemu-system-x86_64: -frobnicate: invalid option\n');
    const badMem = startSim(['-m', 'lots']);
    expect((await badMem.exited).code).toBe(1);
    expect(badMem.stderr()).toMatch(/^qemu-system-x86_64: -m lots: /);
  });

  it('runs as `npx cuju-sim` from the workspace', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const out = execFileSync(join(root, 'node_modules', '.bin', 'cuju-sim'), ['--help'], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/^cuju-sim: a stand-in for Cuju's qemu-system-x86_64/);
  });

  it('says what it simulates and what it does not on --help', async () => {
    const help = startSim(['--help']);
    expect((await help.exited).code).toBe(0);
    expect(help.stdout()).toContain('It runs NO guest');
    expect(help.stdout()).toContain('Not simulated:');
  });

  it('leaves no listening socket or process behind after quit, SIGTERM or a bind failure', async () => {
    const d = dir();
    const ftPort = await port();
    const backup = startSim(vmArgs(d, 'vm1r', ['-incoming', `tcp:127.0.0.3:${ftPort},ft_mode`]));
    const other = startSim(vmArgs(d, 'vm2'));
    await waitForPath(join(d, 'vm1r.monitor'));
    await waitForPath(join(d, 'vm2.monitor'));
    // A second process on the same -incoming address cannot bind: it exits 1.
    const clash = startSim(vmArgs(d, 'vm3', ['-incoming', `tcp:127.0.0.3:${ftPort},ft_mode`]));
    expect((await clash.exited).code).toBe(1);
    const hmp = await RawHmp.open(join(d, 'vm1r.monitor'));
    void hmp.run('quit').catch(() => {});
    expect((await backup.exited).code).toBe(0);
    other.kill('SIGTERM');
    expect((await other.exited).code).toBe(0);
    expect(await portFree('127.0.0.3', ftPort)).toBe(true);
    const { existsSync } = await import('node:fs');
    for (const f of ['vm1r.monitor', 'vm1r.qmp', 'vm2.monitor', 'vm2.qmp', 'vm3.monitor'])
      expect(existsSync(join(d, f)), f).toBe(false);
  });
});
