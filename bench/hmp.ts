/**
 * The HMP suite: `info status` on QEMU's readline monitor (`-mon ...,mode=readline`) of one
 * `qemu-system-x86_64 -M none -S`, three ways in the same run:
 *
 * - raw-floor: a minimal node:net client on one persistent connection (hmp-floor.ts);
 * - cuju-hmp: our HmpClient on one persistent connection;
 * - seed-nc: the seeds' `echo "info status" | nc -U <socket>`, a shell and an nc per
 *   command, spawned from Node (hmp-seed.ts), plus nc variants that exit by themselves.
 *
 * QEMU serves one client per monitor socket and leaves later ones in the listen backlog,
 * so the contenders cannot be connected at once. They take turns in interleaved blocks
 * (see lib/measure.ts): a persistent client connects, runs its block and disconnects (its
 * close waits for QEMU to close its side) before the next contender starts, so no nc ever
 * waits behind a connected client. Connecting is outside the timed calls and reported apart.
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawHmpFloor } from './hmp-floor.js';
import { runSeedLoopInBash, runSeedOnce, type SeedRun, type SeedVariant, seedCommand } from './hmp-seed.js';
import { loadCujuQmp } from './lib/cuju-qmp.js';
import { guarded, type Peer } from './lib/guard.js';
import { interleave, serialBlock } from './lib/measure.js';
import { qemuVersion, startIdleHmpQemu, Teardown } from './lib/qemu.js';
import {
  type BenchRecord,
  type LatencySummary,
  note,
  printRecord,
  quantile,
  round,
  summarizeLatencies,
} from './lib/stats.js';

/** Calls per persistent client before timing, as in the qmp suite: enough for V8 to finish tiering up. */
const WARMUP = 2000;
const ROUNDS = 10;
/** Serial calls per persistent client per round. */
const SERIAL_PER_ROUND = 300;
/**
 * Pause after a killed nc, outside any timing: QEMU notices the closed socket on its next
 * main-loop pass, and until then the next connection would sit in the backlog and be
 * charged to whoever came next.
 */
const SETTLE_MS = 10;
/** The seeds' exact command never exits on its own (see hmp-seed.ts); one run waits this long to show it. */
const LONG_WAIT_MS = 2000;
/** Deadline for one contender's share of a round (and for the warm-up, the checks). */
const BLOCK_DEADLINE_MS = 120_000;

const EXPECTED_OUTPUT = 'VM status: paused (prelaunch)\r\n';

interface SeedPlan extends SeedVariant {
  /** Who starts each command: Node's child_process (one `sh -c` per command) or one bash loop per block. */
  from: 'node' | 'bash';
  /** Runs over the whole suite, spread evenly over the rounds. */
  total: number;
}

const AS_SEEDS: SeedPlan = { name: 'as-seeds', flags: '', graceMs: 100, from: 'node', total: 100 };
const WITH_N: SeedPlan = { name: '-N', flags: '-N', graceMs: 100, from: 'node', total: 200 };
const WITH_N_FROM_BASH: SeedPlan = { ...WITH_N, from: 'bash' };

// -q1 is the usual workaround and costs a second per run, so it gets only a few. The bash
// loop runs only -N: the seeds' exact command never ends, and a loop would wait on it forever.
const SEED_PLANS: readonly SeedPlan[] = [
  AS_SEEDS,
  WITH_N,
  { name: '-q0', flags: '-q0', graceMs: 100, from: 'node', total: 200 },
  { name: '-q1', flags: '-q1', graceMs: 2000, from: 'node', total: 5 },
  WITH_N_FROM_BASH,
];

const planKey = (plan: SeedPlan): string => `${plan.from}:${plan.name}`;

/** One connection of a persistent client. */
interface Session {
  call(): Promise<unknown>;
  close(): Promise<void>;
}

type PersistentName = 'raw-floor' | 'cuju-hmp';

interface Contender {
  name: string;
  /** Runs this contender's share of the next round. */
  block(): Promise<void>;
  record(): BenchRecord;
}

/** How many of `total` runs fall in round `round`, so the rounds add up to exactly `total`. */
function share(total: number, round: number): number {
  return Math.floor(((round + 1) * total) / ROUNDS) - Math.floor((round * total) / ROUNDS);
}

/** p50 and p99 in µs, or nulls when nothing was measured (a variant that never exits). */
function percentilesUs(samplesMs: readonly number[]): { p50_us: number | null; p99_us: number | null } {
  if (samplesMs.length === 0) return { p50_us: null, p99_us: null };
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50_us: round(quantile(sorted, 0.5) * 1000), p99_us: round(quantile(sorted, 0.99) * 1000) };
}

async function openFloor(path: string): Promise<Session> {
  const floor = await RawHmpFloor.connect(path);
  return { call: () => floor.infoStatus(), close: () => floor.close() };
}

async function cujuOpener(): Promise<(path: string) => Promise<Session>> {
  const { HmpClient } = await loadCujuQmp();
  return async (path) => {
    const client = await HmpClient.connect({ path });
    return { call: () => client.run('info status'), close: () => client.close() };
  };
}

/** Checks once that our client returns exactly what QEMU printed, so we time a working client. */
async function checkCujuOutput(open: (path: string) => Promise<Session>, path: string): Promise<boolean> {
  const session = await open(path);
  try {
    const out = await session.call();
    if (out !== EXPECTED_OUTPUT)
      note(`hmp: cuju-hmp returned ${JSON.stringify(out)}, not ${EXPECTED_OUTPUT}`);
    return out === EXPECTED_OUTPUT;
  } finally {
    await session.close();
  }
}

async function warmUp(open: (path: string) => Promise<Session>, path: string): Promise<void> {
  const session = await open(path);
  for (let i = 0; i < WARMUP; i++) await session.call();
  await session.close();
}

function persistentContender(
  name: PersistentName,
  open: (path: string) => Promise<Session>,
  path: string,
  results: Map<PersistentName, LatencySummary>,
): Contender {
  const samples: number[] = [];
  const connectMs: number[] = [];
  let wall = 0;
  let blocksRun = 0;
  return {
    name,
    async block() {
      const n = share(SERIAL_PER_ROUND * ROUNDS, blocksRun++);
      const t0 = performance.now();
      const session = await open(path);
      connectMs.push(performance.now() - t0);
      wall += await serialBlock(session.call, n, samples);
      await session.close();
    },
    record() {
      const serial = summarizeLatencies(samples, wall);
      results.set(name, serial);
      const connect = percentilesUs(connectMs);
      // Connect + banner, once per round: what a client that reconnected per command would add.
      return {
        suite: 'hmp',
        client: name,
        mode: 'serial',
        ...serial,
        connects: connectMs.length,
        connect_p50_us: connect.p50_us,
      };
    },
  };
}

function seedContender(plan: SeedPlan, path: string, results: Map<string, SeedRun[]>): Contender {
  const runs: SeedRun[] = [];
  results.set(planKey(plan), runs);
  let blocksRun = 0;
  return {
    name: `seed-nc ${plan.name} from ${plan.from}`,
    async block() {
      const n = share(plan.total, blocksRun++);
      if (plan.from === 'bash') {
        runs.push(...(await runSeedLoopInBash(plan, path, n)));
        return;
      }
      for (let i = 0; i < n; i++) {
        const run = await runSeedOnce(plan, path);
        runs.push(run);
        if (run.exitMs === undefined) await sleep(SETTLE_MS);
      }
    },
    record() {
      const answers = runs.flatMap((r) => (r.answerMs === undefined ? [] : [r.answerMs]));
      const exits = runs.flatMap((r) => (r.exitMs === undefined ? [] : [r.exitMs]));
      const answer = percentilesUs(answers);
      const exit = percentilesUs(exits);
      const allExited = exits.length === runs.length;
      return {
        suite: 'hmp',
        client: 'seed-nc',
        variant: plan.name,
        mode: plan.from === 'node' ? 'spawn-per-command' : 'bash-loop',
        command:
          plan.from === 'node'
            ? `sh -c '${seedCommand(plan, '<hmp.sock>')}'`
            : `out=$(${seedCommand(plan, '<hmp.sock>')})`,
        n: runs.length,
        answered: runs.filter((r) => r.answered).length,
        exited_on_its_own: exits.length,
        until_answer_p50_us: answer.p50_us,
        until_answer_p99_us: answer.p99_us,
        until_exit_p50_us: exit.p50_us,
        until_exit_p99_us: exit.p99_us,
        // Commands per second for a script that waits for each nc to exit; none if it never does.
        ops_per_s: allExited ? round(exits.length / (exits.reduce((a, b) => a + b, 0) / 1000)) : null,
      };
    },
  };
}

/** The nc build matters (flags and EOF behaviour differ between them); `nc -h` names it on stderr. */
function ncVersion(): string {
  // stderr is null when nc is missing altogether.
  const { stderr } = spawnSync('nc', ['-h'], { encoding: 'utf8' });
  return stderr?.split('\n')[0]?.trim() || 'unknown';
}

/** One run of the seeds' exact command left alone for LONG_WAIT_MS after its answer. */
async function longWaitCheck(path: string): Promise<BenchRecord> {
  const plan = AS_SEEDS;
  const run = await runSeedOnce({ ...plan, graceMs: LONG_WAIT_MS }, path);
  if (run.exitMs === undefined) await sleep(SETTLE_MS);
  return {
    suite: 'hmp',
    client: 'seed-nc',
    variant: plan.name,
    mode: 'long-wait',
    wait_after_answer_ms: LONG_WAIT_MS,
    answered: run.answered,
    exited_on_its_own: run.exitMs !== undefined,
  };
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null ? null : round(a / b, 3);
}

function summary(
  persistent: Map<PersistentName, LatencySummary>,
  seeds: Map<string, SeedRun[]>,
  outputOk: boolean,
): BenchRecord {
  const cuju = persistent.get('cuju-hmp');
  const floor = persistent.get('raw-floor');
  const p50 = (plan: SeedPlan, pick: (r: SeedRun) => number | undefined) =>
    percentilesUs((seeds.get(planKey(plan)) ?? []).flatMap((r) => pick(r) ?? [])).p50_us;
  const asSeeds = seeds.get(planKey(AS_SEEDS)) ?? [];
  return {
    suite: 'hmp',
    summary: true,
    // The seeds' exact command never exits here, so its answer time is a lower bound on its cost.
    seed_nc_answer_p50_over_cuju_p50: ratio(
      p50(AS_SEEDS, (r) => r.answerMs),
      cuju?.p50_us,
    ),
    seed_nc_N_exit_p50_over_cuju_p50: ratio(
      p50(WITH_N, (r) => r.exitMs),
      cuju?.p50_us,
    ),
    seed_nc_N_bash_p50_over_cuju_p50: ratio(
      p50(WITH_N_FROM_BASH, (r) => r.exitMs),
      cuju?.p50_us,
    ),
    // Both latencies are bimodal (see BENCHMARKS.md), which makes a p50 ratio jumpy; the means are steadier.
    cuju_p50_over_floor_p50: ratio(cuju?.p50_us, floor?.p50_us),
    cuju_mean_over_floor_mean: ratio(cuju?.mean_us, floor?.mean_us),
    seed_nc_answered: `${asSeeds.filter((r) => r.answered).length}/${asSeeds.length}`,
    seed_nc_exited_on_its_own: `${asSeeds.filter((r) => r.exitMs !== undefined).length}/${asSeeds.length}`,
    cuju_output_ok: outputOk,
    nc: ncVersion(),
    qemu: qemuVersion(),
  };
}

export async function run(): Promise<void> {
  const teardown = new Teardown();
  try {
    const qemu = await startIdleHmpQemu();
    teardown.add(() => qemu.stop());
    const peer: Peer = { name: `QEMU pid ${qemu.pid}`, exited: qemu.exited, stderr: qemu.stderr };
    const guard = <T>(what: string, work: () => Promise<T>) =>
      guarded(`hmp: ${what}`, work(), { timeoutMs: BLOCK_DEADLINE_MS, peers: [peer] });
    const path = qemu.hmpPath;
    const openCuju = await cujuOpener();
    const outputOk = await guard('cuju-hmp output check', () => checkCujuOutput(openCuju, path));
    note(`hmp: warming up raw-floor, cuju-hmp (${WARMUP} calls each) and nc`);
    await guard('raw-floor warm-up', () => warmUp(openFloor, path));
    await guard('cuju-hmp warm-up', () => warmUp(openCuju, path));
    await guard('nc warm-up', async () => {
      for (let i = 0; i < 5; i++) await runSeedOnce(WITH_N, path);
    });

    const persistent = new Map<PersistentName, LatencySummary>();
    const seeds = new Map<string, SeedRun[]>();
    const contenders: Contender[] = [
      persistentContender('raw-floor', openFloor, path, persistent),
      persistentContender('cuju-hmp', openCuju, path, persistent),
      ...SEED_PLANS.map((plan) => seedContender(plan, path, seeds)),
    ];
    note(
      `hmp: ${ROUNDS} rounds; per client ${SERIAL_PER_ROUND * ROUNDS} serial calls; nc runs ` +
        SEED_PLANS.map((p) => `${p.name} from ${p.from} ${p.total}`).join(', '),
    );
    await interleave(contenders.length, ROUNDS, (i) =>
      guard(`${contenders[i]!.name} round`, () => contenders[i]!.block()),
    );
    for (const c of contenders) printRecord(c.record());
    note(`hmp: leaving the seeds' exact command alone for ${LONG_WAIT_MS} ms after its answer`);
    printRecord(await guard('long wait check', () => longWaitCheck(path)));
    // Reported, never enforced: a benchmark on a shared machine is not a test.
    printRecord(summary(persistent, seeds, outputOk));
  } finally {
    await teardown.run();
  }
}
