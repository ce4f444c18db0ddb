/**
 * `npm run bench:check -- [--tolerance 0.1] [suite...]`
 *
 * Runs each suite once and compares the ratios of its summary line with the recorded runs
 * (bench/recorded, written by `npm run bench:record`): a ratio has moved when it lies
 * outside the recorded min–max widened by the tolerance (default 10 %). Prints every
 * ratio with its recorded range, the new value and whether it moved (better or worse),
 * plus the machine's load then and now. Exits 1 when a ratio moved the worse way.
 * Without suite names: every suite with recorded runs.
 */
import { parseArgs } from 'node:util';
import { failureOf, parseRun, ratioSpecs, readRuns, summaryOf } from './lib/report.js';
import { runSuiteProcess } from './lib/spawn-suite.js';
import { SUITE_NAMES } from './lib/suites.js';

function loadavg(run: ReturnType<typeof parseRun>): string {
  const rec = run.find((r) => r.load === true && r.when === 'before');
  return Array.isArray(rec?.loadavg) ? String(rec.loadavg[0]) : 'n/a';
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { tolerance: { type: 'string', default: '0.1' } },
    allowPositionals: true,
  });
  const tolerance = Number(values.tolerance);
  if (!(tolerance >= 0)) {
    process.stderr.write(`--tolerance must be a non-negative number, got ${values.tolerance}\n`);
    return 1;
  }
  const suites = positionals.length > 0 ? positionals : SUITE_NAMES.filter((s) => readRuns(s).length > 0);
  let worse = 0;
  const lines: string[] = [];
  for (const suite of suites) {
    const recorded = readRuns(suite);
    if (recorded.length === 0) {
      lines.push(`${suite}: nothing recorded (run npm run bench:record -- ${suite})`);
      continue;
    }
    process.stderr.write(`# bench:check: running ${suite}\n`);
    const { code, stdout } = await runSuiteProcess(suite);
    const run = parseRun(stdout);
    if (code !== 0) {
      lines.push(`${suite}: FAILED (${failureOf(run) ?? `exit ${code}`})`);
      worse++;
      continue;
    }
    const now = summaryOf(run, suite);
    lines.push(
      `${suite}: load now ${loadavg(run)}, when recorded ${recorded.map(loadavg).join(', ')} (1-min average)`,
    );
    for (const spec of ratioSpecs(suite)) {
      const past = recorded
        .map((r) => summaryOf(r, suite)?.[spec.key])
        .filter((v): v is number => typeof v === 'number');
      const value = now?.[spec.key];
      if (typeof value !== 'number' || past.length === 0) {
        lines.push(`  ${spec.key}: no value to compare`);
        continue;
      }
      const lo = Math.min(...past);
      const hi = Math.max(...past);
      let verdict = 'steady';
      if (value > hi * (1 + tolerance))
        verdict = spec.better === 'lower' ? 'MOVED worse (up)' : 'moved better (up)';
      else if (value < lo / (1 + tolerance))
        verdict = spec.better === 'higher' ? 'MOVED worse (down)' : 'moved better (down)';
      if (verdict.startsWith('MOVED')) worse++;
      lines.push(`  ${spec.key}: recorded ${lo}–${hi}, now ${value}: ${verdict}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (worse > 0) process.stdout.write(`${worse} ratio(s) moved the worse way beyond ${tolerance * 100} %\n`);
  return worse > 0 ? 1 : 0;
}

process.exitCode = await main();
