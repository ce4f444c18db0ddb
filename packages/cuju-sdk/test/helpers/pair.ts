/**
 * FT pairs on cuju-sim for the pair tests: through LocalHost (both VMs here), or through
 * two real sshd hosts on 127.0.0.2 (primary) and 127.0.0.3 (backup). Every fixture records
 * the state changes and fence steps, finds the pair's VMs by its record, waits for states
 * by event (never by sleeping), and leaves nothing behind: its cleanup stops the pair, the
 * sshds, and checks that no process still names its directory.
 */
import { join } from 'node:path';
import {
  type FailoverReport,
  type FenceEvent,
  FtPair,
  type FtPairOptions,
  type FtPairState,
  type FtPairStateChange,
  type Host,
  LocalHost,
  SshHost,
  type WatchdogOptions,
} from '../../src/index.js';
import { freePort, SIM, tempDir } from './sim.js';
import { alive, killQuietly, processesMentioning, type Sshd, startSshd } from './sshd.js';

export type HostKind = 'local' | 'ssh';
export type Build = 'master' | 'groupft';

/** The two hosts of a pair, and how to let go of them. */
export interface PairHosts {
  kind: HostKind;
  primary: Host;
  backup: Host;
  /** The sshd of each host (ssh only), e.g. to cut a host off. */
  sshds: Sshd[];
  close(): Promise<void>;
}

/** Two hosts: this machine twice (local), or two sshd's on 127.0.0.2 and 127.0.0.3 (ssh). */
export async function pairHosts(kind: HostKind): Promise<PairHosts> {
  if (kind === 'local') {
    const host = new LocalHost({ address: '127.0.0.1' });
    return { kind, primary: host, backup: host, sshds: [], close: async () => {} };
  }
  const sshds: Sshd[] = [];
  const hosts: SshHost[] = [];
  try {
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      const sshd = await startSshd({ host: address });
      sshds.push(sshd);
      hosts.push(
        await SshHost.connect({
          host: sshd.host,
          port: sshd.port,
          username: sshd.username,
          privateKey: sshd.userKey,
          hostKey: { sha256: sshd.hostFingerprint },
          address,
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(hosts.map((h) => h.close()));
    await Promise.allSettled(sshds.map((s) => s.stop()));
    throw err;
  }
  return {
    kind,
    primary: hosts[0]!,
    backup: hosts[1]!,
    sshds,
    close: async () => {
      await Promise.allSettled(hosts.map((h) => h.close()));
      await Promise.allSettled(sshds.map((s) => s.stop()));
    },
  };
}

export interface PairFixtureOptions {
  build?: Build;
  /** Extra cuju-sim arguments of the primary (and of the backup). */
  primaryArgs?: string[];
  backupArgs?: string[];
  watchdog?: WatchdogOptions;
  timeouts?: FtPairOptions['timeouts'];
  /** A QMP socket beside each readline monitor (RESUME comes on it). */
  qmp?: boolean;
  /** Hosts to use (default: new ones of `kind`). */
  hosts?: PairHosts;
  kind?: HostKind;
}

export interface PairFixture {
  pair: FtPair;
  hosts: PairHosts;
  dir: string;
  build: Build;
  changes: FtPairStateChange[];
  fences: FenceEvent[];
  failovers: FailoverReport[];
  /** `from --event--> to` of every change so far. */
  transitions(): string[];
  /** Resolves at the first change (from now on) that `match` accepts; rejects after `ms`. */
  next(match: (c: FtPairStateChange) => boolean, ms?: number): Promise<FtPairStateChange>;
  /** next() for a state. */
  reach(state: FtPairState, ms?: number): Promise<FtPairStateChange>;
  /** The pid of the pair's primary or backup VM now (from its record). */
  pid(role: 'primary' | 'backup'): number;
  /** Signals a VM of the pair (both hosts are this machine). */
  signal(role: 'primary' | 'backup', signal: NodeJS.Signals): number;
  /** Processes that still name the fixture's directory (VMs, wrappers, followers). */
  leftovers(): number[];
  /** Options the fixture made the pair with (for a second pair on the same directory). */
  options: FtPairOptions;
  cleanup(): Promise<void>;
}

/** A pair of cuju-sim VMs; nothing is started yet. */
export async function makePair(o: PairFixtureOptions = {}): Promise<PairFixture> {
  const build = o.build ?? 'master';
  const t = tempDir();
  const hosts = o.hosts ?? (await pairHosts(o.kind ?? 'local'));
  const ftPort = await freePort();
  // groupft binds a join port on every VM: always explicit free ones.
  const joinPorts = build === 'groupft' ? [await freePort(), await freePort()] : [];
  const options: FtPairOptions = {
    primary: hosts.primary,
    backup: hosts.backup,
    build,
    vm: {
      name: 'vm1',
      memory: '1G',
      nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:25' },
      monitorPath: join(t.dir, 'vm1.monitor'),
      ...(o.qmp ? { qmpPath: join(t.dir, 'vm1.qmp') } : {}),
      extraArgs: o.primaryArgs ?? [],
      ...(joinPorts[0] ? { joinPort: joinPorts[0] } : {}),
    },
    backupVm: { extraArgs: o.backupArgs ?? [], ...(joinPorts[1] ? { joinPort: joinPorts[1] } : {}) },
    binary: { ...SIM, args: [...(SIM.args ?? []), '-sim-build', build] },
    ftPort,
    timeouts: { launchMs: 60_000, syncMs: 60_000, failoverMs: 30_000, ...o.timeouts },
    watchdog: { enabled: false, ...o.watchdog },
  };
  const pair = new FtPair(options);
  const fixture = watchPair(pair, { hosts, dir: t.dir, build, options });
  const cleanup = fixture.cleanup;
  fixture.cleanup = async () => {
    await cleanup();
    if (!o.hosts) await hosts.close();
    for (const pid of processesMentioning(t.dir)) killQuietly(pid);
    t.cleanup();
  };
  return fixture;
}

/** Records what a pair emits and gives the fixture's helpers (for attach()ed pairs too). */
export function watchPair(
  pair: FtPair,
  ctx: { hosts: PairHosts; dir: string; build: Build; options: FtPairOptions },
): PairFixture {
  const changes: FtPairStateChange[] = [];
  const fences: FenceEvent[] = [];
  const failovers: FailoverReport[] = [];
  const waiters = new Set<(c: FtPairStateChange) => void>();
  pair.on('state', (c) => {
    changes.push(c);
    for (const w of [...waiters]) w(c);
  });
  pair.on('fence', (f) => fences.push(f));
  pair.on('failover', (r) => failovers.push(r));
  const next = (match: (c: FtPairStateChange) => boolean, ms = 90_000) =>
    new Promise<FtPairStateChange>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching state change within ${ms} ms; saw ${transitions().join(', ')}`));
      }, ms);
      const check = (c: FtPairStateChange) => {
        if (!match(c)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(c);
      };
      waiters.add(check);
    });
  const transitions = () => changes.map((c) => `${c.previous} --${c.event}--> ${c.state}`);
  const pid = (role: 'primary' | 'backup') => {
    const vm = pair.record()[role];
    if (!vm) throw new Error(`the pair has no ${role} (it is ${pair.state})`);
    return vm.pid;
  };
  return {
    pair,
    hosts: ctx.hosts,
    dir: ctx.dir,
    build: ctx.build,
    options: ctx.options,
    changes,
    fences,
    failovers,
    transitions,
    next,
    reach: (state, ms) => next((c) => c.state === state, ms),
    pid,
    signal: (role, signal) => {
      const p = pid(role);
      process.kill(p, signal);
      return p;
    },
    leftovers: () => processesMentioning(ctx.dir),
    cleanup: async () => {
      // A VM a test stopped (SIGSTOP) is let go on first, so that SIGTERM can end it.
      for (const p of processesMentioning(ctx.dir)) if (alive(p)) killQuietly(p, 'SIGCONT');
      await pair.down().catch(() => {});
    },
  };
}

/** Waits (by polling /proc, every 20 ms, up to `ms`) until no process names `dir`. */
export async function noneLeft(dir: string, ms = 20_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = processesMentioning(dir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}
