/**
 * Benchmark entry: `npm run bench -- [suite...]` (no suite: all of them).
 * Each suite is a module exporting `run()`, loaded only when asked for, so a suite's
 * dependencies (a peer library, a QEMU binary) are not needed to run the others.
 *
 * Around every suite the machine's load (/proc/loadavg) is printed as a JSON line, so a
 * number can be read beside how busy the shared machine was. A suite that fails (a peer
 * died, a deadline passed) stops the run with its message and exit code 1.
 */
import { runSuites, SUITE_NAMES } from './lib/suites.js';

async function main(args: readonly string[]): Promise<number> {
  const unknown = args.filter((name) => !SUITE_NAMES.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark suite${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\n` +
        `known suites: ${SUITE_NAMES.join(', ')}\n`,
    );
    return 1;
  }
  return runSuites(args.length > 0 ? args : SUITE_NAMES);
}

process.exitCode = await main(process.argv.slice(2));
