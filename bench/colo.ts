/**
 * The colo suite: FtPair on real QEMU COLO (qemu-system-x86_64, TCG, diskless, NIC-less,
 * both VMs on this machine, the FT link on loopback), beside the Cuju engine on cuju-sim.
 *
 * - failover: per run a fresh pair, up(), then testFailover() (SIGKILL of the primary);
 *   from just before the kill (performance.now()) to the pair's first sign (`failing-over`)
 *   and to `failed-over`. The same for the Cuju engine on cuju-sim (master build),
 *   interleaved run by run, so both see the same machine load. The pair's own
 *   `deathToDetectionMs` (from the host's death stamp) is recorded too: on COLO it can be
 *   negative, since the secondary sees its link close before the host has reaped the
 *   primary.
 * - checkpoints: a pair at each of two `x-checkpoint-delay`s, watched through observer
 *   QMP sockets for a fixed window: checkpoints begun (the primary's STOP), completed (its
 *   RESUME after that), and the pause of each (STOP to RESUME, primary and secondary).
 *   Debian's QEMU 7.2 deadlocks the primary at the end of its first periodic checkpoint
 *   (see the README): the suite records what happens rather than assuming a rate.
 *
 * `COLO_BENCH_RUNS` sets the failover runs (default 30).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCujuQmp } from './lib/cuju-qmp.js';
import { cujuSimBinary, loadCujuSdk } from './lib/cuju-sdk.js';
import { freePort } from './lib/free-port.js';
import { interleave } from './lib/measure.js';
import { type BenchRecord, note, printRecord, round, summarizeMs } from './lib/stats.js';

type CujuSdk = typeof import('@cuju/sdk');
type CujuQmp = typeof import('@cuju/qmp');
type QmpClient = import('@cuju/qmp').QmpClient;
type Pair = InstanceType<CujuSdk['FtPair']>;

const RUNS = Number(process.env.COLO_BENCH_RUNS ?? 30);
const WARMUP_RUNS = 1;
const MAX_FAILURES = 5;
/** The two checkpoint delays measured (ms). */
const DELAYS = [500, 2_000] as const;
/** How long each checkpoint pair is watched. */
const WINDOW_MS = 8_000;
/** Keeps periodic checkpoints (and Debian 7.2's deadlock) out of the failover runs. */
const NO_CHECKPOINT_MS = 3_600_000;
/** Limits for a loaded machine, not expectations. */
const TIMEOUTS = { launchMs: 60_000, syncMs: 120_000, failoverMs: 60_000, stopGraceMs: 3_000 };

interface FailoverSample {
  detectMs: number;
  runningMs: number;
  deathToDetectionMs: number | undefined;
  firstSign: string;
  via: string;
}

/** Times from just before testFailover()'s kill to the first sign and to failed-over. */
async function failoverOnce(pair: Pair): Promise<FailoverSample> {
  let signAt: number | undefined;
  let runningAt: number | undefined;
  pair.on('state', (c) => {
    if (c.state === 'failing-over') signAt ??= performance.now();
    if (c.state === 'failed-over') runningAt ??= performance.now();
  });
  await pair.up();
  const t0 = performance.now();
  const report = await pair.testFailover();
  if (signAt === undefined || runningAt === undefined)
    throw new Error('no failing-over or failed-over state');
  return {
    detectMs: signAt - t0,
    runningMs: runningAt - t0,
    deathToDetectionMs: report.deathToDetectionMs,
    firstSign: report.firstSign,
    via: report.via,
  };
}

/** One failover run of `pair`, whose files are in `dir`; both are gone afterwards. */
async function failoverIn(dir: string, pair: Pair): Promise<FailoverSample> {
  try {
    return await failoverOnce(pair);
  } finally {
    await pair.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function coloRun(sdk: CujuSdk): Promise<FailoverSample> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-bench-colo-'));
  const pair = new sdk.FtPair({
    engine: 'colo',
    primary: new sdk.LocalHost({ address: '127.0.0.1' }),
    backup: new sdk.LocalHost({ address: '127.0.0.1' }),
    vm: { memory: 64, monitorPath: join(dir, 'p.qmp') },
    backupVm: { monitorPath: join(dir, 's.qmp') },
    binary: { path: 'qemu-system-x86_64' },
    ftPort: await freePort(),
    colo: { checkpointDelayMs: NO_CHECKPOINT_MS },
    timeouts: TIMEOUTS,
    watchdog: { enabled: false },
  });
  return failoverIn(dir, pair);
}

async function cujuSimRun(sdk: CujuSdk, simBin: string): Promise<FailoverSample> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-bench-colo-sim-'));
  const pair = new sdk.FtPair({
    primary: new sdk.LocalHost(),
    backup: new sdk.LocalHost(),
    build: 'master',
    vm: { name: 'vm1', memory: '1G', monitorPath: join(dir, 'vm1.monitor') },
    binary: { path: process.execPath, args: [simBin] },
    ftPort: await freePort(),
    timeouts: TIMEOUTS,
    watchdog: { enabled: false },
  });
  return failoverIn(dir, pair);
}

interface Contender {
  name: 'colo-qemu-7.2' | 'cuju-sim-master';
  once(): Promise<FailoverSample>;
  samples: FailoverSample[];
  failures: string[];
}

async function attempt(c: Contender, record: boolean): Promise<void> {
  try {
    const sample = await c.once();
    if (record) c.samples.push(sample);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    c.failures.push(message);
    note(`colo: ${c.name} run failed: ${message}`);
    if (c.failures.length > MAX_FAILURES)
      throw new Error(`colo: ${c.name} failed ${c.failures.length} times`);
  }
}

function count(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function failoverRecords(c: Contender): BenchRecord[] {
  const s = c.samples;
  const common = { suite: 'colo', contender: c.name, failed: c.failures.length, clock: 'performance.now()' };
  const deaths = s.flatMap((x) => (x.deathToDetectionMs === undefined ? [] : [x.deathToDetectionMs]));
  return [
    {
      ...common,
      measure: 'kill-to-detection',
      ...summarizeMs(s.map((x) => x.detectMs)),
      first_sign: count(s.map((x) => x.firstSign)),
    },
    {
      ...common,
      measure: 'kill-to-failed-over',
      ...summarizeMs(s.map((x) => x.runningMs)),
      via: count(s.map((x) => x.via)),
    },
    ...(deaths.length > 0
      ? [{ ...common, measure: 'death-to-detection (host stamp)', ...summarizeMs(deaths) }]
      : []),
  ];
}

/** STOP/RESUME of one VM, as its observer socket shows them. */
interface Pauses {
  stops: number;
  pausesMs: number[];
}

function watchPauses(qmp: QmpClient): Pauses {
  const p: Pauses = { stops: 0, pausesMs: [] };
  let stoppedAt: number | undefined;
  qmp.on('event', (event: { event: string }) => {
    if (event.event === 'STOP') {
      p.stops++;
      stoppedAt = performance.now();
    } else if (event.event === 'RESUME' && stoppedAt !== undefined) {
      p.pausesMs.push(performance.now() - stoppedAt);
      stoppedAt = undefined;
    }
  });
  return p;
}

async function checkpoints(sdk: CujuSdk, qmpLib: CujuQmp, delayMs: number): Promise<BenchRecord> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-bench-colo-cp-'));
  const observer = (name: string) => ['-qmp', `unix:${join(dir, `${name}-observer.qmp`)},server=on,wait=off`];
  const pair = new sdk.FtPair({
    engine: 'colo',
    primary: new sdk.LocalHost({ address: '127.0.0.1' }),
    backup: new sdk.LocalHost({ address: '127.0.0.1' }),
    vm: { memory: 64, monitorPath: join(dir, 'p.qmp'), extraArgs: observer('p') },
    backupVm: { monitorPath: join(dir, 's.qmp'), extraArgs: observer('s') },
    binary: { path: 'qemu-system-x86_64' },
    ftPort: await freePort(),
    colo: { checkpointDelayMs: delayMs },
    timeouts: TIMEOUTS,
    watchdog: { enabled: false },
  });
  const clients: Array<QmpClient> = [];
  try {
    let upError: string | undefined;
    // The observers connect before FT starts, so that every checkpoint's events are seen.
    const launched = new Promise<void>((resolve) =>
      pair.on('state', (c) => {
        if (c.state === 'enabling') resolve();
      }),
    );
    const up = pair.up().catch((err: unknown) => {
      upError = err instanceof Error ? err.message : String(err);
    });
    await Promise.race([launched, up]);
    for (const name of ['p', 's']) {
      clients.push(await qmpLib.QmpClient.connect({ path: join(dir, `${name}-observer.qmp`) }));
    }
    const [primary, secondary] = [watchPauses(clients[0]!), watchPauses(clients[1]!)];
    await up;
    const start = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const windowS = (performance.now() - start) / 1000;
    // A probe with a short deadline: does the primary's monitor still answer after the window?
    const answers = await clients[0]!
      .execute('query-status', {}, { timeoutMs: 2_000 })
      .then(() => true)
      .catch(() => false);
    return {
      suite: 'colo',
      measure: 'checkpoints',
      checkpoint_delay_ms: delayMs,
      up: upError ?? pair.state,
      window_s: round(windowS, 1),
      primary_stops: primary.stops,
      primary_resumes: primary.pausesMs.length,
      checkpoints_per_s: round(primary.pausesMs.length / windowS, 2),
      primary_pause_p50_ms: primary.pausesMs.length ? summarizeMs(primary.pausesMs).p50_ms : null,
      secondary_pauses: secondary.pausesMs.length,
      secondary_pause_p50_ms: secondary.pausesMs.length ? summarizeMs(secondary.pausesMs).p50_ms : null,
      primary_monitor_answers_after: answers,
    };
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await pair.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const sdk = await loadCujuSdk();
  const qmpLib = await loadCujuQmp();
  const simBin = cujuSimBinary();
  const contenders: Contender[] = [
    { name: 'colo-qemu-7.2', once: () => coloRun(sdk), samples: [], failures: [] },
    { name: 'cuju-sim-master', once: () => cujuSimRun(sdk, simBin), samples: [], failures: [] },
  ];
  const start = performance.now();
  note(`colo: ${WARMUP_RUNS} warm-up run per contender`);
  await interleave(contenders.length, WARMUP_RUNS, (i) => attempt(contenders[i]!, false));
  for (const c of contenders) c.failures.length = 0;
  note(`colo: ${RUNS} failover runs per contender, alternating`);
  await interleave(contenders.length, RUNS, (i) => attempt(contenders[i]!, true));
  for (const c of contenders) for (const r of failoverRecords(c)) printRecord(r);
  for (const delay of DELAYS) {
    note(`colo: checkpoints at x-checkpoint-delay ${delay} ms for ${WINDOW_MS} ms`);
    printRecord(await checkpoints(sdk, qmpLib, delay));
  }
  const colo = summarizeMs(contenders[0]!.samples.map((x) => x.detectMs));
  const sim = summarizeMs(contenders[1]!.samples.map((x) => x.detectMs));
  printRecord({
    suite: 'colo',
    summary: true,
    runs_per_contender: RUNS,
    colo_detect_p50_ms: colo.p50_ms,
    colo_detect_p99_ms: colo.p99_ms,
    cuju_sim_detect_p50_ms: sim.p50_ms,
    cuju_sim_detect_p99_ms: sim.p99_ms,
    colo_p50_over_cuju_sim_p50: round(colo.p50_ms / sim.p50_ms, 2),
    suite_s: round((performance.now() - start) / 1000),
  });
}
