import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type CallOptions, type Hmp, HmpClient } from '@cuju/qmp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CujuArgumentError,
  CujuCommandError,
  CujuMonitor,
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

async function pair(extra: { primaryArgs?: string[] } = {}) {
  const t = tempDir();
  const host = new LocalHost({ address: '127.0.0.1' });
  const ftPort = await freePort();
  const p = new FtPair({
    primary: host,
    backup: host,
    vm: {
      name: 'vm1',
      memory: '1G',
      nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:25' },
      monitorPath: join(t.dir, 'vm1.monitor'),
      extraArgs: extra.primaryArgs ?? [],
    },
    backupVm: { extraArgs: [] },
    binary: SIM,
    ftPort,
    timeouts: { launchMs: 15_000, syncMs: 15_000, failoverMs: 10_000 },
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
  return { p, states, changes, dir: t.dir, ftPort };
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
    // A refusal Cuju prints on the monitor becomes a typed error carrying its text.
    const refused = await mon.startFt({ host: '127.0.0.1', port: 4441 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CujuCommandError);
    expect((refused as CujuCommandError).output).toBe('Guest is waiting for an incoming migration\r\n');
    expect(hmp.sent).toEqual(['migrate_set_capability cuju-ft on', 'migrate -c tcp:127.0.0.1:4441']);
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
    expect(hmp.sent).toHaveLength(2);
  });
});

describe('FtPair on cuju-sim through LocalHost', () => {
  it('goes launching → protected, fails over once with a measured time, and leaves nothing behind', async () => {
    const { p, states, dir } = await pair();
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

  it('reports not-protected (secondary-lost) when the backup dies while protected', async () => {
    const { p, changes } = await pair();
    await p.up();
    process.kill(vmPid(p.backupSpec.monitorPath), 'SIGKILL');
    await new Promise<void>((resolve) => p.on('state', (c) => c.state === 'not-protected' && resolve()));
    expect(changes.at(-1)).toMatchObject({ state: 'not-protected', reason: 'secondary-lost' });
  });

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

  it('fails over when the primary dies on its own while protected', async () => {
    const { p, dir } = await pair();
    await p.up();
    const failover = new Promise((resolve) => p.once('failover', resolve));
    process.kill(vmPid(join(dir, 'vm1.monitor')), 'SIGKILL');
    expect(await failover).toMatchObject({ detectionMs: expect.any(Number) });
    expect(p.state).toBe('failed-over');
    await p.down();
    expect(readdirSync(dir)).toEqual([]);
  });
});
