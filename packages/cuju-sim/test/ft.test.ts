import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  killAll,
  monitorOptions,
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
    ...monitorOptions(d, name),
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

describe('cuju-sim (master build, the default): one FT pair over real TCP', () => {
  it('runs the ftmode.sh flow and reports FT through monitors and stdout markers', async () => {
    const { d, ftPort, backup, primary } = await pair();
    const qmp = await RawQmp.open({ path: join(d, 'vm1.qmp') });
    const greeting = await qmp.negotiate();
    expect(greeting).toEqual({
      QMP: { version: { qemu: { micro: 0, minor: 8, major: 2 }, package: '' }, capabilities: [] },
    });
    await qmp.call('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    // Every monitor is opened before FT starts: a new one during FT crashes Cuju (issue #13).
    const backupHmp = await RawHmp.open(join(d, 'vm1r.monitor'));
    const backupQmp = await RawQmp.open({ path: join(d, 'vm1r.qmp') });
    await backupQmp.negotiate();
    expect(await backupHmp.run('cuju-get-ft-mode')).toBe('cuju_ft_mode: 1\r\n'); // INIT: -incoming ...,ft_mode
    // ftmode.sh: the same two lines, and Cuju prints nothing on the monitor for either.
    expect(await hmp.run('migrate_set_capability cuju-ft on')).toBe('');
    expect(await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`)).toBe('');
    await backup.waitForStdout('first commit');
    await primary.waitForStdout('migrate_timer tick 0');
    // cuju-builds.md §5, in the order master prints them (migration.c@21f9f0b:1515, 2606,
    // 2695, 2414, 3069; the tick line follows an empty line).
    expect(primary.stdout()).toMatch(
      /^VM init finished\nEnter FT mode\nStart system memory backup\nstart cuju process\nmigrate_ft_trans_get_ready recv ack, index 0\n\nmigrate_timer tick 0\n/,
    );
    // The backup says it enters FT after the initial load, then commits (migration.c@21f9f0b:607).
    expect(backup.stdout()).toMatch(/^VM init finished\nenter cuju FT mode \(incoming\)\nfirst commit\n/);
    await qmp.wait((m) => m.event === 'RESUME');
    expect(qmp.events('STOP')).toHaveLength(1);
    expect(qmp.events('MIGRATION').map((e) => (e.data as { status: string }).status)).toEqual([
      'setup',
      'active',
      'completed',
    ]);
    await ftStarted(hmp);
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
    // A primary's cuju_ft_mode stays OFF while FT runs: only errors set it.
    expect(await hmp.run('cuju-get-ft-mode')).toBe('cuju_ft_mode: 0\r\n');
    // master prints no GFT STATUS line; Cuju's FT state reads `cancelled`, with
    // `total time: 0` and no `setup:` line (cuju-builds.md §5).
    expect(await hmp.run('info migrate')).toMatch(
      /^capabilities: xbzrle: off .*cuju-ft: (on|off) \r\nMigration status: cancelled\r\ntotal time: 0 milliseconds\r\n$/,
    );
    // Capabilities live in each MigrationState and the current one alternates with the
    // epochs; `-c` set cuju-ft in the first only, so it reads on and off by turns
    // (cuju-builds.md §5, inferred from the code).
    const seen = new Set<string>();
    for (let i = 0; i < 500 && seen.size < 2; i++) {
      const state = /cuju-ft: (on|off)/.exec(await hmp.run('info migrate_capabilities'))?.[1];
      if (state) seen.add(state);
    }
    expect([...seen].sort()).toEqual(['off', 'on']);
    expect(await backupHmp.run('info status')).toBe('VM status: paused (inmigrate)\r\n');
    expect(await backupHmp.run('cuju-get-ft-mode')).toBe('cuju_ft_mode: 5\r\n');
    // query-migrate on the backup has no status (its outgoing state is none).
    expect((await backupQmp.call('query-migrate')).return).toEqual({});
  });

  it('fails over when the primary is SIGKILLed: markers, RESUME and running on the backup', async () => {
    const { d, ftPort, backup, primary } = await pair();
    const backupQmp = await RawQmp.open({ path: join(d, 'vm1r.qmp') });
    await backupQmp.negotiate();
    const bh = await RawHmp.open(join(d, 'vm1r.monitor'));
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
    expect(await bh.run('cuju-get-ft-mode')).toBe('cuju_ft_mode: 6\r\n');
  });

  it('returns to non-FT when the backup dies: ACK1 failed, migration status unchanged, VM running', async () => {
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
    // migration.c@21f9f0b:2441-2482: `...receive ACK1 failed.`, backup_die, then
    // cuju_migrate_cancel_con: the mode and the migration status stay as they were.
    await primary.waitForStdout('migrate_ft_trans_get_ready sender receive ACK1 failed.');
    expect(await hmp.run('cuju-get-ft-mode')).toBe('cuju_ft_mode: 0\r\n');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
    expect(await hmp.run('info migrate')).toContain('Migration status: cancelled\r\n');
  });

  it('fails `migrate -c` to a port nobody listens on, as Cuju does', async () => {
    const d = dir();
    const closed = await port();
    const primary = startSim(vmArgs(d, 'vm1'));
    await waitForPath(join(d, 'vm1.monitor'));
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    // `-c` connects Cuju's 4 links before the command returns (connect_sync,
    // socket.c@21f9f0b:193): the refusal is the command's own error, on the monitor.
    expect(await hmp.run(`migrate -c tcp:127.0.0.1:${closed}`)).toBe(
      'Failed to connect socket: Connection refused\r\n',
    );
    await primary.waitForStdout('Enter FT mode'); // printed before connecting, even when that fails
    expect(await hmp.run('info migrate')).toContain(
      'Migration status: failed (Failed to connect socket: Connection refused)',
    );
    expect(primary.stderr()).toBe('');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
  });

  it('`migrate -c` alone starts FT: it turns cuju-ft on itself (PR #85)', async () => {
    const { d, ftPort, backup } = await pair();
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    expect(await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`)).toBe('');
    await backup.waitForStdout('first commit');
    await ftStarted(hmp);
  });

  it('`migrate -c` sets cuju-ft and a plain `migrate` clears it, before the in-progress check', async () => {
    const { d } = await pair();
    // On the backup every migrate is refused (it waits for its primary), yet the
    // capability is written first (migration.c@21f9f0b:1513-1519).
    const bh = await RawHmp.open(join(d, 'vm1r.monitor'));
    const cujuFt = async () => /cuju-ft: (on|off)/.exec(await bh.run('info migrate_capabilities'))?.[1];
    expect(await cujuFt()).toBe('off');
    expect(await bh.run('migrate -c tcp:127.0.0.1:1')).toBe('Guest is waiting for an incoming migration\r\n');
    expect(await cujuFt()).toBe('on');
    expect(await bh.run('migrate -d tcp:127.0.0.1:1')).toBe('Guest is waiting for an incoming migration\r\n');
    expect(await cujuFt()).toBe('off');
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

  it('cuts the FT links on SIGUSR2 (-sim-usr2-drops-ft-links): the backup takes over, the primary runs on', async () => {
    const { d, ftPort, backup, primary } = await pairWith(['-sim-usr2-drops-ft-links']);
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run('migrate_set_capability cuju-ft on');
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('first commit');
    await ftStarted(hmp);
    primary.kill('SIGUSR2');
    await backup.waitForStdout('cuju_ft_trans_close vm_started.');
    await primary.waitForStdout('migrate_ft_trans_get_ready sender receive ACK1 failed.');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
    expect(await hmp.run('cuju-get-ft-started')).toBe('ft_started: 0\r\n');
  });

  it('cancels FT with cuju-migrate-cancel: CHECKALIVE, the backup answers and exits 0, no takeover', async () => {
    const { d, ftPort, backup } = await pair();
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('first commit');
    await ftStarted(hmp);
    expect(await hmp.run('cuju-migrate-cancel')).toBe('');
    // cuju-ft-trans-file.c@21f9f0b:605-610: ACK1|ALIVE, then exit(0).
    expect(await backup.exited).toEqual({ code: 0, signal: null });
    expect(backup.stdout()).not.toContain('cuju_ft_trans_close');
    let started = '';
    for (let i = 0; i < 200 && started !== 'ft_started: 0\r\n'; i++) {
      started = await hmp.run('cuju-get-ft-started');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(started).toBe('ft_started: 0\r\n');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
    expect(await hmp.run('info migrate')).toContain('Migration status: cancelled\r\n');
  });

  it('prints the epoch change on stdout in us (cuju-adjust-epoch takes microseconds)', async () => {
    const d = dir();
    const primary = startSim(vmArgs(d, 'vm1'));
    await waitForPath(join(d, 'vm1.monitor'));
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    expect(await hmp.run('cuju-adjust-epoch 1000*5')).toBe('');
    await primary.waitForStdout('new epoch size is 5000 us.');
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
    // Not refused while FT runs (Cuju's FT state reads `cancelled`, migration.c@21f9f0b:878-890):
    // the migration is attempted, and the backup, which took its 4 links, no longer listens.
    expect(
      (await qmp.call('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] }))
        .return,
    ).toEqual({});
    expect((await qmp.call('migrate', { uri: `tcp:127.0.0.3:${ftPort}`, cuju: true })).error).toEqual({
      class: 'GenericError',
      desc: 'Failed to connect socket: Connection refused',
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
    expect(await hmp.run('info version')).toBe('2.8.0\r\n');
    await hmp.run('migrate_set_capability cuju-ft on');
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('first commit');
    await ftStarted(hmp);
  });
});

describe('cuju-sim: -sim-stdout-buffered (a binary that does not line-buffer its stdout)', () => {
  it('holds the markers back while it runs and flushes them at a normal exit', async () => {
    const d = dir();
    const sim = startSim([...vmArgs(d, 'vm1'), '-sim-stdout-buffered']);
    // Up: its monitor answers, although `VM init finished` is still in its buffer.
    await waitForPath(join(d, 'vm1.monitor'));
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
    expect(await hmp.run('cuju-adjust-epoch 10000')).toBe('');
    expect(sim.stdout()).toBe('');
    sim.kill('SIGTERM');
    const exit = await sim.exited;
    expect(exit.code).toBe(0);
    // exit() flushes stdio: every line comes out, in order, at the end.
    expect(sim.stdout()).toBe('VM init finished\nnew epoch size is 10000 us.\n');
  });

  it('loses what it holds in a crash, and writes full 4096-byte blocks as they fill', async () => {
    const d = dir();
    const ftPort = await port();
    const backup = startSim(vmArgs(d, 'vm1r', ['-incoming', `tcp:127.0.0.3:${ftPort},ft_mode`]));
    const primary = startSim(vmArgs(d, 'vm1', ['-sim-stdout-buffered']));
    await backup.waitForStdout('VM init finished');
    await waitForPath(join(d, 'vm1.monitor'));
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    await hmp.run('migrate_set_capability cuju-ft on');
    await hmp.run(`migrate -c tcp:127.0.0.3:${ftPort}`);
    await backup.waitForStdout('first commit');
    await ftStarted(hmp);
    // 200 epoch lines of 27 bytes fill a 4096-byte block.
    for (let i = 0; i < 200; i++) await hmp.run('cuju-adjust-epoch 1000');
    await primary.waitForStdout('new epoch size is 1000 us.');
    expect(primary.stdout().length % 4096).toBe(0);
    const held = primary.stdout().length;
    primary.kill('SIGKILL');
    await primary.exited;
    expect(primary.stdout().length).toBe(held);
    // Its backup, line-buffered as Cuju is, took over.
    await backup.waitForStdout('cuju_ft_trans_close vm_started.');
  });
});

describe('cuju-sim: monitors', () => {
  it("presents Cuju's 2.8.0 banner and echoes with QEMU redraw sequences", async () => {
    const d = dir();
    startSim(vmArgs(d, 'vm1'));
    await waitForPath(join(d, 'vm1.monitor'));
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    expect(await hmp.banner).toBe("QEMU 2.8.0 monitor - type 'help' for more information\r\n");
    // What QEMU sends while a line is typed: the whole line redrawn after every byte.
    expect(await hmp.run('info version')).toBe('2.8.0\r\n');
    const echo = Array.from(
      { length: 'info version'.length },
      (_, i) => `${'\x1b[D'.repeat(i)}${'info version'.slice(0, i + 1)}\x1b[K`,
    ).join('');
    expect(hmp.lastRaw).toBe(`${echo}\r\n2.8.0\r\n`);
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
