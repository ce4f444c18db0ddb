/**
 * FtPair under faults (issues 11 and 18), on cuju-sim through LocalHost and two sshd hosts:
 * random kills and aborts while up() runs leave nothing behind; down() in every state is a
 * planned stop; a new process re-attaches after the controlling one was killed with
 * SIGKILL; a hung (SIGSTOP) primary or secondary is reported, a hung primary is fenced
 * before its secondary is promoted, an unreachable primary host is not promoted by
 * default, and loaded cores are no hang. Every wait is for an event or a process, never
 * a sleep whose length decides the outcome.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type FailoverReport,
  FT_PAIR_STATES,
  FtPair,
  type FtPairRecord,
  type FtPairState,
  LocalHost,
} from '../src/index.js';
import {
  type HostKind,
  makePair,
  noneLeft,
  type PairFixture,
  type PairFixtureOptions,
  type PairHosts,
  pairHosts,
  watchPair,
} from './helpers/pair.js';
import { freePort, SIM, SIM_BIN, tempDir } from './helpers/sim.js';
import { alive, killQuietly, processesMentioning, readUntil, requireSshd } from './helpers/sshd.js';

const hasSshd = requireSshd();
const KINDS: HostKind[] = hasSshd ? ['local', 'ssh'] : ['local'];

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

/** Two hosts of `kind` shared by several pairs of one test (closed after it). */
async function sharedHosts(kind: HostKind): Promise<PairHosts> {
  const hosts = await pairHosts(kind);
  cleanups.push(() => hosts.close());
  return hosts;
}

/** A short watchdog, so that a stopped VM is reported soon (the waits are for events). */
const WATCHDOG = { enabled: true, intervalMs: 200, thresholdMs: 800, thresholdEpochs: 0 };

/** The cuju-sim VMs (not their wrappers or followers) whose command line names `dir`. */
function vmsIn(dir: string): number[] {
  return processesMentioning(dir).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      // The VM itself is `node cuju-sim.mjs ...`; its wrapper (`sh -c WRAPPER ... node cuju-sim.mjs ...`) is not.
      return argv[1] === SIM_BIN && argv.includes('-name');
    } catch {
      return false;
    }
  });
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

const STARTING = ['launching', 'backup-ready', 'enabling', 'syncing'] as const;

/** Calls `act` once, `delayMs` after the pair enters `state`. */
function afterState(f: PairFixture, state: FtPairState, delayMs: number, act: () => void): void {
  let done = false;
  f.pair.on('state', (c) => {
    if (done || c.state !== state) return;
    done = true;
    setTimeout(act, delayMs);
  });
}

describe.each(KINDS)('FtPair through %s hosts: random faults while up() runs', (kind) => {
  const RUNS = 6;

  it(`${RUNS} runs with a VM killed (SIGKILL) at a random moment of up(): nothing is left`, async () => {
    const hosts = await sharedHosts(kind);
    for (let run = 0; run < RUNS; run++) {
      const f = await fixture({ hosts, timeouts: { syncMs: 10_000, failoverMs: 10_000 } });
      expect(vmsIn(f.dir)).toEqual([]);
      const state = pick(STARTING);
      afterState(f, state, Math.floor(Math.random() * 150), () => {
        const vms = vmsIn(f.dir);
        if (vms.length > 0) killQuietly(pick(vms), 'SIGKILL');
      });
      const outcome = await f.pair.up().then(
        () => 'resolved',
        (err: { code?: string }) => err.code ?? 'untyped',
      );
      // A failed up() is typed; one the kill came too late for left a running pair.
      expect(outcome === 'resolved' || outcome.startsWith('CUJU_')).toBe(true);
      await f.pair.down();
      expect(f.pair.state).toBe('stopped');
      expect(await noneLeft(f.dir)).toEqual([]);
      await f.cleanup();
      cleanups.splice(cleanups.indexOf(f.cleanup), 1);
    }
  }, 600_000);

  it(`${RUNS} runs with up() aborted at a random moment: it rejects, stops what it started, nothing is left`, async () => {
    const hosts = await sharedHosts(kind);
    for (let run = 0; run < RUNS; run++) {
      const f = await fixture({ hosts });
      expect(vmsIn(f.dir)).toEqual([]);
      const controller = new AbortController();
      afterState(f, pick(STARTING), Math.floor(Math.random() * 150), () => controller.abort());
      const outcome = await f.pair.up({ signal: controller.signal }).then(
        () => 'resolved',
        (err: { code?: string }) => err.code ?? 'untyped',
      );
      if (outcome === 'resolved') {
        // The abort came after protection: the pair runs, a planned stop ends it.
        expect(f.pair.state).toBe('protected');
        await f.pair.down();
      } else {
        // up() settles at once; the clean-up of what it started runs on to `stopped`.
        expect(outcome).toBe('CUJU_FT_PAIR_ABORTED');
        const stopped = f.pair.state === 'stopped' ? f.changes.at(-1)! : await f.reach('stopped');
        expect(stopped.reason).toBe('aborted');
        expect(f.changes.map((c) => c.state)).not.toContain('failing-over');
      }
      expect(await noneLeft(f.dir)).toEqual([]);
      await f.cleanup();
      cleanups.splice(cleanups.indexOf(f.cleanup), 1);
    }
  }, 600_000);
});

describe('FtPair: down() in every state is a planned stop', () => {
  /** Brings a fresh pair into `state` and calls down() there; returns the pair's fixture. */
  async function downIn(state: FtPairState): Promise<PairFixture> {
    const f = await fixture();
    let downed: Promise<void> | undefined;
    const downOnEntry = (op: () => Promise<unknown>) => {
      let done = false;
      f.pair.on('state', (c) => {
        if (!done && c.state === state) {
          done = true;
          downed = f.pair.down();
        }
      });
      return op().catch(() => {});
    };
    switch (state) {
      case 'idle':
        break;
      case 'launching':
      case 'backup-ready':
      case 'enabling':
      case 'syncing':
        await downOnEntry(() => f.pair.up());
        break;
      case 'protected':
        await f.pair.up();
        break;
      case 'disabled':
        await f.pair.start();
        break;
      case 'not-protected': {
        await f.pair.up();
        const lost = f.reach('not-protected');
        f.signal('backup', 'SIGKILL');
        await lost;
        break;
      }
      case 'failing-over':
        await f.pair.up();
        await downOnEntry(() => f.pair.testFailover());
        break;
      case 'failed-over':
        await f.pair.up();
        await f.pair.testFailover();
        break;
      case 'stopping': {
        // down() while a down() runs: both settle, one stop.
        await f.pair.up();
        let second: Promise<void> | undefined;
        f.pair.on('state', (c) => {
          if (c.state === 'stopping' && !second) second = f.pair.down();
        });
        await f.pair.down();
        await second;
        expect(second).toBeDefined();
        break;
      }
      case 'stopped':
        await f.pair.up();
        await f.pair.down();
        break;
    }
    if (downed) await downed;
    else await f.pair.down();
    return f;
  }

  for (const state of FT_PAIR_STATES) {
    it(`down() while ${state}: stopping then stopped, no failover or not-protected after it, nothing left`, async () => {
      const f = await downIn(state);
      expect(f.pair.state).toBe('stopped');
      const first = f.changes.findIndex((c) => c.state === 'stopping');
      if (state !== 'stopped') expect(first).toBeGreaterThanOrEqual(0);
      const after = f.changes.slice(Math.max(first, 0)).map((c) => c.state);
      expect(after.filter((s) => s !== 'stopping' && s !== 'stopped')).toEqual([]);
      expect(f.changes.filter((c) => c.state === 'stopped')).toHaveLength(1);
      expect(await noneLeft(f.dir)).toEqual([]);
    }, 120_000);
  }
});

describe('FtPair.attach() after the controlling process was killed with SIGKILL', () => {
  const OWNER = fileURLToPath(new URL('./fixtures/pair-owner.ts', import.meta.url));

  it('a new process adopts the protected pair from its saved record, fails it over and stops it', async () => {
    const t = tempDir();
    cleanups.push(() => {
      for (const pid of processesMentioning(t.dir)) killQuietly(pid, 'SIGKILL');
      t.cleanup();
    });
    const recordPath = join(t.dir, 'record.json');
    const owner = spawn(
      process.execPath,
      ['--import', 'tsx', OWNER, t.dir, String(await freePort()), recordPath],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CUJU_SIM_FROM_SOURCE: '1' } },
    );
    const ownerGone = new Promise<NodeJS.Signals | null>((resolve) =>
      owner.once('exit', (_c, s) => resolve(s)),
    );
    cleanups.push(() => {
      if (owner.exitCode === null && owner.signalCode === null) owner.kill('SIGKILL');
    });
    await readUntil(owner.stdout as unknown as Duplex, 'protected', 120_000);
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as FtPairRecord;
    expect(record.state).toBe('protected');
    owner.kill('SIGKILL');
    expect(await ownerGone).toBe('SIGKILL');
    // Its VMs outlive it.
    expect(alive(record.primary!.pid) && alive(record.backup!.pid)).toBe(true);

    const local = new LocalHost({ address: '127.0.0.1' });
    const before = vmsIn(t.dir).sort();
    const pair = await FtPair.attach(record, { hosts: { local }, binary: SIM });
    const w = watchPair(pair, {
      hosts: { kind: 'local', primary: local, backup: local, sshds: [], close: async () => {} },
      dir: t.dir,
      build: 'master',
      options: {} as never,
    });
    cleanups.push(() => pair.down().catch(() => {}));
    expect(pair.state).toBe('protected');
    // attach() launched nothing: the same two VMs.
    expect(vmsIn(t.dir).sort()).toEqual(before);
    const report = await pair.testFailover();
    expect(report.firstSign).toBeDefined();
    expect(pair.state).toBe('failed-over');
    expect(w.transitions().at(-1)).toMatch(/^failing-over --.*--> failed-over$/);
    expect(vmsIn(t.dir)).toEqual([record.backup!.pid]);
    await pair.down();
    expect(await noneLeft(t.dir)).toEqual([]);
  }, 240_000);
});

describe.each(KINDS)('FtPair through %s hosts: hung VMs (issue 18)', (kind) => {
  it('a stopped (SIGSTOP) primary is primary-unresponsive; with the failover policy it is fenced, then the secondary runs, exactly one VM left', async () => {
    const f = await fixture({ kind, watchdog: { ...WATCHDOG, onPrimaryUnresponsive: 'failover' } });
    await f.pair.up();
    const primary = f.pid('primary');
    const backup = f.pid('backup');
    const hung = f.next((c) => c.reason === 'primary-unresponsive');
    const over = f.reach('failed-over');
    const confirmed = new Promise<void>((resolve) =>
      f.pair.on('fence', (s) => {
        if (s.step === 'death-confirmed') resolve();
      }),
    );
    const reported = new Promise<FailoverReport>((resolve) => f.pair.once('failover', resolve));
    f.signal('primary', 'SIGSTOP');
    expect(await hung).toMatchObject({ state: 'not-protected', reason: 'primary-unresponsive' });
    await over;
    await confirmed;
    // The report counts from the death its host recorded (the fencing kill).
    expect((await reported).primaryDiedAt).toBeInstanceOf(Date);
    const steps = f.fences.map((s) => s.step);
    // Fenced before promotion: the kill comes first; a promotion the SDK sends comes only
    // after the death is confirmed (the secondary may also take over on its own the moment
    // the killed primary's FT links close).
    expect(steps[0]).toBe('kill-sent');
    if (steps.includes('promote-sent')) {
      expect(steps.indexOf('death-confirmed')).toBeLessThan(steps.indexOf('promote-sent'));
    }
    expect(alive(primary)).toBe(false);
    expect(vmsIn(f.dir)).toEqual([backup]);
    expect(f.failovers).toHaveLength(1);
  }, 180_000);

  it('a stopped (SIGSTOP) secondary leaves the pair not-protected (secondary-unresponsive), the primary runs on', async () => {
    const f = await fixture({ kind, watchdog: WATCHDOG });
    await f.pair.up();
    const hung = f.reach('not-protected');
    f.signal('backup', 'SIGSTOP');
    expect(await hung).toMatchObject({ reason: 'secondary-unresponsive' });
    expect(alive(f.pid('primary'))).toBe(true);
    expect(f.transitions()).not.toContain('protected --primary-died--> failing-over');
  }, 180_000);
});

describe.runIf(hasSshd)('FtPair through sshd hosts: an unreachable primary host', () => {
  it('is not promoted by default (split brain is opt-in): host-unreachable, not-protected, the secondary not promoted', async () => {
    const hosts = await sharedHosts('ssh');
    const f = await fixture({ hosts, watchdog: { ...WATCHDOG, onPrimaryUnresponsive: 'failover' } });
    await f.pair.up();
    const primary = f.pid('primary');
    const backup = f.pid('backup');
    cleanups.push(() => killQuietly(primary, 'SIGKILL'));
    const unreachable = new Promise<void>((resolve) =>
      f.pair.on('fence', (s) => {
        if (s.step === 'host-unreachable') resolve();
      }),
    );
    f.signal('primary', 'SIGSTOP');
    await hosts.sshds[0]!.stop();
    await unreachable;
    expect(f.pair.state).toBe('not-protected');
    expect(f.pair.reason).toBe('primary-unresponsive');
    expect(f.fences.map((s) => s.step)).not.toContain('promote-sent');
    expect(f.transitions().some((t) => t.endsWith('failing-over'))).toBe(false);
    // Both copies exist, neither was touched: the stopped primary and the waiting secondary.
    expect(alive(primary) && alive(backup)).toBe(true);
    expect(readFileSync(f.pair.record().backup!.logPath, 'utf8')).not.toContain('vm_started');
  }, 180_000);
});

describe('FtPair: loaded cores are no hang', () => {
  it('with every core busy the default watchdog raises no alarm; it still catches a real hang afterwards', async () => {
    const f = await fixture({ watchdog: { enabled: true } });
    await f.pair.up();
    // One busy process per core, for as long as the default threshold twice over.
    const cores = Math.max(2, (await import('node:os')).availableParallelism());
    const burners = Array.from({ length: cores }, () =>
      spawn(process.execPath, ['-e', 'const end = Date.now() + 8000; while (Date.now() < end) {}'], {
        stdio: 'ignore',
      }),
    );
    cleanups.push(() => {
      for (const b of burners) if (b.exitCode === null) b.kill('SIGKILL');
    });
    await Promise.all(burners.map((b) => new Promise((resolve) => b.once('exit', resolve))));
    expect(
      f.changes.map((c) => c.state).filter((s) => s !== 'protected' && !STARTING.includes(s as never)),
    ).toEqual([]);
    expect(f.pair.state).toBe('protected');
    // The watchdog was on all along: a real hang is reported.
    const hung = f.next((c) => c.reason === 'primary-unresponsive');
    f.signal('primary', 'SIGSTOP');
    await hung;
  }, 180_000);
});
