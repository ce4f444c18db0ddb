import { HmpOutputError } from '../errors.js';

/**
 * Typed readings of HMP `info` output, for upstream QEMU (7.2, read from a real binary
 * in the tests) and for Cuju's 2.8-based dialect (reference fixtures). Format drift is
 * real, so every parser keeps the lines it does not understand (`unknownLines`) instead
 * of dropping them, and throws HmpOutputError only when the one line it exists for is
 * missing.
 */
function lines(text: string): string[] {
  const all = text.split(/\r?\n/);
  if (all.at(-1) === '') all.pop();
  return all;
}

/** `info status`, read. */
export interface InfoStatus {
  running: boolean;
  /** QEMU's RunState: 'running', 'paused', or the reason it is paused ('prelaunch', 'inmigrate', ...). */
  status: string;
  singlestep: boolean;
}

const VM_STATUS = /^VM status: (running|paused)( \(single step mode\))?(?: \(([^)]+)\))?\s*$/;

/** `info status`: `VM status: paused (prelaunch)` and friends (same format in 2.8 and 7.2). */
export function parseInfoStatus(text: string): InfoStatus {
  for (const line of lines(text)) {
    const m = VM_STATUS.exec(line);
    if (!m) continue;
    const running = m[1] === 'running';
    return { running, status: running ? 'running' : (m[3] ?? 'paused'), singlestep: m[2] !== undefined };
  }
  throw new HmpOutputError("an 'info status' line (VM status: ...)", text);
}

/** Cuju's group-FT state, the first line of `info migrate` in GFT builds. */
export type GftStatus = 'PRE' | 'START' | 'WAIT' | (string & {});

/** `info migrate`, read: status, times, Cuju's GFT status, and every other field. */
export interface InfoMigrate {
  /** `GFT STATUS PRE|START|WAIT` (Cuju GFT builds only). */
  gftStatus?: GftStatus;
  /** The `capabilities:` line of QEMU 2.8 (Cuju), with `cuju-ft`. Absent in newer QEMU. */
  capabilities?: Record<string, boolean>;
  /** `Migration status:` (MigrationStatus: 'active', 'completed', 'cancelled', ...); absent when no migration ran. */
  status?: string;
  /** The text in parentheses after a `failed` status. */
  errorDesc?: string;
  totalTimeMs?: number;
  expectedDowntimeMs?: number;
  downtimeMs?: number;
  setupTimeMs?: number;
  /** Every other `key: value` line, as printed (e.g. 'transferred ram': '123 kbytes'). */
  fields: Record<string, string>;
  /** Lines that are neither of the above, in order. */
  unknownLines: string[];
}

const MILLISECONDS: Record<string, 'totalTimeMs' | 'expectedDowntimeMs' | 'downtimeMs' | 'setupTimeMs'> = {
  'total time': 'totalTimeMs',
  'expected downtime': 'expectedDowntimeMs',
  downtime: 'downtimeMs',
  setup: 'setupTimeMs',
};

/** `info migrate` (and Cuju's `info_migrate`), in the 2.8/Cuju and the 7.2 layouts. */
export function parseInfoMigrate(text: string): InfoMigrate {
  const out: InfoMigrate = { fields: {}, unknownLines: [] };
  for (const line of lines(text)) {
    const gft = /^GFT STATUS (\S+)\s*$/.exec(line);
    if (gft) {
      out.gftStatus = gft[1]!;
      continue;
    }
    if (line.startsWith('capabilities: ')) {
      out.capabilities = parseCapabilityPairs(line.slice('capabilities: '.length));
      continue;
    }
    const status = /^Migration status: (\S+)(?: \((.*)\))?\s*$/.exec(line);
    if (status) {
      out.status = status[1]!;
      if (status[2] !== undefined) out.errorDesc = status[2];
      continue;
    }
    const kv = /^([^:]+):\s?(.*)$/.exec(line);
    if (!kv) {
      out.unknownLines.push(line);
      continue;
    }
    const key = kv[1]!;
    const value = kv[2]!.trimEnd();
    const ms = MILLISECONDS[key];
    const msValue = ms ? /^(\d+) (?:milliseconds|ms)$/.exec(value) : null;
    if (ms && msValue) out[ms] = Number(msValue[1]);
    else out.fields[key] = value;
  }
  return out;
}

/** `name: on name: off ...` on one line (2.8's `capabilities:` line). */
function parseCapabilityPairs(rest: string): Record<string, boolean> {
  const caps: Record<string, boolean> = {};
  for (const m of rest.matchAll(/(\S+): (on|off)/g)) caps[m[1]!] = m[2] === 'on';
  return caps;
}

/** `info migrate_capabilities`, read: each capability on or off. */
export interface InfoMigrateCapabilities {
  capabilities: Record<string, boolean>;
  unknownLines: string[];
}

/** `info migrate_capabilities`: one `name: on|off` per line (2.8 and 7.2). */
export function parseInfoMigrateCapabilities(text: string): InfoMigrateCapabilities {
  const out: InfoMigrateCapabilities = { capabilities: {}, unknownLines: [] };
  for (const line of lines(text)) {
    const m = /^(\S+): (on|off)\s*$/.exec(line);
    if (m) out.capabilities[m[1]!] = m[2] === 'on';
    else out.unknownLines.push(line);
  }
  return out;
}

/** `info version`, read. */
export interface InfoVersion {
  major: number;
  minor: number;
  micro: number;
  /** The distribution's package string, without the parentheses 2.8 put around it ('' when none). */
  package: string;
}

/** `info version`: `7.2.22Debian 1:7.2+dfsg-7` (7.2) or `2.8.1 (Debian ...)`/`2.8.1` (2.8). */
export function parseInfoVersion(text: string): InfoVersion {
  const first = lines(text)[0] ?? '';
  const m = /^(\d+)\.(\d+)\.(\d+)(.*)$/.exec(first.trim());
  if (!m) throw new HmpOutputError("an 'info version' line (MAJOR.MINOR.MICRO...)", text);
  const pkg = m[4]!.trim().replace(/^\((.*)\)$/, '$1');
  return { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3]), package: pkg };
}

/** Cuju's CUJU_FT_MODE values (include/migration/cuju-ft-trans-file.h). */
export const CUJU_FT_MODES = {
  [-1]: 'error',
  0: 'off',
  1: 'init',
  2: 'pre-run',
  3: 'iter',
  4: 'atomic',
  5: 'recv',
  6: 'handover',
  7: 'speculative',
  8: 'flush-output',
  9: 'transfer',
  10: 'snapshot',
  11: 'run',
} as const satisfies Record<number, string>;

/** The name of a Cuju FT mode (`unknown` for a number Cuju does not define). */
export type CujuFtModeName = (typeof CUJU_FT_MODES)[keyof typeof CUJU_FT_MODES] | 'unknown';

/** Cuju's `cuju_ft_mode: N`: the number and its name. */
export interface CujuFtMode {
  value: number;
  name: CujuFtModeName;
}

/** `cuju-get-ft-mode` prints `cuju_ft_mode: N` (5 = recv: a backup receiving). */
export function parseCujuFtMode(text: string): CujuFtMode {
  const m = /^cuju_ft_mode:\s*(-?\d+)\s*$/m.exec(text.replace(/\r/g, ''));
  if (!m) throw new HmpOutputError("a 'cuju_ft_mode: N' line", text);
  const value = Number(m[1]);
  const name = (CUJU_FT_MODES as Record<number, CujuFtModeName>)[value] ?? 'unknown';
  return { value, name };
}

/** `cuju-get-ft-started` prints `ft_started: 0|1`. */
export function parseFtStarted(text: string): boolean {
  const m = /^ft_started:\s*(\d+)\s*$/m.exec(text.replace(/\r/g, ''));
  if (!m) throw new HmpOutputError("an 'ft_started: N' line", text);
  return m[1] !== '0';
}
