import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type CallOptions, type Hmp, HmpClient } from '@cuju/qmp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CujuArgumentError,
  CujuCommandError,
  CujuJoinPortError,
  CujuMonitor,
  CujuMonitorDuringFtError,
  CujuUnsupportedOptionError,
  cujuFtRegistry,
  FtPair,
  type FtPairState,
  type FtPairStateChange,
  LocalHost,
} from '../src/index.js';
import { freePort, SIM, tempDir } from './helpers/sim.js';
import { processesMentioning } from './helpers/sshd.js';

// The simulator runs from its sources in these tests (a stale dist/ must not be tested).
beforeAll(() => {
  process.env.CUJU_SIM_FROM_SOURCE = '1';
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Records every line sent, so a test can prove that nothing was. */
class RecordingHmp implements Hmp {
  readonly sent: string[] = [];
  constructor(private readonly inner: Hmp) {}
  get endpoint() {
    return this.inner.endpoint;
  }
  run(line: string, options?: CallOptions) {
    this.sent.push(line);
    return this.inner.run(line, options);
  }
  close() {
    return this.inner.close();
  }
}

/** The pid of the VM with this monitor socket, found the way an operator would: by its command line. */
function vmPid(monitorPath: string): number {
  const [pid, ...others] = processesMentioning(`path=${monitorPath},`);
  if (pid === undefined || others.length > 0) throw new Error(`not one VM with monitor ${monitorPath}`);
  return pid;
}

type Build = 'master' | 'groupft';

/**
 * A pair on cuju-sim, both VMs on this machine. groupft VMs each bind a join port, so
 * each gets its own free one (FtPair refuses two equal ones on one host).
 */
async function pair(extra: { primaryArgs?: string[]; build?: Build } = {}) {
  const build = extra.build ?? 'master';
  const t = tempDir();
  const host = new LocalHost({ address: '127.0.0.1' });
  const ftPort = await freePort();
  const joinPorts = build === 'groupft' ? [await freePort(), await freePort()] : [];
  const p = new FtPair({
    primary: host,
    backup: host,
    build,
    vm: {
      name: 'vm1',
      memory: '1G',
      nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:25' },
      monitorPath: join(t.dir, 'vm1.monitor'),
      extraArgs: extra.primaryArgs ?? [],
      ...(joinPorts[0] ? { joinPort: joinPorts[0] } : {}),
    },
    backupVm: { extraArgs: [], ...(joinPorts[1] ? { joinPort: joinPorts[1] } : {}) },
    binary: { ...SIM, args: [...(SIM.args ?? []), '-sim-build', build] },
    ftPort,
    timeouts: { launchMs: 20_000, syncMs: 20_000, failoverMs: 15_000 },
  });
  const states: FtPairState[] = [];
  const changes: FtPairStateChange[] = [];
  p.on('state', (c) => {
    states.push(c.state);
    changes.push(c);
  });
  cleanups.push(async () => {
    await p.down();
    t.cleanup();
  });
  return { p, states, changes, dir: t.dir, ftPort, host, joinPorts };
}

describe('CujuMonitor on cuju-sim', () => {
  it("sends ftmode.sh's exact lines and refuses bad input before sending anything", async () => {
    const t = tempDir();
    const host = new LocalHost();
    const vm = await host.spawnVm(
      [
        SIM.path,
        ...(SIM.args ?? []),
        '-chardev',
        `socket,id=mon,path=${join(t.dir, 'm.sock')},server,nowait`,
        '-mon',
        'chardev=mon,id=monitor,mode=readline',
        // A backup (waiting for its primary), so that `migrate` is refused with Cuju's text.
        '-incoming',
        `tcp:127.0.0.1:${await freePort()},ft_mode`,
      ],
      { logPath: join(t.dir, 'vm.log') },
    );
    cleanups.push(async () => {
      await vm.kill('SIGKILL');
      await vm.exited;
      t.cleanup();
    });
    await new Promise<void>((resolve) => {
      const off = vm.onLine((l) => {
        if (l === 'VM init finished') {
          off();
          resolve();
        }
      });
    });
    const hmp = new RecordingHmp(await HmpClient.connect({ path: join(t.dir, 'm.sock') }));
    const mon = new CujuMonitor(hmp);
    cleanups.push(() => mon.close());
    await mon.enableFt();
    // The build was learnt from `help`, the one line sent before it was known.
    expect(mon.build?.name).toBe('master');
    // A refusal Cuju prints on the monitor becomes a typed error carrying its text.
    const refused = await mon.startFt({ host: '127.0.0.1', port: 4441 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CujuCommandError);
    expect((refused as CujuCommandError).output).toBe('Guest is waiting for an incoming migration\r\n');
    expect(hmp.sent).toEqual(['help', 'migrate_set_capability cuju-ft on', 'migrate -c tcp:127.0.0.1:4441']);
    const attempts: Array<() => Promise<unknown>> = [
      () => mon.startFt({ host: '127.0.0.1 quit', port: 4441 }),
      () => mon.startFt({ host: '127.0.0.1\nquit', port: 4441 }),
      () => mon.startFt({ host: '127.0.0.1', port: 70000 }),
      () =>
        mon.gftAddHost({
          gftId: 0,
          masterIp: '192.168.111.1',
          masterGftPort: 5000,
          masterMac: 'ae:ae:00:00:00:21 quit',
          slaveIp: '192.168.111.2',
          slaveFtPort: 4441,
        }),
      () =>
        mon.gftAddHost({
          gftId: -1,
          masterIp: '192.168.111.1',
          masterGftPort: 5000,
          masterMac: 'ae:ae:00:00:00:21',
          slaveIp: '192.168.111.2',
          slaveFtPort: 4441,
        }),
      () => mon.gftAddBackup({ slaveIp: "1.2.3.4'", slaveIncomingPort: 1 }),
      () => mon.adjustEpoch(-5),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(CujuArgumentError);
    // gft_add_host is not in this (master) build: refused by name, nothing sent.
    await expect(
      mon.gftAddHost({
        gftId: 0,
        masterIp: '192.168.111.1',
        masterGftPort: 5000,
        masterMac: 'ae:ae:00:00:00:21',
        slaveIp: '192.168.111.2',
        slaveFtPort: 4441,
      }),
    ).rejects.toMatchObject({
      code: 'CUJU_COMMAND_UNSUPPORTED',
      build: 'master',
      availableIn: ['groupft', 'blk-server'],
    });
    expect(hmp.sent).toHaveLength(3);
  });
});

describe.each(['master', 'groupft'] as const)('FtPair on the %s cuju-sim through LocalHost', (build) => {
  it('goes launching → protected, fails over once with a measured time, and leaves nothing behind', async () => {
    const { p, states, dir } = await pair({ build });
    const failovers: unknown[] = [];
    p.on('failover', (r) => failovers.push(r));
    await p.up();
    expect(states).toEqual(['launching', 'backup-ready', 'enabling', 'syncing', 'protected']);
    const report = await p.testFailover();
    // Whichever came first: the backup's `vm_started` marker, or its status seen running.
    expect(['backup-marker', 'backup-status']).toContain(report.via);
    expect(report.detectionMs).toBeGreaterThanOrEqual(0);
    expect(states.slice(-2)).toEqual(['failing-over', 'failed-over']);
    await new Promise((r) => setTimeout(r, 200));
    expect(failovers).toHaveLength(1);
    await p.down();
    expect(p.state).toBe('stopped');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps its two monitors; a new connection to either, or to a join port, is refused (the VM lives)', async () => {
    const { p, dir, host, joinPorts } = await pair({ build });
    await p.up();
    for (const path of [join(dir, 'vm1.monitor'), join(dir, 'vm1r.monitor')]) {
      // cuju-sim crashes on a monitor client during FT, as Cuju does (issue #13).
      const err = await CujuMonitor.connect({ host, path }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CujuMonitorDuringFtError);
    }
    for (const port of joinPorts) {
      const err = await CujuMonitor.connect({ hmp: { host: '127.0.0.1', port } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CujuJoinPortError);
    }
    // Both VMs still run: each is found by its command line and takes signal 0.
    for (const path of [join(dir, 'vm1.monitor'), join(dir, 'vm1r.monitor')]) {
      expect(() => process.kill(vmPid(path), 0)).not.toThrow();
    }
    expect(p.state).toBe('protected');
    await p.down();
    // Once the VMs are gone, so is what the registry held for them.
    expect(cujuFtRegistry.snapshot().ftEndpoints.filter((e) => e.includes(dir))).toEqual([]);
    for (const port of joinPorts) expect(cujuFtRegistry.isJoinPort('127.0.0.1', port)).toBe(false);
  });

  it('reports not-protected (secondary-lost) when the backup dies while protected', async () => {
    const { p, changes } = await pair({ build });
    await p.up();
    process.kill(vmPid(p.backupSpec.monitorPath), 'SIGKILL');
    await new Promise<void>((resolve) => p.on('state', (c) => c.state === 'not-protected' && resolve()));
    expect(changes.at(-1)).toMatchObject({ state: 'not-protected', reason: 'secondary-lost' });
  });

  it('fails over when the primary dies on its own while protected', async () => {
    const { p, dir } = await pair({ build });
    await p.up();
    const failover = new Promise((resolve) => p.once('failover', resolve));
    process.kill(vmPid(join(dir, 'vm1.monitor')), 'SIGKILL');
    expect(await failover).toMatchObject({ detectionMs: expect.any(Number) });
    expect(p.state).toBe('failed-over');
    await p.down();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('FtPair on the master cuju-sim: failures while starting', () => {
  it('fails up() when the primary dies while FT is being enabled', async () => {
    const { p, changes, dir } = await pair();
    p.on('state', (c) => {
      if (c.state === 'enabling') {
        process.kill(vmPid(join(dir, 'vm1.monitor')), 'SIGKILL');
      }
    });
    await expect(p.up()).rejects.toThrow();
    expect(changes.at(-1)?.state).toBe('not-protected');
  });

  it('fails up() with primary-lost-before-sync when the primary dies during the initial sync', async () => {
    const { p, changes } = await pair({ primaryArgs: ['-sim-crash-at', 'ft-initial-sync'] });
    await expect(p.up()).rejects.toMatchObject({ reason: 'primary-lost-before-sync' });
    expect(changes.at(-1)).toMatchObject({ state: 'not-protected', reason: 'primary-lost-before-sync' });
  });
});

describe('FtPair and the build', () => {
  const base = (dir: string) => ({
    name: 'vm1',
    monitorPath: join(dir, 'vm1.monitor'),
  });

  it('refuses an option the build rejects before starting anything', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const host = new LocalHost({ address: '127.0.0.1' });
    const p = new FtPair({
      primary: host,
      backup: host,
      build: 'master',
      vm: { ...base(t.dir), joinPort: 5002 },
      binary: SIM,
    });
    await expect(p.up()).rejects.toBeInstanceOf(CujuUnsupportedOptionError);
    expect(p.state).toBe('idle');
    expect(readdirSync(t.dir)).toEqual([]);
  });

  it('refuses two groupft VMs on one host with the same join port (each binds it or aborts)', () => {
    const host = new LocalHost({ address: '127.0.0.1' });
    const make = (joinPorts: Array<number | undefined>) =>
      new FtPair({
        primary: host,
        backup: host,
        build: 'groupft',
        vm: { ...base('/tmp'), ...(joinPorts[0] ? { joinPort: joinPorts[0] } : {}) },
        ...(joinPorts[1] ? { backupVm: { joinPort: joinPorts[1] } } : {}),
        binary: SIM,
      });
    for (const ports of [
      [undefined, undefined],
      [5002, undefined],
      [5000, undefined],
      [undefined, 5000],
    ]) {
      expect(() => make(ports)).toThrow(
        expect.objectContaining({ code: 'CUJU_INVALID_ARGUMENT', field: 'backupVm.joinPort' }),
      );
    }
    expect(() => make([5002, 5003])).not.toThrow();
  });

  it('needs a build, checked like any argument', () => {
    const host = new LocalHost({ address: '127.0.0.1' });
    expect(
      () =>
        new FtPair({
          primary: host,
          backup: host,
          vm: base('/tmp'),
          binary: SIM,
        } as unknown as ConstructorParameters<typeof FtPair>[0]),
    ).toThrow(expect.objectContaining({ code: 'CUJU_INVALID_ARGUMENT', field: 'build' }));
  });
});
