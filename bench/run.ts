/**
 * Benchmark entry: `npm run bench -- [suite...]` (no suite: all of them).
 * Each suite is a module exporting `run()`, loaded only when asked for, so a suite's
 * dependencies (a peer library, a QEMU binary) are not needed to run the others.
 */
import { availableParallelism, cpus } from 'node:os';
import { type BenchRecord, printRecord } from './lib/stats.js';

interface Suite {
  run(): Promise<void>;
}

const SUITES: Record<string, () => Promise<Suite>> = {
  qmp: () => import('./qmp.js'),
  'qmp-wire': () => import('./qmp-wire.js'),
  hmp: () => import('./hmp.js'),
  failover: () => import('./failover.js'),
  prepare: () => import('./prepare.js'),
  service: () => import('./service.js'),
};

/** Where the numbers came from, printed once before any suite. */
function environment(): BenchRecord {
  return {
    environment: true,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    cpu_model: cpus()[0]?.model ?? 'unknown',
  };
}

async function main(args: readonly string[]): Promise<number> {
  const known = Object.keys(SUITES);
  const unknown = args.filter((name) => !Object.hasOwn(SUITES, name));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark suite${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\n` +
        `known suites: ${known.join(', ')}\n`,
    );
    return 1;
  }
  printRecord(environment());
  for (const name of args.length > 0 ? args : known) {
    const suite = await SUITES[name]!();
    await suite.run();
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
