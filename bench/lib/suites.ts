/**
 * The suites, and running them with the machine's load recorded around each one.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { BenchFailure } from './guard.js';
import { type BenchRecord, printRecord } from './stats.js';

interface Suite {
  run(): Promise<void>;
}

const SUITES: Record<string, () => Promise<Suite>> = {
  qmp: () => import('../qmp.js'),
  'qmp-wire': () => import('../qmp-wire.js'),
  'qmp-events': () => import('../qmp-events.js'),
  hmp: () => import('../hmp.js'),
  'hmp-large': () => import('../hmp-large.js'),
  failover: () => import('../failover.js'),
  colo: () => import('../colo.js'),
  gft: () => import('../gft.js'),
  prepare: () => import('../prepare.js'),
  service: () => import('../service.js'),
};

export const SUITE_NAMES: readonly string[] = Object.keys(SUITES);

/** The 1, 5 and 15 minute load averages, or null where /proc/loadavg does not exist. */
export function loadAverage(): number[] | null {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return null;
  }
}

/** Where the numbers came from, printed once before any suite. */
function environment(): BenchRecord {
  return {
    environment: true,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    cpu_model: cpus()[0]?.model ?? 'unknown',
    started: new Date().toISOString(),
  };
}

/** Runs the suites in order; returns the exit code (1 when one failed). */
export async function runSuites(names: readonly string[]): Promise<number> {
  printRecord(environment());
  for (const name of names) {
    printRecord({ suite: name, load: true, when: 'before', loadavg: loadAverage() });
    try {
      const suite = await SUITES[name]!();
      await suite.run();
    } catch (err) {
      const why = err instanceof BenchFailure ? err.message : ((err as Error)?.stack ?? String(err));
      process.stderr.write(`bench: suite ${name} failed: ${why}\n`);
      printRecord({ suite: name, failed: true, error: err instanceof Error ? err.message : String(err) });
      return 1;
    }
    printRecord({ suite: name, load: true, when: 'after', loadavg: loadAverage() });
  }
  return 0;
}
