import { HmpOutputError } from '../errors.js';

/**
 * Typed readings of HMP `info` output, in the upstream layouts of QEMU 2.8 and 7.2 (7.2
 * read from a real binary in the tests). Format drift is real, so every parser keeps the
 * lines it does not understand (`unknownLines`) instead of dropping them, and throws
 * HmpOutputError only when the one line it exists for is missing. Nothing here knows a
 * downstream fork: Cuju's own lines (`GFT STATUS ...`, `cuju_ft_mode: N`) are read by
 * @cuju/sdk, which wraps these parsers.
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

/** `info migrate`, read: status, times, and every other field (unknown lines kept). */
export interface InfoMigrate {
  /** The `capabilities:` line of QEMU 2.8 (`name: on|off ...`). Absent in newer QEMU. */
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
  /** Lines that are neither of the above (a fork's own lines among them), in order. */
  unknownLines: string[];
}

const MILLISECONDS: Record<string, 'totalTimeMs' | 'expectedDowntimeMs' | 'downtimeMs' | 'setupTimeMs'> = {
  'total time': 'totalTimeMs',
  'expected downtime': 'expectedDowntimeMs',
  downtime: 'downtimeMs',
  setup: 'setupTimeMs',
};

/** `info migrate`, in the 2.8 and the 7.2 layouts. */
export function parseInfoMigrate(text: string): InfoMigrate {
  const out: InfoMigrate = { fields: {}, unknownLines: [] };
  for (const line of lines(text)) {
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
