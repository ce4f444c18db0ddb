/**
 * Small helpers shared by the benchmark suites: percentiles over latency samples,
 * heap measurement, and the one-JSON-object-per-line output format that the suites
 * print to stdout (progress and diagnostics go to stderr, so stdout stays machine-readable).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type BenchRecord = Record<string, JsonValue>;

/** The q-quantile (0..1) of ascending-sorted samples, nearest-rank: a value that was actually observed. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample');
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The median of unsorted samples. */
export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface LatencySummary {
  n: number;
  p50_us: number;
  p99_us: number;
  mean_us: number;
  ops_per_s: number;
}

/**
 * Summarises per-call durations (ms, from performance.now()) and the wall time of the
 * whole loop; ops/s comes from the wall time so loop overhead is included, as a user sees it.
 */
export function summarizeLatencies(samplesMs: readonly number[], wallMs: number): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, v) => acc + v, 0);
  return {
    n: sorted.length,
    p50_us: round(quantile(sorted, 0.5) * 1000),
    p99_us: round(quantile(sorted, 0.99) * 1000),
    mean_us: round((sum / sorted.length) * 1000),
    ops_per_s: round(opsPerSecond(sorted.length, wallMs)),
  };
}

export function opsPerSecond(n: number, wallMs: number): number {
  return n / (wallMs / 1000);
}

/** One decimal place: more digits than that would be noise on a shared 2-core machine. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Prints one measurement as a single JSON line on stdout. */
export function printRecord(record: BenchRecord): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/** Progress notes for the human at the terminal; stderr so they never mix with the JSON lines. */
export function note(message: string): void {
  process.stderr.write(`# ${message}\n`);
}

// The bench runs as `tsx bench/run.ts`, without --expose-gc. Turning the flag on at run
// time and taking `gc` from a fresh vm context is the usual Node idiom for getting it
// anyway. A collection costs a few ms, always outside the timed regions.
let gcFn: (() => void) | undefined;
function forceGc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** Heap in use after a full collection, in KiB: with a collection on both sides, a delta means retained memory. */
export function settledHeapKb(): number {
  forceGc();
  return process.memoryUsage().heapUsed / 1024;
}

export interface MsSummary {
  n: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  min_ms: number;
  max_ms: number;
}

/**
 * Summarises durations that are milliseconds long (process-level events such as a
 * failover), in ms with two decimals. With fewer than 100 samples the nearest-rank p99
 * is the maximum.
 */
export function summarizeMs(samplesMs: readonly number[]): MsSummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, v) => acc + v, 0);
  return {
    n: sorted.length,
    p50_ms: round(quantile(sorted, 0.5), 2),
    p99_ms: round(quantile(sorted, 0.99), 2),
    mean_ms: round(sum / sorted.length, 2),
    min_ms: round(sorted[0]!, 2),
    max_ms: round(sorted[sorted.length - 1]!, 2),
  };
}
