/**
 * Cuju's own monitor lines, read per build: `cuju_ft_mode: N` and `ft_started: N`
 * (master), and the `GFT STATUS` line that groupft prints before the upstream
 * `info migrate` text. The upstream part is @cuju/qmp's parser, which knows no fork.
 */
import { type InfoMigrate, parseInfoMigrate } from '@cuju/qmp';
import { type CujuBuildName, type CujuBuildProfile, cujuBuild, type GftStatus } from './builds.js';
import { CujuOutputError } from './errors.js';
import { checkText } from './validate.js';

function cleanLines(text: string): string[] {
  const all = text.replace(/\r/g, '').split('\n');
  if (all.at(-1) === '') all.pop();
  return all;
}

/** Cuju's CUJU_FT_MODE values (include/migration/cuju-ft-trans-file.h@21f9f0b:43-56). */
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

/**
 * The global cuju_ft_mode. Note what it is not: on a primary it stays `off` (0) while FT
 * runs (only errors change it, migration.c@21f9f0b:2201, 2475); on a receiver it goes
 * init (1) at start, recv (5) once its first ACK is sent, handover (6) after a takeover.
 */
export interface CujuFtMode {
  value: number;
  name: CujuFtModeName;
}

/** `cuju-get-ft-mode` prints `cuju_ft_mode: %d` (hmp.c@21f9f0b:2616). */
export function parseCujuFtMode(text: string): CujuFtMode {
  checkText('text', text);
  const m = /^cuju_ft_mode:\s*(-?\d+)\s*$/m.exec(text.replace(/\r/g, ''));
  if (!m) throw new CujuOutputError("a 'cuju_ft_mode: N' line", text);
  const value = Number(m[1]);
  const name = (CUJU_FT_MODES as Record<number, CujuFtModeName>)[value] ?? 'unknown';
  return { value, name };
}

/** `cuju-get-ft-started` prints `ft_started: %d` (hmp.c@21f9f0b:2609): 1 while epochs run. */
export function parseFtStarted(text: string): boolean {
  checkText('text', text);
  const m = /^ft_started:\s*(\d+)\s*$/m.exec(text.replace(/\r/g, ''));
  if (!m) throw new CujuOutputError("an 'ft_started: N' line", text);
  return m[1] !== '0';
}

/** `info migrate` of a Cuju build: the upstream fields, and the GFT status where the build prints one. */
export interface CujuInfoMigrate extends InfoMigrate {
  /** `GFT STATUS PRE|WAIT` (groupft only: hmp.c@d2e55fe:177-186). */
  gftStatus?: GftStatus;
}

const GFT_STATUS_LINE = /^GFT STATUS (PRE|START|WAIT)\s*$/;

/**
 * `info migrate` as the given build prints it. groupft puts `GFT STATUS ...` first (any
 * other text there is refused: the answer is not groupft's); master and blk-server print
 * only QEMU 2.8's upstream lines, so a GFT line there is an unknown line. Without a
 * build, a leading GFT line is read when present.
 */
export function parseCujuInfoMigrate(
  text: string,
  build?: CujuBuildName | CujuBuildProfile,
): CujuInfoMigrate {
  checkText('text', text);
  const profile = build === undefined ? undefined : cujuBuild(build);
  const lines = cleanLines(text);
  const gft = GFT_STATUS_LINE.exec(lines[0] ?? '');
  const readsGft = profile === undefined ? true : profile.infoMigrate.gftStatusLine;
  if (profile?.infoMigrate.gftStatusLine && !gft) {
    throw new CujuOutputError(`a first 'GFT STATUS PRE|WAIT' line (${profile.name} build)`, text);
  }
  if (readsGft && gft) {
    const rest = parseInfoMigrate(lines.slice(1).join('\n'));
    return { ...rest, gftStatus: gft[1] as GftStatus };
  }
  return parseInfoMigrate(lines.join('\n'));
}
