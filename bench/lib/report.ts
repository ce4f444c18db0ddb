/**
 * Recorded runs and what is made of them: the tables of BENCHMARKS.md and the ratios that
 * `npm run bench:check` compares a new run with.
 *
 * A run is the JSON lines one `tsx bench/run.ts <suite>` printed, stored as
 * `bench/recorded/<suite>/run-<n>.jsonl`. Tables are written between markers in
 * BENCHMARKS.md (`<!-- bench:<suite> -->` ... `<!-- /bench:<suite> -->`); the prose around
 * them is written by hand.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchRecord, JsonValue } from './stats.js';

export const RESULTS_DIR = new URL('../recorded/', import.meta.url);

export type Run = BenchRecord[];

export interface RatioSpec {
  key: string;
  /** Which way is better, so a move can be called better or worse. */
  better: 'lower' | 'higher';
  /** The issue's target, shown beside the values. */
  target?: number;
}

/** The ratios each suite's summary line carries that bench:check watches. */
const RATIOS: Record<string, RatioSpec[]> = {
  qmp: [
    { key: 'serial_p50_ratio_vs_floor', better: 'lower', target: 1.1 },
    { key: 'pipelined_vs_node_qemu_pipelined', better: 'higher', target: 1 },
    { key: 'pipelined_vs_floor', better: 'higher' },
    { key: 'pending_bytes_vs_floor', better: 'lower' },
    { key: 'issue_us_vs_floor', better: 'lower' },
  ],
  'qmp-events': [
    { key: 'events_vs_floor', better: 'higher', target: 0.8 },
    { key: 'stream_vs_floor', better: 'higher' },
  ],
  'hmp-large': [
    { key: 'qmp_hmp_over_hmp_client', better: 'lower', target: 1.1 },
    { key: 'hmp_client_over_floor', better: 'lower' },
    { key: 'qmp_hmp_over_floor', better: 'lower' },
  ],
  hmp: [
    { key: 'cuju_mean_over_floor_mean', better: 'lower' },
    { key: 'cuju_p50_over_floor_p50', better: 'lower' },
    { key: 'seed_nc_N_exit_p50_over_cuju_p50', better: 'higher' },
  ],
  'qmp-wire': [{ key: 'serial_us_per_request_byte', better: 'lower' }],
  failover: [{ key: 'sdk_p50_over_floor_p50', better: 'lower' }],
  gft: [
    { key: 'sdk_over_seed_p50_n2', better: 'lower' },
    { key: 'sdk_over_seed_p50_n8', better: 'lower' },
    { key: 'sdk_over_seed_p50_n32', better: 'lower' },
  ],
  prepare: [
    { key: 'prepare_p50_ratio_sdk_over_floor', better: 'lower' },
    { key: 'write_p50_ratio_sdk_over_floor', better: 'lower' },
  ],
};

export function ratioSpecs(suite: string): RatioSpec[] {
  return RATIOS[suite] ?? [];
}

/** Issue 19's targets: the summary values they apply to, absolute ones included. */
const TARGETS: ReadonlyArray<RatioSpec & { suite: string; what: string }> = [
  {
    suite: 'qmp',
    key: 'bytes_per_pending_call',
    better: 'lower',
    target: 700,
    what: 'heap per pending call, bytes (10 000 queued)',
  },
  {
    suite: 'qmp',
    key: 'issue_cpu_us_per_call',
    better: 'lower',
    target: 10,
    what: 'CPU to issue a call, µs (10 000 queued)',
  },
  {
    suite: 'qmp',
    key: 'issue_us_per_call',
    better: 'lower',
    target: 10,
    what: 'wall time to issue a call, µs (10 000 queued)',
  },
  {
    suite: 'qmp-events',
    key: 'events_vs_floor',
    better: 'higher',
    target: 0.8,
    what: 'events/s over the raw floor (1 M events)',
  },
  {
    suite: 'qmp',
    key: 'pipelined_vs_node_qemu_pipelined',
    better: 'higher',
    target: 1,
    what: "pipelined ops/s over node-qemu's pipelined mode",
  },
  {
    suite: 'qmp',
    key: 'serial_p50_ratio_vs_floor',
    better: 'lower',
    target: 1.1,
    what: 'serial p50 over the raw floor',
  },
  { suite: 'qmp', key: 'request_bytes', better: 'lower', what: 'bytes of a query-status request' },
  {
    suite: 'hmp-large',
    key: 'qmp_hmp_over_hmp_client',
    better: 'lower',
    target: 1.1,
    what: 'QmpClient.hmp() over HmpClient, 1 MB output (mean)',
  },
];

/** One row per target: the values of each run before (`label`) and after (the current runs), and how often it was met. */
export function renderTargets(label: string): string {
  const values = (suite: string, key: string, l?: string) =>
    readRuns(suite, l)
      .map((run) => summaryOf(run, suite)?.[key])
      .filter((v): v is number => typeof v === 'number');
  const met = (spec: RatioSpec, vs: number[]) =>
    spec.target === undefined
      ? ''
      : `${vs.filter((v) => (spec.better === 'lower' ? v <= spec.target! : v >= spec.target!)).length} of ${vs.length}`;
  return table(
    ['target', 'suite', 'goal', `before (${label})`, 'met', 'after', 'met'],
    TARGETS.map((t) => {
      const before = values(t.suite, t.key, label);
      const after = values(t.suite, t.key);
      const goal = t.target === undefined ? '' : `${t.better === 'lower' ? '≤' : '≥'} ${t.target}`;
      return [t.what, t.suite, goal, before.join(' · '), met(t, before), after.join(' · '), met(t, after)];
    }),
  );
}

export function parseRun(text: string): Run {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as BenchRecord);
}

/** `bench/recorded/<suite>`, or `bench/recorded/<label>/<suite>` for a labelled set (a baseline). */
export function suiteDir(suite: string, label?: string): string {
  return label ? join(RESULTS_DIR.pathname, label, suite) : join(RESULTS_DIR.pathname, suite);
}

export function readRuns(suite: string, label?: string): Run[] {
  const dir = suiteDir(suite, label);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^run-\d+\.jsonl$/.test(f))
    .sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]))
    .map((f) => parseRun(readFileSync(join(dir, f), 'utf8')));
}

export function writeRuns(suite: string, runs: readonly string[]): void {
  const dir = suiteDir(suite);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (/^run-\d+\.jsonl$/.test(f)) rmSync(join(dir, f));
  for (const [i, text] of runs.entries()) writeFileSync(join(dir, `run-${i + 1}.jsonl`), text);
}

export function summaryOf(run: Run, suite: string): BenchRecord | undefined {
  return run.find((r) => r.suite === suite && r.summary === true);
}

export function failureOf(run: Run): string | undefined {
  const failed = run.find((r) => r.failed === true && typeof r.error === 'string');
  return failed ? String(failed.error) : undefined;
}

function loadOf(run: Run, when: 'before' | 'after'): string {
  const rec = run.find((r) => r.load === true && r.when === when);
  const avg = rec?.loadavg;
  return Array.isArray(avg) ? avg.map((v) => Number(v).toFixed(2)).join(' / ') : 'n/a';
}

const fmt = (v: JsonValue | undefined): string => {
  if (v === undefined || v === null) return '–';
  if (typeof v === 'number')
    return Number.isInteger(v) ? v.toLocaleString('en-US').replace(/,/g, ' ') : String(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
};

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Fields that identify a row rather than measure it. */
const IDENTITY = ['client', 'contender', 'mode', 'variant', 'measure', 'command'];
const NOT_SHOWN = new Set(['suite', 'summary', 'oob', 'window', 'clock', 'qemu', 'nc', 'via', ...IDENTITY]);

function rowKey(r: BenchRecord): string {
  return IDENTITY.filter((k) => r[k] !== undefined && k !== 'command')
    .map((k) => String(r[k]))
    .join(' · ');
}

/**
 * The tables for one suite: the machine's load beside each run, every contender row with
 * each numeric field as `run 1 · run 2 · run 3`, and the summary's ratios per run.
 */
export function renderSuite(suite: string, runs: readonly Run[]): string {
  const out: string[] = [];
  out.push(
    table(
      ['run', 'started', 'load before (1/5/15 min)', 'load after'],
      runs.map((run, i) => {
        const env = run.find((r) => r.environment === true);
        return [String(i + 1), fmt(env?.started), loadOf(run, 'before'), loadOf(run, 'after')];
      }),
    ),
  );
  // Contender rows, grouped by the set of fields they carry (one table per shape).
  const groups = new Map<string, { fields: string[]; keys: string[] }>();
  for (const run of runs) {
    for (const r of run) {
      if (r.suite !== suite || r.summary === true || r.load === true || r.failed === true) continue;
      const key = rowKey(r);
      if (!key) continue;
      const fields = Object.keys(r).filter(
        (k) => !NOT_SHOWN.has(k) && (typeof r[k] === 'number' || typeof r[k] === 'string' || r[k] === null),
      );
      const shape = fields.join(',');
      const g = groups.get(shape) ?? { fields, keys: [] };
      if (!g.keys.includes(key)) g.keys.push(key);
      groups.set(shape, g);
    }
  }
  for (const { fields, keys } of groups.values()) {
    const rows = keys.map((key) => [
      key,
      ...fields.map((f) =>
        runs
          .map((run) =>
            fmt(run.find((r) => r.suite === suite && r.summary !== true && rowKey(r) === key)?.[f]),
          )
          .join(' · '),
      ),
    ]);
    out.push(table(['contender', ...fields], rows));
  }
  const summaries = runs.map((run) => summaryOf(run, suite));
  const specs = ratioSpecs(suite);
  const ratioKeys = [
    ...specs.map((s) => s.key),
    // The other numbers of the summary; targets are shown beside their ratios already.
    ...Object.keys(summaries[0] ?? {}).filter(
      (k) =>
        !NOT_SHOWN.has(k) &&
        !k.includes('target') &&
        !specs.some((s) => s.key === k) &&
        typeof summaries[0]?.[k] === 'number',
    ),
  ];
  if (ratioKeys.length > 0) {
    out.push(
      table(
        ['summary', 'target', ...runs.map((_, i) => `run ${i + 1}`)],
        ratioKeys.map((k) => {
          const spec = specs.find((s) => s.key === k);
          const target =
            spec?.target === undefined ? '' : `${spec.better === 'lower' ? '≤' : '≥'} ${spec.target}`;
          return [k, target, ...summaries.map((s) => fmt(s?.[k]))];
        }),
      ),
    );
  }
  return out.join('\n\n');
}

/** A generated block of BENCHMARKS.md: `<!-- bench:<suite> -->` or `<!-- bench:<suite>@<label> -->`. */
export interface Block {
  suite: string;
  label: string | undefined;
}

const BLOCK = /<!-- bench:([\w-]+)(?:@([\w.-]+))? -->/g;

export function blocksIn(markdown: string): Block[] {
  return [...markdown.matchAll(BLOCK)].map((m) => ({ suite: m[1]!, label: m[2] }));
}

/** Replaces a generated block in `markdown` (its markers must exist). */
export function replaceBlock(markdown: string, block: Block, body: string, command: string): string {
  const name = block.label ? `${block.suite}@${block.label}` : block.suite;
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const from = markdown.indexOf(start);
  const to = markdown.indexOf(end);
  if (from === -1 || to === -1 || to < from) {
    throw new Error(`BENCHMARKS.md has no ${start} ... ${end} block`);
  }
  const from_ =
    block.suite === 'targets'
      ? `bench/recorded and bench/recorded/${block.label}`
      : `bench/recorded/${block.label ? `${block.label}/` : ''}${block.suite}`;
  const text = `${start}\n<!-- generated by \`${command}\` from ${from_}; do not edit by hand -->\n\n${body}\n\n${end}`;
  return markdown.slice(0, from) + text + markdown.slice(to + end.length);
}
