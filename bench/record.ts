/**
 * `npm run bench:record -- [--runs 3] [--render-only] [suite...]`
 *
 * Runs each suite `--runs` times (default 3), each run in a fresh process, stores the JSON
 * lines in bench/recorded/<suite>/run-<n>.jsonl, and writes the tables of BENCHMARKS.md
 * from them (between the `<!-- bench:<suite> -->` markers), the machine's load beside
 * each run. `--render-only` rewrites the tables from the stored runs without running.
 * Without suite names: every suite that has a block in BENCHMARKS.md. Every block is
 * rewritten from what is stored, labelled ones too (`<!-- bench:qmp@baseline-36b60ae -->`
 * shows bench/recorded/baseline-36b60ae/qmp, runs kept from an earlier build).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  blocksIn,
  failureOf,
  readRuns,
  renderSuite,
  renderTargets,
  replaceBlock,
  writeRuns,
} from './lib/report.js';
import { runSuiteProcess } from './lib/spawn-suite.js';
import { SUITE_NAMES } from './lib/suites.js';

const BENCHMARKS = new URL('../BENCHMARKS.md', import.meta.url);

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { runs: { type: 'string', default: '3' }, 'render-only': { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`--runs must be a positive integer, got ${values.runs}\n`);
    return 1;
  }
  let markdown = readFileSync(BENCHMARKS, 'utf8');
  const withBlocks = SUITE_NAMES.filter((s) => blocksIn(markdown).some((b) => b.suite === s && !b.label));
  const suites = positionals.length > 0 ? positionals : withBlocks;
  const unknown = suites.filter((s) => !SUITE_NAMES.includes(s));
  if (unknown.length > 0) {
    process.stderr.write(`unknown suites: ${unknown.join(', ')} (known: ${SUITE_NAMES.join(', ')})\n`);
    return 1;
  }
  for (const suite of suites) {
    if (!values['render-only']) {
      const outputs: string[] = [];
      for (let i = 1; i <= runs; i++) {
        process.stderr.write(`# bench:record: ${suite}, run ${i} of ${runs}\n`);
        const { code, stdout } = await runSuiteProcess(suite);
        const failure = failureOf(
          stdout
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l)),
        );
        if (code !== 0) {
          process.stderr.write(
            `bench:record: ${suite} run ${i} failed (${failure ?? `exit ${code}`}); nothing recorded\n`,
          );
          return 1;
        }
        outputs.push(stdout);
      }
      writeRuns(suite, outputs);
    }
  }
  for (const block of blocksIn(markdown)) {
    if (block.suite === 'targets' && block.label) {
      markdown = replaceBlock(markdown, block, renderTargets(block.label), 'npm run bench:record');
      continue;
    }
    const recorded = readRuns(block.suite, block.label);
    if (recorded.length === 0) {
      const name = `${block.suite}${block.label ? `@${block.label}` : ''}`;
      process.stderr.write(`bench:record: nothing stored for the block ${name}\n`);
      return 1;
    }
    markdown = replaceBlock(markdown, block, renderSuite(block.suite, recorded), 'npm run bench:record');
  }
  writeFileSync(BENCHMARKS, markdown);
  process.stderr.write(`# bench:record: BENCHMARKS.md tables written for ${suites.join(', ')}\n`);
  return 0;
}

process.exitCode = await main();
