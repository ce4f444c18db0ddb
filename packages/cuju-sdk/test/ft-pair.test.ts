/**
 * FtPair end to end on cuju-sim, through LocalHost and through two real sshd hosts, on the
 * master and groupft builds: every lifecycle operation (up, testFailover, restartSecondary
 * repeated, turnOff, turnOn, start, down), each refused with a typed error where it makes
 * no sense, the monitors kept from before FT, and nothing left behind.
 */
import { readdirSync, readFileSync } from 'node:fs';
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
  type FtPairError,
  LocalHost,
} from '../src/index.js';
import { type Build, type HostKind, makePair, noneLeft, type PairFixture } from './helpers/pair.js';
import { freePort, SIM, tempDir } from './helpers/sim.js';
import { processesMentioning, requireSshd } from './helpers/sshd.js';

const hasSshd = requireSshd();
const KINDS: HostKind[] = hasSshd ? ['local', 'ssh'] : ['local'];
const BUILDS: Build[] = ['master', 'groupft'];

// The simulator runs from its sources in these tests (a stale dist/ must not be tested).
beforeAll(() => {
  process.env.CUJU_SIM_FROM_SOURCE = '1';
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(o: Parameters<typeof makePair>[0] = {}): Promise<PairFixture> {
  const f = await makePair(o);
  cleanups.push(f.cleanup);
  return f;
}

/** cuju-sim processes (not their wrappers or followers) that name `dir`. */
function vmsRunning(dir: string): number[] {
  return processesMentioning(dir).filter((pid) => {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return false; // it ended between the listing and this read: not running
    }
    return argv[0] === process.execPath && argv.some((a) => a.endsWith('cuju-sim.mjs'));
  });
}

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
    expect(mon.build?.name).toBe('master');
    const refused = await mon.startFt({ host: '127.0.0.1', port: 4441 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CujuCommandError);
    expect((refused as CujuCommandError).output).toBe('Guest is waiting for an incoming migration\r\n');
    expect(hmp.sent).toEqual(['help', 'migrate_set_capability cuju-ft on', 'migrate -c tcp:127.0.0.1:4441']);
    const attempts: Array<() => Promise<unknown>> = [
      () => mon.startFt({ host: '127.0.0.1 quit', port: 4441 }),
      () => mon.startFt({ host: '127.0.0.1\nquit', port: 4441 }),
      () => mon.startFt({ host: '127.0.0.1', port: 70000 }),
      () => mon.adjustEpoch(-5),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(CujuArgumentError);
    expect(hmp.sent).toHaveLength(3);
    // status(): one `info status`, FtPair's liveness probe.
    expect(await mon.status()).toMatchObject({ running: false, status: 'inmigrate' });
    expect(hmp.sent.at(-1)).toBe('info status');
  });
});

describe.each(KINDS)('FtPair through %s hosts', (kind) => {
  describe.each(BUILDS)('on the %s build', (build) => {
    it('goes through the whole lifecycle: up, failover, restart secondary twice, turn off, turn on, down', async () => {
      const f = await fixture({ kind, build });
      const { pair } = f;
      await pair.up();
      expect(f.changes.map((c) => c.state)).toEqual([
        'launching',
        'backup-ready',
        'enabling',
        'syncing',
        'protected',
      ]);
      expect(vmsRunning(f.dir)).toHaveLength(2);

      // Test Failover: the report's times are the host's record of the death, apart from the kill's.
      const first = await pair.testFailover();
      expect(pair.state).toBe('failed-over');
      expect(first).toMatchObject({
        firstSign: expect.stringMatching(
          /^(primary-death|link-eof|takeover-marker|backup-resume|backup-status)$/,
        ),
        via: expect.stringMatching(/^backup-/),
        deathToDetectionMs: expect.any(Number),
        deathToRunningMs: expect.any(Number),
        killToDeathMs: expect.any(Number),
        killMs: expect.any(Number),
      });
      expect(first.primaryDiedAt).toBeInstanceOf(Date);
      // The survivor runs alone, as the primary now.
      expect(vmsRunning(f.dir)).toHaveLength(1);
      const survivor = pair.record();
      expect(survivor.backup).toBeUndefined();
      expect(survivor.primary?.host.address).toBe(f.hosts.backup.address);

      // Restart Secondary: protected again, from the survivor; repeatable.
      await pair.restartSecondary({ backup: f.hosts.primary });
      expect(pair.state).toBe('protected');
      expect(vmsRunning(f.dir)).toHaveLength(2);
      const second = await pair.testFailover();
      expect(second.deathToRunningMs).toEqual(expect.any(Number));
      expect(pair.record().primary?.host.address).toBe(f.hosts.primary.address);
      await pair.restartSecondary();
      expect(pair.state).toBe('protected');

      // Turn Off: FT ends, the primary keeps running (its guest answers), `disabled`.
      const primaryPid = f.pid('primary');
      await pair.turnOff();
      expect(pair.state).toBe('disabled');
      expect(await noneLeftBut(f.dir, [primaryPid])).toEqual([primaryPid]);
      // Turn On: FT for the VM that runs.
      await pair.turnOn();
      expect(pair.state).toBe('protected');
      expect(f.pid('primary')).toBe(primaryPid);

      await pair.down();
      expect(pair.state).toBe('stopped');
      expect(f.changes.slice(-2).map((c) => c.state)).toEqual(['stopping', 'stopped']);
      expect(readdirSync(f.dir)).toEqual([]);
      expect(await noneLeft(f.dir)).toEqual([]);
      expect(f.failovers).toHaveLength(2);
    });

    it('start() launches the primary alone (disabled), turnOn() protects it, and each operation is refused where it makes no sense', async () => {
      const f = await fixture({ kind, build });
      const { pair } = f;
      const refusals: Array<[string, () => Promise<unknown>]> = [
        ['turnOn', () => pair.turnOn()],
        ['turnOff', () => pair.turnOff()],
        ['restartSecondary', () => pair.restartSecondary()],
        ['testFailover', () => pair.testFailover()],
      ];
      for (const [name, call] of refusals) {
        const err = (await call().catch((e: unknown) => e)) as FtPairError;
        expect(err.code, name).toBe('CUJU_FT_PAIR_STATE');
        expect(err.message, name).toMatch(/this one is idle/);
      }
      expect(f.changes).toEqual([]);
      await pair.start();
      expect(pair.state).toBe('disabled');
      expect(vmsRunning(f.dir)).toHaveLength(1);
      for (const [name, call] of [
        ['up', () => pair.up()],
        ['start', () => pair.start()],
        ['turnOff', () => pair.turnOff()],
        ['testFailover', () => pair.testFailover()],
        ['restartSecondary', () => pair.restartSecondary()],
      ] as const) {
        const err = (await call().catch((e: unknown) => e)) as FtPairError;
        expect(err.code, name).toBe('CUJU_FT_PAIR_STATE');
      }
      await pair.turnOn();
      expect(pair.state).toBe('protected');
      for (const call of [() => pair.up(), () => pair.turnOn(), () => pair.restartSecondary()]) {
        expect(((await call().catch((e: unknown) => e)) as FtPairError).code).toBe('CUJU_FT_PAIR_STATE');
      }
      // One operation at a time: a second one while the first runs is refused.
      const off = pair.turnOff();
      expect(((await pair.testFailover().catch((e: unknown) => e)) as FtPairError).message).toMatch(
        /while turnOff\(\) runs/,
      );
      await off;
      expect(pair.state).toBe('disabled');
      expect(vmsRunning(f.dir)).toHaveLength(1);
      await pair.down();
      expect(readdirSync(f.dir)).toEqual([]);
    });
  });
});

describe.each(BUILDS)('FtPair on the %s build: monitors and the registry', (build) => {
  it('keeps its two monitors; a new connection to either, or to a join port, is refused (the VMs live)', async () => {
    const f = await fixture({ build });
    await f.pair.up();
    const host = f.hosts.primary;
    for (const path of [join(f.dir, 'vm1.monitor'), join(f.dir, 'vm1r.monitor')]) {
      // cuju-sim crashes on a monitor client during FT, as Cuju does (issue #13).
      const err = await CujuMonitor.connect({ host, path }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CujuMonitorDuringFtError);
    }
    const joinPorts = [f.options.vm.joinPort, f.options.backupVm?.joinPort].filter((p) => p !== undefined);
    for (const port of joinPorts) {
      const err = await CujuMonitor.connect({ hmp: { host: '127.0.0.1', port } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CujuJoinPortError);
    }
    expect(vmsRunning(f.dir)).toHaveLength(2);
    expect(f.pair.state).toBe('protected');
    await f.pair.down();
    expect(cujuFtRegistry.snapshot().ftEndpoints.filter((e) => e.includes(f.dir))).toEqual([]);
    for (const port of joinPorts) expect(cujuFtRegistry.isJoinPort('127.0.0.1', port)).toBe(false);
  });
});

describe('FtPair: failures while starting stop what was started', () => {
  it('stops both VMs when the primary dies while FT is being enabled (stopping, then stopped, with the reason)', async () => {
    const f = await fixture();
    f.pair.on('state', (c) => {
      if (c.state === 'enabling') f.signal('primary', 'SIGKILL');
    });
    await expect(f.pair.up()).rejects.toMatchObject({
      code: 'CUJU_FT_PAIR_VM_EXITED',
      reason: 'primary-lost-before-sync',
    });
    // up() settles once everything it started has stopped.
    expect(f.pair.state).toBe('stopped');
    expect(f.changes.at(-2)).toMatchObject({ state: 'stopping', reason: 'primary-lost-before-sync' });
    expect(await noneLeft(f.dir)).toEqual([]);
    expect(readdirSync(f.dir)).toEqual([]);
  });

  it('reports primary-lost-before-sync when the primary dies during the initial sync', async () => {
    const f = await fixture({ primaryArgs: ['-sim-crash-at', 'ft-initial-sync'] });
    await expect(f.pair.up()).rejects.toMatchObject({ reason: 'primary-lost-before-sync' });
    expect(f.pair.state).toBe('stopped');
    expect(f.changes.at(-1)).toMatchObject({ state: 'stopped', reason: 'primary-lost-before-sync' });
    expect(await noneLeft(f.dir)).toEqual([]);
  });
});

describe('FtPair and the build', () => {
  const base = (dir: string) => ({ name: 'vm1', monitorPath: join(dir, 'vm1.monitor') });

  it('refuses an option the build rejects when it is made, before anything starts', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const host = new LocalHost({ address: '127.0.0.1' });
    expect(
      () =>
        new FtPair({
          primary: host,
          backup: host,
          build: 'master',
          vm: { ...base(t.dir), joinPort: 5002 },
          binary: SIM,
        }),
    ).toThrow(CujuUnsupportedOptionError);
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

  it('needs a build, checked like any argument; and a new secondary spec is checked before it starts', async () => {
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
    const f = await fixture();
    await f.pair.start();
    const err = (await f.pair
      .turnOn({ backupVm: { nic: { tap: 'tap 1', mac: 'ae:ae:00:00:00:25' } } })
      .catch((e: unknown) => e)) as CujuArgumentError;
    expect(err).toBeInstanceOf(CujuArgumentError);
    expect(err.field).toBe('backupVm.nic.tap');
    expect(f.pair.state).toBe('disabled');
    expect(vmsRunning(f.dir)).toHaveLength(1);
  });
});

/** Waits until the only processes naming `dir` that are VMs are `keep`; returns the VMs then. */
async function noneLeftBut(dir: string, keep: number[]): Promise<number[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const vms = vmsRunning(dir);
    if (vms.every((p) => keep.includes(p)) || Date.now() > deadline) return vms;
    await new Promise((r) => setTimeout(r, 20));
  }
}
