/**
 * Every row of FtPair's transition table (src/pair/states.ts), driven on cuju-sim: each
 * scenario names the transitions it makes happen and asserts that each of them did, and
 * one test checks that the scenarios cover the whole table. A change of the table without
 * a scenario for its new rows fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FT_PAIR_TRANSITIONS, FtPair, type FtPairStateChange, LocalHost } from '../src/index.js';
import { type BlkPairFixture, makeBlkPair } from './helpers/blk-pair.js';
import {
  makePair,
  noneLeft,
  type PairFixture,
  type PairFixtureOptions,
  pairHosts,
  watchPair,
} from './helpers/pair.js';
import { SIM } from './helpers/sim.js';
import { alive, killQuietly, requireSshd } from './helpers/sshd.js';

const hasSshd = requireSshd();

beforeAll(() => {
  process.env.CUJU_SIM_FROM_SOURCE = '1';
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(o: PairFixtureOptions = {}): Promise<PairFixture> {
  const f = await makePair(o);
  cleanups.push(f.cleanup);
  return f;
}

/** A short watchdog, so that a stopped VM is reported soon (the waits are for events, never timed). */
const WATCHDOG = { enabled: true, intervalMs: 200, thresholdMs: 800, thresholdEpochs: 0 };

/** `from --event--> to` keys of the table, one per row and source state. */
function tableKeys(): string[] {
  return FT_PAIR_TRANSITIONS.flatMap((row) => row.from.map((from) => `${from} --${row.on}--> ${row.to}`));
}

/** Calls `act` (once) when the pair enters `state`, inside the state event itself. */
function onState(f: PairFixture, state: string, act: (c: FtPairStateChange) => void): void {
  let done = false;
  f.pair.on('state', (c) => {
    if (!done && c.state === state) {
      done = true;
      act(c);
    }
  });
}

/** Resolves once a line is in a log file (the pair is detached: nobody else is reading it). */
async function logShows(path: string, text: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(existsSync(path) && readFileSync(path, 'utf8').includes(text))) {
    if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(text)} in ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function gone(pid: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still runs`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP port in use (something listens on it) for the duration of the test. */
async function busyPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

interface Scenario {
  name: string;
  covers: string[];
  /** Needs the two sshd hosts. */
  ssh?: boolean;
  /** Runs the scenario; returns every transition seen (of all pairs it used). */
  run: () => Promise<string[]>;
}

/** A BlockServerPair (blk-server build) brought up: its block server's loss is the table's `block-server-died`. */
async function blkFixture(): Promise<BlkPairFixture> {
  const f = await makeBlkPair();
  cleanups.push(f.cleanup);
  await f.pair.up();
  return f;
}

/** Kills the block server and waits for `not-protected` with its reason. */
async function killBlockServer(f: BlkPairFixture): Promise<void> {
  process.kill(f.pair.blockServerPid!, 'SIGKILL');
  await f.reach((c) => c.event === 'block-server-died' && c.reason === 'block-server-lost');
}

const SCENARIOS: Scenario[] = [
  {
    name: 'up() to protected, then down()',
    covers: [
      'idle --up--> launching',
      'launching --backup-launched--> backup-ready',
      'backup-ready --enable--> enabling',
      'enabling --sync--> syncing',
      'syncing --protected--> protected',
      'protected --down--> stopping',
      'stopping --all-stopped--> stopped',
    ],
    run: async () => {
      const f = await fixture();
      await f.pair.up();
      await f.pair.down();
      return f.transitions();
    },
  },
  {
    name: 'down() of a pair never started',
    covers: ['idle --down--> stopping'],
    run: async () => {
      const f = await fixture();
      await f.pair.down();
      expect(f.pair.state).toBe('stopped');
      return f.transitions();
    },
  },
  ...(['launching', 'backup-ready', 'enabling', 'syncing'] as const).map(
    (state): Scenario => ({
      name: `down() while up() is ${state}: up() rejects at once, nothing is left`,
      covers: [`${state} --down--> stopping`],
      run: async () => {
        const f = await fixture();
        let downed: Promise<void> | undefined;
        onState(f, state, () => {
          downed = f.pair.down();
        });
        await expect(f.pair.up()).rejects.toMatchObject({ code: 'CUJU_FT_PAIR_STOPPED' });
        await downed;
        expect(await noneLeft(f.dir)).toEqual([]);
        return f.transitions();
      },
    }),
  ),
  {
    name: 'start(), turnOn(), turnOff(), down() from disabled',
    covers: [
      'idle --start--> launching',
      'launching --primary-launched--> disabled',
      'disabled --turn-on--> launching',
      'protected --turn-off--> disabled',
      'disabled --down--> stopping',
    ],
    run: async () => {
      const f = await fixture();
      await f.pair.start();
      await f.pair.turnOn();
      await f.pair.turnOff();
      await f.pair.down();
      return f.transitions();
    },
  },
  {
    name: 'up() and start() again once stopped',
    covers: ['stopped --up--> launching', 'stopped --start--> launching'],
    run: async () => {
      const f = await fixture();
      await f.pair.down();
      await f.pair.up();
      await f.pair.down();
      await f.pair.start();
      await f.pair.down();
      return f.transitions();
    },
  },
  {
    name: "a failover first seen as the primary's recorded death (the backup's stdout held back), then down()",
    covers: [
      'protected --primary-died--> failing-over',
      'failing-over --backup-running--> failed-over',
      'failed-over --down--> stopping',
    ],
    run: async () => {
      const f = await fixture({ backupArgs: ['-sim-stdout-buffered'] });
      await f.pair.up();
      const report = await f.pair.testFailover();
      expect(report).toMatchObject({ firstSign: 'primary-death', via: 'backup-status' });
      await f.pair.down();
      return f.transitions();
    },
  },
  {
    name: 'the FT links cut while the primary runs: takeover, the old primary fenced, then turnOff()',
    covers: ['protected --takeover-sign--> failing-over', 'failed-over --turn-off--> disabled'],
    run: async () => {
      const f = await fixture({ primaryArgs: ['-sim-usr2-drops-ft-links'] });
      await f.pair.up();
      const old = f.pid('primary');
      const report = new Promise((resolve) => f.pair.once('failover', resolve));
      f.signal('primary', 'SIGUSR2');
      await report;
      expect(f.pair.state).toBe('failed-over');
      // The old primary ran on beside the one that took over: the pair killed it.
      expect(f.fences.map((s) => s.step)).toEqual(['kill-sent', 'death-confirmed']);
      await gone(old);
      await f.pair.turnOff();
      return f.transitions();
    },
  },
  {
    name: 'after a failover: restartSecondary(), then the survivor dies alone',
    covers: ['failed-over --restart-secondary--> launching', 'failed-over --last-vm-died--> stopped'],
    run: async () => {
      const f = await fixture();
      await f.pair.up();
      await f.pair.testFailover();
      await f.pair.restartSecondary();
      await f.pair.testFailover();
      const stopped = f.reach('stopped');
      f.signal('primary', 'SIGKILL');
      expect(await stopped).toMatchObject({ reason: 'vm-exited' });
      return f.transitions();
    },
  },
  {
    name: 'the secondary lost: restartSecondary(), lost again, turnOff()',
    covers: [
      'protected --backup-died--> not-protected',
      'not-protected --restart-secondary--> launching',
      'not-protected --turn-off--> disabled',
    ],
    run: async () => {
      const f = await fixture();
      await f.pair.up();
      let lost = f.reach('not-protected');
      f.signal('backup', 'SIGKILL');
      expect(await lost).toMatchObject({ reason: 'secondary-lost' });
      await f.pair.restartSecondary();
      lost = f.reach('not-protected');
      f.signal('backup', 'SIGKILL');
      await lost;
      await f.pair.turnOff();
      expect(f.pair.state).toBe('disabled');
      return f.transitions();
    },
  },
  {
    name: 'the secondary lost, then the primary dies: nothing runs',
    covers: ['not-protected --last-vm-died--> stopped'],
    run: async () => {
      const f = await fixture();
      await f.pair.up();
      const lost = f.reach('not-protected');
      f.signal('backup', 'SIGKILL');
      await lost;
      const stopped = f.reach('stopped');
      f.signal('primary', 'SIGKILL');
      await stopped;
      return f.transitions();
    },
  },
  {
    name: 'down() while not protected',
    covers: ['not-protected --down--> stopping'],
    run: async () => {
      const f = await fixture();
      await f.pair.up();
      const lost = f.reach('not-protected');
      f.signal('backup', 'SIGKILL');
      await lost;
      await f.pair.down();
      return f.transitions();
    },
  },
  {
    name: 'the lone primary of a disabled pair dies',
    covers: ['disabled --last-vm-died--> stopped'],
    run: async () => {
      const f = await fixture();
      await f.pair.start();
      const stopped = f.reach('stopped');
      f.signal('primary', 'SIGKILL');
      await stopped;
      return f.transitions();
    },
  },
  {
    name: 'down() while failing over',
    covers: ['failing-over --down--> stopping'],
    run: async () => {
      const f = await fixture();
      await f.pair.up();
      let downed: Promise<void> | undefined;
      onState(f, 'failing-over', () => {
        downed = f.pair.down();
      });
      await expect(f.pair.testFailover()).rejects.toMatchObject({
        code: expect.stringMatching(/^CUJU_FT_PAIR_/),
      });
      await downed;
      expect(await noneLeft(f.dir)).toEqual([]);
      return f.transitions();
    },
  },
  {
    name: 'watchdog: a stopped primary is unresponsive, then responsive again',
    covers: ['protected --primary-unresponsive--> not-protected', 'not-protected --responsive--> protected'],
    run: async () => {
      const f = await fixture({ watchdog: WATCHDOG });
      await f.pair.up();
      const hung = f.reach('not-protected');
      f.signal('primary', 'SIGSTOP');
      expect(await hung).toMatchObject({ reason: 'primary-unresponsive' });
      const back = f.reach('protected');
      f.signal('primary', 'SIGCONT');
      await back;
      return f.transitions();
    },
  },
  {
    name: 'watchdog: a stopped secondary is unresponsive, then it dies',
    covers: [
      'protected --backup-unresponsive--> not-protected',
      'not-protected --backup-died--> not-protected',
    ],
    run: async () => {
      const f = await fixture({ watchdog: WATCHDOG });
      await f.pair.up();
      const hung = f.reach('not-protected');
      f.signal('backup', 'SIGSTOP');
      expect(await hung).toMatchObject({ reason: 'secondary-unresponsive' });
      const lost = f.next((c) => c.reason === 'secondary-lost');
      f.signal('backup', 'SIGKILL');
      await lost;
      return f.transitions();
    },
  },
  {
    name: 'watchdog: an unresponsive primary killed by someone: the secondary takes over',
    covers: ['not-protected --primary-died--> failing-over'],
    run: async () => {
      const f = await fixture({ watchdog: WATCHDOG, backupArgs: ['-sim-stdout-buffered'] });
      await f.pair.up();
      const hung = f.reach('not-protected');
      f.signal('primary', 'SIGSTOP');
      await hung;
      const over = f.reach('failed-over');
      f.signal('primary', 'SIGKILL');
      await over;
      return f.transitions();
    },
  },
  {
    name: 'the secondary stopped when the primary dies: no takeover within the deadline',
    covers: ['failing-over --takeover-failed--> not-protected'],
    run: async () => {
      const f = await fixture({ timeouts: { failoverMs: 2_000 } });
      await f.pair.up();
      f.signal('backup', 'SIGSTOP');
      const failed = f.reach('not-protected');
      f.signal('primary', 'SIGKILL');
      expect(await failed).toMatchObject({ reason: 'failover-failed' });
      return f.transitions();
    },
  },
  {
    name: 'the secondary dies while failing over',
    covers: ['failing-over --backup-died--> not-protected'],
    run: async () => {
      const f = await fixture();
      await f.pair.up();
      f.signal('backup', 'SIGSTOP');
      const backupPid = f.pid('backup');
      onState(f, 'failing-over', () => killQuietly(backupPid, 'SIGKILL'));
      const failed = f.reach('not-protected');
      f.signal('primary', 'SIGKILL');
      expect(await failed).toMatchObject({ reason: 'failover-failed' });
      return f.transitions();
    },
  },
  {
    name: 'turnOn() fails to launch its receiver (its FT port is taken): the primary runs on',
    covers: ['launching --op-failed--> not-protected'],
    run: async () => {
      const f = await fixture();
      await f.pair.start();
      await expect(f.pair.turnOn({ ftPort: await busyPort() })).rejects.toMatchObject({
        code: expect.stringMatching(/^CUJU_FT_PAIR_/),
      });
      expect(f.pair.state).toBe('not-protected');
      expect(f.pair.reason).toBe('launch-failed');
      return f.transitions();
    },
  },
  ...(['backup-ready', 'enabling'] as const).map(
    (state): Scenario => ({
      name: `turnOn() fails while ${state} (the primary stops answering)`,
      covers: [`${state} --op-failed--> not-protected`],
      run: async () => {
        const f = await fixture({ timeouts: { syncMs: 2_000 } });
        await f.pair.start();
        onState(f, state, () => f.signal('primary', 'SIGSTOP'));
        await expect(f.pair.turnOn()).rejects.toThrow();
        expect(f.pair.state).toBe('not-protected');
        f.signal('primary', 'SIGCONT');
        return f.transitions();
      },
    }),
  ),
  {
    name: 'turnOn() fails while syncing (its receiver dies)',
    covers: ['syncing --op-failed--> not-protected'],
    run: async () => {
      const f = await fixture();
      await f.pair.start();
      onState(f, 'syncing', () => f.signal('backup', 'SIGKILL'));
      await expect(f.pair.turnOn()).rejects.toThrow();
      expect(f.pair.state).toBe('not-protected');
      expect(f.pair.reason).toBe('secondary-lost');
      return f.transitions();
    },
  },
  {
    name: 'attach(): the states a record is found in',
    covers: [
      'idle --attached-protected--> protected',
      'idle --attached-disabled--> disabled',
      'idle --attached-failed-over--> failed-over',
      'idle --attached-not-protected--> not-protected',
      'idle --attached-stopped--> stopped',
    ],
    run: async () => {
      const seen: string[] = [];
      const again = async (f: PairFixture) => {
        const record = f.pair.record();
        await f.pair.detach();
        return async (prepare?: () => Promise<void>) => {
          await prepare?.();
          const pair = await FtPair.attach(record, { hosts: { local: f.hosts.primary }, binary: SIM });
          const w = watchPair(pair, { hosts: f.hosts, dir: f.dir, build: f.build, options: f.options });
          cleanups.push(() => pair.down().catch(() => {}));
          // attach() fires its one transition before it returns: the state it left is the evidence.
          seen.push(`idle --attached-${pair.state}--> ${pair.state}`);
          return w;
        };
      };
      // protected: both run.
      const a = await fixture();
      await a.pair.up();
      const ap = await (await again(a))();
      expect(ap.pair.state).toBe('protected');
      // disabled: the lone primary runs.
      const b = await fixture();
      await b.pair.start();
      expect((await (await again(b))()).pair.state).toBe('disabled');
      // failed-over: the primary died while nobody watched, the backup took over.
      const c = await fixture();
      await c.pair.up();
      const cRecord = c.pair.record();
      expect(
        (
          await (
            await again(c)
          )(async () => {
            killQuietly(cRecord.primary!.pid, 'SIGKILL');
            await logShows(cRecord.backup!.logPath, 'cuju_ft_trans_close vm_started.');
          })
        ).pair.state,
      ).toBe('failed-over');
      // not-protected: the backup died while nobody watched.
      const d = await fixture();
      await d.pair.up();
      const dRecord = d.pair.record();
      expect(
        (
          await (
            await again(d)
          )(async () => {
            killQuietly(dRecord.backup!.pid, 'SIGKILL');
            await gone(dRecord.backup!.pid);
          })
        ).pair.state,
      ).toBe('not-protected');
      // stopped: both are gone.
      const e = await fixture();
      await e.pair.up();
      const eRecord = e.pair.record();
      expect(
        (
          await (
            await again(e)
          )(async () => {
            for (const vm of [eRecord.primary!, eRecord.backup!]) killQuietly(vm.pid, 'SIGKILL');
            for (const vm of [eRecord.primary!, eRecord.backup!]) await gone(vm.pid);
          })
        ).pair.state,
      ).toBe('stopped');
      return seen;
    },
  },
  {
    name: 'an unreachable primary host with promoteUnfenced: the backup is promoted (takeover sign while not protected)',
    covers: ['not-protected --takeover-sign--> failing-over'],
    ssh: true,
    run: async () => {
      const hosts = await pairHosts('ssh');
      cleanups.push(() => hosts.close());
      const f = await fixture({
        hosts,
        watchdog: { ...WATCHDOG, onPrimaryUnresponsive: 'failover', promoteUnfenced: true },
      });
      await f.pair.up();
      const primaryPid = f.pid('primary');
      cleanups.push(() => killQuietly(primaryPid, 'SIGKILL'));
      f.signal('primary', 'SIGSTOP');
      // The primary's host goes away too: it cannot be fenced.
      await hosts.sshds[0]!.stop();
      await f.reach('failed-over');
      expect(f.fences.map((s) => s.step)).toEqual(
        expect.arrayContaining(['host-unreachable', 'promote-sent']),
      );
      return f.transitions();
    },
  },
  {
    name: 'block server killed while protected (BlockServerPair)',
    covers: ['protected --block-server-died--> not-protected'],
    run: async () => {
      const f = await blkFixture();
      await killBlockServer(f);
      return f.transitions();
    },
  },
  {
    name: 'block server killed after the secondary was lost (BlockServerPair)',
    covers: ['not-protected --block-server-died--> not-protected'],
    run: async () => {
      const f = await blkFixture();
      process.kill(f.pid('backup'), 'SIGKILL');
      await f.reach((c) => c.reason === 'secondary-lost');
      await killBlockServer(f);
      return f.transitions();
    },
  },
  {
    name: 'block server killed after a failover (BlockServerPair)',
    covers: ['failed-over --block-server-died--> not-protected'],
    run: async () => {
      const f = await blkFixture();
      await f.pair.testFailover();
      await killBlockServer(f);
      return f.transitions();
    },
  },
];

describe('FtPair transition table', () => {
  it('every row of the table has a scenario below (and no scenario names a row the table lacks)', () => {
    const covered = new Set(SCENARIOS.flatMap((s) => s.covers));
    expect([...covered].sort()).toEqual([...new Set(tableKeys())].sort());
  });

  it('no (state, event) pair appears twice in the table', () => {
    const pairs = FT_PAIR_TRANSITIONS.flatMap((row) => row.from.map((from) => `${from}/${row.on}`));
    expect(pairs.length).toBe(new Set(pairs).size);
  });

  for (const scenario of SCENARIOS) {
    it.runIf(!scenario.ssh || hasSshd)(scenario.name, async () => {
      const seen = await scenario.run();
      for (const key of scenario.covers) expect(seen, key).toContain(key);
    });
  }
});

describe('FtPair on a host without adoptVm', () => {
  it('attach() says the host cannot adopt, typed, and starts nothing', async () => {
    const f = await fixture();
    await f.pair.start();
    const record = f.pair.record();
    await f.pair.detach();
    const local = new LocalHost({ address: '127.0.0.1' });
    const bare = {
      name: 'local',
      address: '127.0.0.1',
      run: local.run.bind(local),
      spawnVm: local.spawnVm.bind(local),
      writeFile: local.writeFile.bind(local),
      connectMonitor: local.connectMonitor.bind(local),
      close: local.close.bind(local),
    };
    const err = await FtPair.attach(record, { hosts: { local: bare }, binary: SIM }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CUJU_FT_PAIR_RECORD' });
    // The VM is untouched: adopt it properly and stop it.
    const pair = await FtPair.attach(record, { hosts: { local }, binary: SIM });
    expect(pair.state).toBe('disabled');
    await pair.down();
    expect(await noneLeft(f.dir)).toEqual([]);
  });
});
