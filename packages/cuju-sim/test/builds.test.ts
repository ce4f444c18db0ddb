import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SIM_BUILDS, type SimBuild } from '../src/builds.js';
import { HMP_TABLES } from '../src/hmp-table.js';
import {
  killAll,
  monitorOptions,
  port,
  portFree,
  RawHmp,
  RawQmp,
  type SimProcess,
  startSim,
  tempDir,
} from './helpers/sim-process.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0)) await c();
});

function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

/**
 * cuju-builds.md §2 "Commands by build", as data: each Cuju command and the builds that
 * have it (the blk-server paragraph under the table for that column). The simulator's
 * tables must say exactly this, and so must its monitors.
 */
const REFERENCE: Readonly<Record<string, readonly SimBuild[]>> = {
  migrate_set_capability: ['master', 'groupft', 'blk-server'],
  migrate: ['master', 'groupft', 'blk-server'],
  'cuju-migrate-cancel': ['master'],
  'cuju-get-ft-mode': ['master'],
  'cuju-get-ft-started': ['master'],
  'cuju-adjust-epoch': ['master', 'groupft', 'blk-server'],
  'cuju-failover': ['master', 'groupft', 'blk-server'],
  gft_add_host: ['groupft', 'blk-server'],
  gft_add_host2: ['groupft'],
  gft_init: ['groupft', 'blk-server'],
  gft_add_backup: ['groupft'],
  gft_add_member: ['groupft'],
  gft_member_live_mig: ['groupft'],
  migrate_pause: ['groupft'],
  migrate_resume: ['groupft'],
  info_migrate: ['groupft'],
  // watchdog only, on its own branch: no build here has them.
  'cuju-wdt-remote': [],
  'cuju-wdt-local': [],
  'cuju-wdt-third': [],
  'cuju-wdt-set-timer-sec': [],
  'cuju-wdt-set-timer-mili': [],
  'cuju-reset-timer-run': [],
};

/** The help texts the reference quotes (cuju-builds.md §2), as `help NAME` prints them. */
const HELP_LINES: ReadonlyArray<readonly [SimBuild, string, string]> = [
  ['master', 'cuju-migrate-cancel', 'cuju-migrate-cancel  -- cancel the current VM fault tolerance\r\n'],
  ['master', 'cuju-get-ft-mode', 'cuju-get-ft-mode  -- Get current ft mode information of Cuju\r\n'],
  ['master', 'cuju-get-ft-started', 'cuju-get-ft-started  -- Get started of Cuju-ft\r\n'],
  ['master', 'cuju-failover', 'cuju-failover  -- call failover\r\n'],
  ['groupft', 'cuju-adjust-epoch', 'cuju-adjust-epoch epoch -- adjust epoch size in cuju-ft\r\n'],
  ['groupft', 'gft_init', 'gft_init  -- add a master/slave pair to group ft\r\n'],
  [
    'blk-server',
    'gft_add_host',
    'gft_add_host gft_id master_host_ip master_host_gft_port master_mac slave_host_ip slave_host_ft_port -- add a master/slave pair to group ft\r\n',
  ],
];

function monitorArgs(d: string, name: string, build: SimBuild, extra: string[] = []): string[] {
  return ['-sim-build', build, ...monitorOptions(d, name), ...extra];
}

/** A build's VM, ready; groupft VMs get a free join port (each binds one, 5000 by default). */
async function vm(
  build: SimBuild,
  name: string,
  extra: string[] = [],
): Promise<{ sim: SimProcess; d: string; hmp: RawHmp }> {
  const d = dir();
  const join_ = build === 'groupft' ? ['-ft-join-port', String(await port())] : [];
  const sim = startSim(monitorArgs(d, name, build, [...join_, ...extra]));
  await sim.waitForStdout('VM init finished');
  return { sim, d, hmp: await RawHmp.open(join(d, `${name}.monitor`)) };
}

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { server, port: (server.address() as { port: number }).port };
}

describe('each build has exactly the commands cuju-builds.md §2 lists', () => {
  it.each(SIM_BUILDS)('%s: the table', (build) => {
    const names = new Set(HMP_TABLES[build].flatMap((d) => d.name.split('|')));
    for (const [command, builds] of Object.entries(REFERENCE)) {
      expect(names.has(command), `${build} ${command}`).toBe(builds.includes(build));
    }
  });

  it.each(SIM_BUILDS)("%s: its monitor's help and answers agree", async (build) => {
    const { hmp } = await vm(build, 'vm1');
    expect(await hmp.banner).toBe("QEMU 2.8.0 monitor - type 'help' for more information\r\n");
    const help = await hmp.run('help');
    for (const [command, builds] of Object.entries(REFERENCE)) {
      const listed = help.split('\r\n').some((l) => l.startsWith(`${command} `));
      expect(listed, `help lists ${command} on ${build}`).toBe(builds.includes(build));
      if (!builds.includes(build)) {
        // Safe to type: a command the build lacks is only an unknown command.
        expect(await hmp.run(command)).toBe(`unknown command: '${command}'\r\n`);
      }
    }
    for (const [b, command, line] of HELP_LINES)
      if (b === build) expect(await hmp.run(`help ${command}`)).toBe(line);
  });

  it('has cuju-migrate-cancel in QMP on master only', async () => {
    for (const build of SIM_BUILDS) {
      const { d } = await vm(build, `q-${build}`);
      const qmp = await RawQmp.open({ path: join(d, `q-${build}.qmp`) });
      await qmp.negotiate();
      const names = ((await qmp.call('query-commands')).return as Array<{ name: string }>).map((c) => c.name);
      expect(names.includes('cuju-migrate-cancel'), build).toBe(build === 'master');
      expect(names).toContain('cuju-failover');
      qmp.close();
    }
  });
});

describe('command-line options by build (cuju-builds.md §3)', () => {
  it("master refuses Cuju's options with QEMU's own message, exit 1", async () => {
    for (const [option, value] of [
      ['-ft-join-port', '5001'],
      ['-gft-id', '0'],
      ['-blk-server', '127.0.0.1:5001'],
      ['-blk-server-listen', ':5001'],
    ] as const) {
      const sim = startSim(['-sim-build', 'master', option, value]);
      expect((await sim.exited).code).toBe(1);
      expect(sim.stderr()).toBe(`qemu-system-x86_64: ${option}: invalid option\n`);
    }
    const groupft = startSim(['-sim-build', 'groupft', '-blk-server', '127.0.0.1:5001']);
    expect((await groupft.exited).code).toBe(1);
    expect(groupft.stderr()).toBe('qemu-system-x86_64: -blk-server: invalid option\n');
  });

  it.each([[[]], [['-gft-id', '1']]])(
    'groupft binds its join port at start, with or without -gft-id (%j)',
    async (gftId) => {
      const d = dir();
      const joinPort = await port();
      const sim = startSim([
        ...monitorArgs(d, 'vm1', 'groupft'),
        '-ft-join-port',
        String(joinPort),
        ...gftId,
      ]);
      await sim.waitForStdout('VM init finished');
      // Checked by binding it, never by connecting (that would abort the VM).
      expect(await portFree('0.0.0.0', joinPort)).toBe(false);
    },
  );

  it.each([[[]], [['-gft-id', '0']]])(
    'groupft aborts as the assert does when its join port is taken (%j)',
    async (gftId) => {
      const taken = await listening();
      const d = dir();
      const sim = startSim([
        ...monitorArgs(d, 'vm1', 'groupft'),
        '-ft-join-port',
        String(taken.port),
        ...gftId,
      ]);
      expect((await sim.exited).signal).toBe('SIGABRT');
      expect(sim.stderr()).toBe(
        'qemu-system-x86_64: Failed to bind socket: Address already in use\n' +
          "qemu-system-x86_64: vl.c:4728: main: Assertion `!gft_init(ft_join_port)' failed.\n",
      );
      expect(sim.stdout()).not.toContain('VM init finished');
    },
  );

  it('groupft aborts when its join port is probed (connect, close): the accept handler asserts', async () => {
    const d = dir();
    const joinPort = await port();
    const sim = startSim([...monitorArgs(d, 'vm1', 'groupft'), '-ft-join-port', String(joinPort)]);
    await sim.waitForStdout('VM init finished');
    const { createConnection } = await import('node:net');
    const probe = createConnection({ host: '127.0.0.1', port: joinPort });
    await new Promise<void>((resolve) => probe.once('connect', () => resolve()));
    probe.end();
    expect((await sim.exited).signal).toBe('SIGABRT');
    expect(sim.stderr()).toContain(
      "migration/migration.c:4149: gft_master_accept_leader: Assertion `read(fd, &received, sizeof(received)) == sizeof(received)' failed.",
    );
  });

  it('blk-server accepts -ft-join-port but binds nothing (the gft_init assert is commented out)', async () => {
    const joinPort = await port();
    await vm('blk-server', 'vm1', ['-ft-join-port', String(joinPort), '-gft-id', '0']);
    expect(await portFree('0.0.0.0', joinPort)).toBe(true);
  });
});

describe('what each build prints', () => {
  it.each([
    ['master', 'new epoch size is 5000 us.'],
    ['groupft', 'new epoch size is 5000 us.'],
    ['blk-server', 'new epoch size is 5000 ms.'],
  ] as const)('%s: the epoch line reads %j', async (build, line) => {
    const { sim, hmp } = await vm(build, 'vm1');
    expect(await hmp.run('cuju-adjust-epoch 5000')).toBe('');
    await sim.waitForStdout(`${line}\n`);
  });

  it.each([
    ['master', '', ''],
    ['groupft', 'GFT STATUS PRE\r\n', 'in func qmp_query_migrate \n'],
    ['blk-server', '', ''],
  ] as const)('%s: info migrate before any migration is %j', async (build, monitor, stdout) => {
    const { sim, hmp } = await vm(build, 'vm1');
    expect(await hmp.run('info migrate')).toBe(monitor);
    // The epoch line after it marks where the answer's stdout ends (stdout is in order).
    expect(await hmp.run('cuju-adjust-epoch 7')).toBe('');
    await sim.waitForStdout('new epoch size is 7 ');
    // groupft's qmp_query_migrate prints its name, a trailing space included (migration.c@d2e55fe:985).
    expect(
      sim
        .stdout()
        .replace('VM init finished\n', '')
        .replace(/new epoch size is 7 \w+\.\n$/, ''),
    ).toBe(stdout);
  });
});

describe('commands that crash a real VM crash the simulator (SIGSEGV)', () => {
  it('master: cuju-migrate-cancel outside FT', async () => {
    const { sim, hmp } = await vm('master', 'vm1');
    void hmp.run('cuju-migrate-cancel').catch(() => {});
    expect((await sim.exited).signal).toBe('SIGSEGV');
  });

  it.each(['master', 'groupft'] as const)(
    '%s: cuju-failover on a primary (no receiver transaction)',
    async (build) => {
      const { sim, hmp } = await vm(build, 'vm1');
      void hmp.run('cuju-failover').catch(() => {});
      expect((await sim.exited).signal).toBe('SIGSEGV');
      // qmp_cuju_failover, then cuju_ft_trans_close(NULL) prints its name before it dereferences.
      expect(sim.stdout()).toBe('VM init finished\nqmp_cuju_failover\ncuju_ft_trans_close\n');
    },
  );

  it('master: cuju-failover on a receiver that is not in FT yet', async () => {
    const { sim, hmp } = await vm('master', 'vm1r', ['-incoming', `tcp:127.0.0.1:${await port()},ft_mode`]);
    void hmp.run('cuju-failover').catch(() => {});
    expect((await sim.exited).signal).toBe('SIGSEGV');
  });

  it('blk-server: cuju-failover is a stub that prints its name and changes nothing', async () => {
    const { sim, hmp } = await vm('blk-server', 'vm1');
    expect(await hmp.run('cuju-failover')).toBe('');
    await sim.waitForStdout('qmp_cuju_failover\n');
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
  });

  it.each(['master', 'groupft'] as const)(
    '%s: a new monitor client while FT runs (Cuju issue #13); the one opened before keeps working',
    async (build) => {
      const d = dir();
      const ftPort = await port();
      const joins = async () => (build === 'groupft' ? ['-ft-join-port', String(await port())] : []);
      const backup = startSim(
        monitorArgs(d, 'vm1r', build, [...(await joins()), '-incoming', `tcp:127.0.0.1:${ftPort},ft_mode`]),
      );
      const primary = startSim(monitorArgs(d, 'vm1', build, await joins()));
      await Promise.all([
        backup.waitForStdout('VM init finished'),
        primary.waitForStdout('VM init finished'),
      ]);
      const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
      expect(await hmp.run('migrate_set_capability cuju-ft on')).toBe('');
      expect(await hmp.run(`migrate -c tcp:127.0.0.1:${ftPort}`)).toBe('');
      await backup.waitForStdout('first commit');
      expect(await hmp.run('info status')).toBe('VM status: running\r\n');
      const late = RawQmp.open({ path: join(d, 'vm1.qmp') });
      expect((await primary.exited).signal).toBe('SIGSEGV');
      (await late.catch(() => undefined))?.close();
      // The primary is gone: its backup takes over, as after any crash.
      await backup.waitForStdout('cuju_ft_trans_close vm_started.');
    },
  );
});

describe('groupft FT pair (no group): -c needs cuju-ft; GFT STATUS stays PRE; backup death is an error', () => {
  async function pair() {
    const d = dir();
    const ftPort = await port();
    const backup = startSim(
      monitorArgs(d, 'vm1r', 'groupft', [
        '-ft-join-port',
        String(await port()),
        '-incoming',
        `tcp:127.0.0.1:${ftPort},ft_mode`,
      ]),
    );
    const primary = startSim(monitorArgs(d, 'vm1', 'groupft', ['-ft-join-port', String(await port())]));
    await Promise.all([backup.waitForStdout('VM init finished'), primary.waitForStdout('VM init finished')]);
    return { d, ftPort, backup, primary, hmp: await RawHmp.open(join(d, 'vm1.monitor')) };
  }

  it('`migrate -c` without cuju-ft is an ordinary migration: the VM moves', async () => {
    const { ftPort, hmp, primary } = await pair();
    expect(await hmp.run(`migrate -c tcp:127.0.0.1:${ftPort}`)).toBe('');
    let status = '';
    for (let i = 0; i < 200 && !status.includes('postmigrate'); i++) {
      status = await hmp.run('info status');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe('VM status: paused (postmigrate)\r\n');
    expect(primary.stdout()).toContain('Enter FT mode\n');
    expect(primary.stdout()).not.toContain('Start system memory backup');
  });

  it('with cuju-ft on: FT runs, GFT STATUS PRE, and a dead backup fails the migration', async () => {
    const { ftPort, hmp, backup, primary } = await pair();
    expect(await hmp.run('migrate_set_capability cuju-ft on')).toBe('');
    expect(await hmp.run(`migrate -c tcp:127.0.0.1:${ftPort}`)).toBe('');
    await backup.waitForStdout('first commit');
    await primary.waitForStdout('migrate_timer tick 0');
    // groupft prints neither `start cuju process` nor the recv-ack line (both FTPRINTF).
    expect(primary.stdout()).toMatch(
      /^VM init finished\nEnter FT mode\nStart system memory backup\n\nmigrate_timer tick 0\n/,
    );
    expect(await hmp.run('info migrate')).toMatch(
      /^GFT STATUS PRE\r\ncapabilities: .*\r\nMigration status: cancelled\r\n/,
    );
    backup.kill('SIGKILL');
    await primary.waitForStdout('migrate_ft_trans_get_ready sender receive ACK1 failed.');
    let info = '';
    for (let i = 0; i < 200 && !info.includes('failed'); i++) {
      info = await hmp.run('info migrate');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(info).toBe(
      `GFT STATUS PRE\r\n${info.split('\r\n')[1]}\r\nMigration status: failed\r\ntotal time: 0 milliseconds\r\n`,
    );
    expect(await hmp.run('info status')).toBe('VM status: running\r\n');
  });
});

describe('blk-server: the block server and its client', () => {
  it('a block server says `block server init`, serves clients, and has no monitor', async () => {
    const d = dir();
    const blkPort = await port();
    const server = startSim([...monitorArgs(d, 'blk', 'blk-server'), '-blk-server-listen', `:${blkPort}`]);
    await server.waitForStdout('block server init\n');
    const client = startSim([...monitorArgs(d, 'vm1', 'blk-server'), '-blk-server', `127.0.0.1:${blkPort}`]);
    await client.waitForStdout('VM init finished\nclient_ret:0\n');
    await server.waitForStdout('accepted blk client ');
    expect(server.stdout()).toMatch(/^block server init\naccepted blk client \d+\.\n$/);
    // Its chardev listens, but no monitor runs behind it: a client hears nothing.
    const silent = await RawQmp.open({ path: join(d, 'blk.qmp') });
    await new Promise((r) => setTimeout(r, 300));
    expect(silent.messages).toEqual([]);
    silent.close();
  });

  it('a client whose block server is not there says client_ret:-1 and exits (-1)', async () => {
    const d = dir();
    const closed = await port();
    const client = startSim([...monitorArgs(d, 'vm1', 'blk-server'), '-blk-server', `127.0.0.1:${closed}`]);
    expect((await client.exited).code).toBe(255);
    expect(client.stdout()).toBe('VM init finished\nclient_ret:-1\n');
    expect(client.stderr()).toBe('qemu-system-x86_64: Failed to connect socket: Connection refused\n');
  });
});
