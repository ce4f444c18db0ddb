/**
 * Real QEMU COLO pairs for the COLO tests, the demo and the benchmark: two
 * qemu-system-x86_64 (TCG, diskless, NIC-less) on this machine, a free FT port, and an
 * observer QMP socket per VM (a second `-qmp` in extraArgs) so that a test can ask a VM
 * what it is without going through the pair. Everything lives in one temp dir; cleanup
 * stops the pair and finds no process naming that dir.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QmpClient } from '@cuju/qmp';
import { afterEach, expect } from 'vitest';
import { qemuAvailable } from '../../qmp/scripts/qemu-process.js';
import { requirePeer } from '../../qmp/test/helpers/peers.js';
import {
  type ColoDisk,
  FtPair,
  type FtPairOptions,
  type FtPairState,
  type FtPairStateChange,
  LocalHost,
  type WatchdogOptions,
} from '../src/index.js';
import { freePort, tempDir } from './helpers/sim.js';
import { alive, killQuietly, processesMentioning } from './helpers/sshd.js';

export const hasQemu = requirePeer(
  'qemu-system-x86_64',
  qemuAvailable(),
  'run scripts/install-peers.sh (apt-get install qemu-system-x86)',
);

/** Long enough that Debian's 7.2 never reaches the periodic checkpoint that deadlocks its primary (see the README). */
export const NO_PERIODIC_CHECKPOINT_MS = 3_600_000;

export interface ColoFixture {
  pair: FtPair;
  /** The options the pair was made with. */
  options: FtPairOptions;
  /** Another pair over the same VMs (attach()): stopped by cleanup too. */
  adopt(pair: FtPair): void;
  dir: string;
  changes: FtPairStateChange[];
  transitions(): string[];
  reach(state: FtPairState, ms?: number): Promise<FtPairStateChange>;
  pid(role: 'primary' | 'backup'): number;
  /** A QMP connection to the VM whose spec has this monitor path, through its observer socket. */
  observe(monitorPath: string): Promise<QmpClient>;
  /** Waits (by asking every 50 ms, up to `ms`) until `check` holds for the VM `qmp` observes. */
  until(qmp: QmpClient, check: (qmp: QmpClient) => Promise<boolean>, ms?: number): Promise<void>;
  primaryPath: string;
  backupPath: string;
  /** Live processes naming the fixture's dir (VMs and their host wrappers). */
  leftovers(): number[];
  /** Live QEMU processes naming the fixture's dir. */
  qemus(): number[];
  cleanup(): Promise<void>;
}

function isQemu(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith('qemu-system-x86_64');
  } catch {
    return false;
  }
}

const observerOf = (monitorPath: string) => monitorPath.replace(/\.qmp$/, '-observer.qmp');

/** Whether qemu-img (qemu-utils) is here: the block replication's overlays are made with it. */
export const hasQemuImg = requirePeer(
  'qemu-img',
  (() => {
    try {
      execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })(),
  'run scripts/install-peers.sh (apt-get install qemu-utils)',
);

/** The images of colo.disk in `dir`: two equal raw images (size 64 MiB) and two empty qcow2 overlays. */
export async function coloDisk(dir: string): Promise<ColoDisk> {
  const disk: ColoDisk = {
    primaryImage: join(dir, 'primary.raw'),
    secondaryImage: join(dir, 'secondary.raw'),
    activeImage: join(dir, 'active.qcow2'),
    hiddenImage: join(dir, 'hidden.qcow2'),
    nbdPort: await freePort(),
  };
  for (const raw of [disk.primaryImage, disk.secondaryImage]) {
    writeFileSync(raw, '');
    truncateSync(raw, 64 * 1024 * 1024);
  }
  for (const overlay of [disk.activeImage, disk.hiddenImage]) {
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', overlay, '64M']);
  }
  return disk;
}

export async function makeColoPair(
  o: { checkpointDelayMs?: number; watchdog?: WatchdogOptions; disk?: boolean; network?: boolean } = {},
): Promise<ColoFixture> {
  const t = tempDir();
  const dir = t.dir;
  const host = new LocalHost({ address: '127.0.0.1' });
  const primaryPath = join(dir, 'p.qmp');
  const backupPath = join(dir, 's.qmp');
  const observerArgs = (path: string) => ['-qmp', `unix:${observerOf(path)},server=on,wait=off`];
  const options: FtPairOptions = {
    engine: 'colo',
    primary: host,
    backup: host,
    vm: { monitorPath: primaryPath, memory: 64, extraArgs: observerArgs(primaryPath) },
    backupVm: { monitorPath: backupPath, extraArgs: observerArgs(backupPath) },
    binary: { path: 'qemu-system-x86_64' },
    ftPort: await freePort(),
    logDir: dir,
    colo: {
      checkpointDelayMs: o.checkpointDelayMs ?? NO_PERIODIC_CHECKPOINT_MS,
      ...(o.disk ? { disk: await coloDisk(dir) } : {}),
      ...(o.network
        ? {
            network: {
              mac: '52:54:00:c0:10:01',
              ports: {
                mirror: await freePort(),
                compare: await freePort(),
                primaryIn: await freePort(),
                compareOut: await freePort(),
              },
            },
          }
        : {}),
    },
    // A loaded machine runs TCG slowly: deadlines are generous, never a measure of speed.
    timeouts: { launchMs: 60_000, syncMs: 120_000, failoverMs: 60_000, stopGraceMs: 5_000 },
    watchdog: o.watchdog ?? { thresholdMs: 120_000 },
  };
  const pair = new FtPair(options);
  const changes: FtPairStateChange[] = [];
  const waiters = new Set<(c: FtPairStateChange) => void>();
  pair.on('state', (c) => {
    changes.push(c);
    for (const w of [...waiters]) w(c);
  });
  const transitions = () => changes.map((c) => `${c.previous} --${c.event}--> ${c.state}`);
  const observers: QmpClient[] = [];
  const observe = async (monitorPath: string) => {
    const qmp = await QmpClient.connect({ path: observerOf(monitorPath), connectTimeoutMs: 30_000 });
    observers.push(qmp);
    return qmp;
  };
  const adopted: FtPair[] = [];
  return {
    pair,
    options,
    adopt: (p) => adopted.push(p),
    dir,
    changes,
    transitions,
    primaryPath,
    backupPath,
    reach: (state, ms = 180_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${state} within ${ms} ms; saw ${transitions().join(', ')}`));
        }, ms);
        const check = (c: FtPairStateChange) => {
          if (c.state !== state) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(c);
        };
        waiters.add(check);
      }),
    pid: (role) => {
      const vm = pair.record()[role];
      if (!vm) throw new Error(`the pair has no ${role} (it is ${pair.state})`);
      return vm.pid;
    },
    observe,
    until: async (qmp, check, ms = 60_000) => {
      const deadline = Date.now() + ms;
      while (!(await check(qmp))) {
        if (Date.now() > deadline) throw new Error(`${qmp.endpoint} did not get there within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    leftovers: () => processesMentioning(dir),
    qemus: () => processesMentioning(dir).filter(isQemu),
    cleanup: async () => {
      await Promise.allSettled(observers.map((q) => q.close()));
      for (const p of processesMentioning(dir)) if (alive(p)) killQuietly(p, 'SIGCONT');
      await pair.down().catch(() => {});
      await Promise.allSettled(adopted.map((p) => p.down()));
      t.cleanup();
    },
  };
}

/**
 * A maker of COLO pairs for one test file: every pair it made is stopped after each test,
 * and no process naming its dir may be left.
 */
export function coloFixtures(): (o?: Parameters<typeof makeColoPair>[0]) => Promise<ColoFixture> {
  const fixtures: ColoFixture[] = [];
  afterEach(async () => {
    for (const f of fixtures.splice(0)) {
      await f.cleanup();
      expect(f.leftovers()).toEqual([]);
    }
  });
  return async (o) => {
    const f = await makeColoPair(o);
    fixtures.push(f);
    return f;
  };
}

/**
 * Brings the pair up, SIGKILLs its secondary, and waits for `not-protected`
 * (secondary-lost) and for the primary to have left COLO; returns the primary's observer.
 */
export async function loseSecondary(f: ColoFixture): Promise<QmpClient> {
  await f.pair.up();
  const primary = await f.observe(f.primaryPath);
  process.kill(f.pid('backup'), 'SIGKILL');
  expect((await f.reach('not-protected')).reason).toBe('secondary-lost');
  await f.until(primary, async (q) => (await q.execute('query-colo-status')).mode === 'none');
  return primary;
}
