/**
 * The group FT suite (issue 13): time to a protected group of N = 2, 4, 8, 16, 32 members
 * on cuju-sim's groupft build, two contenders over the same simulator in the same run,
 * alternating run by run (lib/measure.ts), from the same plan (planGroup: the same command
 * lines, the same monitor lines):
 *
 * - sdk: `runPlan(planGroup(spec))` through LocalHost (primaries on 127.0.0.2, backups on
 *   127.0.0.3): the receivers at once, the primaries at once, each monitor opened once
 *   and kept, gft_add_host on the leader in order, cuju-ft on every member at once,
 *   gft_init, then every member confirmed (`first commit`, `migrate_timer tick`, `info
 *   migrate`). The sample runs from the call to the `protected` event.
 * - seed: the seed scripts' method (open_primary.sh / open_backup.sh start every VM at
 *   once; add_host.sh and gft_init.sh send one `echo "LINE" | nc -N -U SOCKET` per command,
 *   in sequence): the 2N simulators spawned with stdout on a pipe, every `VM init
 *   finished` waited for (the operator's look at VNC), then each line through its own
 *   shell and nc, one after the other, then every backup's `first commit` and every
 *   primary's `migrate_timer tick` read from the pipes. `-N` makes nc exit once its input
 *   is sent (Debian's netcat-openbsd otherwise waits for the monitor to close).
 *
 * Every run gets fresh ports and a fresh directory and stops every VM before the next.
 * CUJU_BENCH_GFT_RUNS sets the runs per contender and N (default 2); CUJU_BENCH_GFT_SIZES
 * the group sizes (default 2,4,8,16,32).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { importBuilt } from './lib/built.js';
import { cujuSimBinary } from './lib/cuju-sdk.js';
import { freePort } from './lib/free-port.js';
import { interleave } from './lib/measure.js';
import { type BenchRecord, note, printRecord, round, summarizeMs } from './lib/stats.js';

type Gft = typeof import('@cuju/gft');
type GroupPlan = import('@cuju/gft').GroupPlan;

const RUNS = Number(process.env.CUJU_BENCH_GFT_RUNS ?? 2);
const SIZES = (process.env.CUJU_BENCH_GFT_SIZES ?? '2,4,8,16,32').split(',').map(Number);
/** Deadline of each wait of the seed contender (every start, every commit). */
const SEED_TIMEOUT_MS = 300_000;
const CONTENDERS = ['sdk', 'seed'] as const;

function loadGft(): Promise<Gft> {
  return importBuilt<Gft>({
    dir: fileURLToPath(new URL('../packages/gft/', import.meta.url)),
    entry: 'dist/index.js',
    build: 'npm run build -w @cuju/gft',
  });
}

/** A group of `n` on the simulator, every port fresh, files under `dir`. */
async function plan(gft: Gft, simBin: string, n: number, dir: string): Promise<GroupPlan> {
  // The kernel may hand out a port it just gave: each is taken once per group.
  const taken = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const members = [];
  for (let id = 0; id < n; id++) {
    members.push({
      id,
      mac: `ae:ae:00:00:00:${(0x21 + id).toString(16).padStart(2, '0')}`,
      primary: { host: 'p', joinPort: await port() },
      backup: { host: 'b', ftPort: await port(), joinPort: await port() },
    });
  }
  const spec = gft.parseGroupSpec({
    hosts: { p: { kind: 'local', address: '127.0.0.2' }, b: { kind: 'local', address: '127.0.0.3' } },
    members,
    options: {
      workDir: join(dir, 'run'),
      binary: { path: process.execPath, args: [simBin, '-sim-build', 'groupft'] },
      timeouts: {
        launchMs: SEED_TIMEOUT_MS,
        protectMs: SEED_TIMEOUT_MS,
        commandMs: 60_000,
        stopGraceMs: 2_000,
      },
    },
  });
  return gft.planGroup(spec);
}

async function sdkRun(gft: Gft, p: GroupPlan): Promise<number> {
  const t0 = performance.now();
  const group = await gft.runPlan(p);
  const ms = performance.now() - t0;
  await group.down();
  return ms;
}

/** A simulator with its stdout on a pipe: which lines came (first time each). */
class PipedVm {
  readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private readonly waiters: Array<() => void> = [];
  private partial = '';
  private gone = false;

  constructor(argv: readonly string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    (this.child.stdout as Readable).on('data', (b: Buffer) => {
      const parts = (this.partial + b.toString('utf8')).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.once('exit', () => {
      this.gone = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async waitFor(match: (line: string) => boolean, what: string): Promise<void> {
    const deadline = performance.now() + SEED_TIMEOUT_MS;
    for (;;) {
      if (this.lines.some(match)) return;
      if (this.gone) throw new Error(`${what}: the VM exited first`);
      if (performance.now() > deadline) throw new Error(`${what}: not within ${SEED_TIMEOUT_MS} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 1_000);
      });
    }
  }

  async stop(): Promise<void> {
    if (!this.gone) {
      const exited = new Promise((r) => this.child.once('close', r));
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}

/** `echo "LINE" | nc -N -U SOCKET` in its own shell, as the seed scripts send each command. */
function nc(line: string, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sh = spawn('sh', ['-c', 'echo "$1" | nc -N -U "$2"', 'sh', line, socket], { stdio: 'ignore' });
    const timer = setTimeout(() => {
      sh.kill('SIGKILL');
      reject(new Error(`nc to ${socket} did not end within 30 s`));
    }, 30_000);
    sh.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`echo "${line}" | nc -N -U ${socket} exited ${code}`));
    });
  });
}

async function seedRun(p: GroupPlan): Promise<number> {
  // The seeds' work directory exists before their scripts run (the SDK makes its own).
  mkdirSync(p.spec.options.workDir, { recursive: true });
  const t0 = performance.now();
  const vms = new Map<string, PipedVm>();
  try {
    for (const v of p.vms) vms.set(v.key, new PipedVm(v.argv));
    await Promise.all(
      [...vms.entries()].map(([key, vm]) => vm.waitFor((l) => l === 'VM init finished', `${key} start`)),
    );
    for (const phase of p.phases) {
      for (const s of phase.steps) if (s.action === 'send') await nc(s.line!, s.monitor);
    }
    await Promise.all(
      [...vms.entries()].map(([key, vm]) =>
        key.endsWith('.backup')
          ? vm.waitFor((l) => l === 'first commit', `${key} first commit`)
          : vm.waitFor((l) => l.startsWith('migrate_timer tick '), `${key} epochs`),
      ),
    );
    return performance.now() - t0;
  } finally {
    await Promise.all([...vms.values()].map((vm) => vm.stop()));
  }
}

export async function run(): Promise<void> {
  const gft = await loadGft();
  const simBin = cujuSimBinary();
  const summary: BenchRecord = { suite: 'gft', summary: true, runs: RUNS };
  for (const n of SIZES) {
    const samples: Record<(typeof CONTENDERS)[number], number[]> = { sdk: [], seed: [] };
    await interleave(CONTENDERS.length, RUNS, async (i) => {
      const who = CONTENDERS[i]!;
      const dir = mkdtempSync(join(tmpdir(), 'cuju-bench-gft-'));
      try {
        const p = await plan(gft, simBin, n, dir);
        const ms = who === 'sdk' ? await sdkRun(gft, p) : await seedRun(p);
        samples[who].push(ms);
        note(`gft: n=${n} ${who} ${round(ms, 1)} ms`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    for (const who of CONTENDERS) {
      printRecord({
        suite: 'gft',
        contender: who,
        members: n,
        measure: 'to-protected',
        ...summarizeMs(samples[who]),
      });
    }
    const sdk = summarizeMs(samples.sdk).p50_ms;
    const seed = summarizeMs(samples.seed).p50_ms;
    summary[`sdk_over_seed_p50_n${n}`] = round(sdk / seed, 3);
  }
  printRecord(summary);
}
