/**
 * BlockServerPair on cuju-sim's blk-server build, all three processes through one
 * LocalHost (the block server with a monitor socket of its own, every port free). The
 * fixture records the pair's state changes, waits for them by event, and its cleanup
 * stops everything and checks that no process names its directory.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BlockServerPair,
  type BlockServerPairOptions,
  type FtPairStateChange,
  LocalHost,
} from '../../src/index.js';
import { freePort, SIM, tempDir } from './sim.js';
import { killQuietly, processesMentioning } from './sshd.js';

const host = new LocalHost({ address: '127.0.0.1' });

/** Valid options in `dir`, on `build` (the pair refuses any but blk-server). */
export async function blkPairOptions(dir: string, build = 'blk-server'): Promise<BlockServerPairOptions> {
  return {
    primary: host,
    backup: host,
    build: build as BlockServerPairOptions['build'],
    vm: {
      name: 'vm1',
      memory: '1G',
      nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:25' },
      monitorPath: join(dir, 'vm1.monitor'),
    },
    binary: { ...SIM, args: [...(SIM.args ?? []), '-sim-build', 'blk-server'] },
    ftPort: await freePort(),
    blockServer: {
      host,
      listenPort: await freePort(),
      joinPort: await freePort(),
      vm: { monitorPath: join(dir, 'blk.monitor'), nic: { tap: 'tap2', mac: 'ae:ae:00:00:00:25' } },
    },
    timeouts: { launchMs: 60_000, syncMs: 60_000, failoverMs: 30_000 },
    watchdog: { enabled: false },
  };
}

export interface BlkPairFixture {
  pair: BlockServerPair;
  dir: string;
  changes: FtPairStateChange[];
  /** `from --event--> to` of every change so far. */
  transitions(): string[];
  /** Resolves with the first change so far or to come that `match` accepts; rejects after `ms`. */
  reach(match: (c: FtPairStateChange) => boolean, ms?: number): Promise<FtPairStateChange>;
  /** The pid of the pair's primary or backup now (its record). */
  pid(role: 'primary' | 'backup'): number;
  /** The block server's stdout so far (its log). */
  serverLog(): string;
  cleanup(): Promise<void>;
}

/** A block-server pair in a fresh directory; nothing is started yet. */
export async function makeBlkPair(): Promise<BlkPairFixture> {
  const t = tempDir();
  const pair = new BlockServerPair(await blkPairOptions(t.dir));
  const changes: FtPairStateChange[] = [];
  const waiters = new Set<() => void>();
  pair.pair.on('state', (c) => {
    changes.push(c);
    for (const w of [...waiters]) w();
  });
  const reach = (match: (c: FtPairStateChange) => boolean, ms = 90_000) =>
    new Promise<FtPairStateChange>((resolve, reject) => {
      const check = () => {
        const found = changes.find(match);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(`no matching change within ${ms} ms; saw ${changes.map((c) => c.state).join(', ')}`),
        );
      }, ms);
      waiters.add(check);
      check();
    });
  return {
    pair,
    dir: t.dir,
    changes,
    transitions: () => changes.map((c) => `${c.previous} --${c.event}--> ${c.state}`),
    reach,
    pid: (role) => {
      const vm = pair.pair.record()[role];
      if (!vm) throw new Error(`the pair has no ${role} (it is ${pair.state})`);
      return vm.pid;
    },
    serverLog: () => {
      const log = readdirSync(t.dir).find((f) => f.startsWith('block-server-') && f.endsWith('.log'));
      return log ? readFileSync(join(t.dir, log), 'utf8') : '';
    },
    cleanup: async () => {
      await pair.down().catch(() => {});
      for (const pid of processesMentioning(t.dir)) killQuietly(pid, 'SIGKILL');
      t.cleanup();
    },
  };
}
