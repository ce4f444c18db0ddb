/**
 * The user tags the FT checkbox lives in on ZStack (its `key::value` convention; user
 * tags need no Java plugin, system tags would):
 *
 * - `cuju::ft`: the checkbox, ticked.
 * - `cuju::ft::engine::colo`, `cuju::ft::epoch-us::5000`, `cuju::ft::reprotect::manual`,
 *   `cuju::ft::build::groupft`: options (an invalid value is ignored, the rest applies).
 * - written back by the service: `cuju::ft::status::<state>`, `cuju::ft::reason::<reason>`,
 *   `cuju::ft::running-on::<host>`, `cuju::ft::secondary-on::<host>`.
 */
import type { FtIntentInput, FtStatus } from '../../model.js';
import { EpochUs } from '../../model.js';

/** The tick. */
export const FT_TAG = 'cuju::ft';
/** Every tag of ours starts with this. */
export const FT_TAG_PREFIX = 'cuju::ft::';
/** The prefixes the service writes (and removes when stale). */
export const STATUS_TAG_PREFIXES = [
  'cuju::ft::status::',
  'cuju::ft::reason::',
  'cuju::ft::running-on::',
  'cuju::ft::secondary-on::',
] as const;

/** The FT intent a VM's tags ask for; undefined when the VM is not ticked. */
export function intentFromTags(tags: readonly string[]): FtIntentInput | undefined {
  if (!tags.includes(FT_TAG)) return undefined;
  const ft: FtIntentInput = { enabled: true };
  for (const t of tags) {
    if (!t.startsWith(FT_TAG_PREFIX)) continue;
    const [key, value] = splitOnce(t.slice(FT_TAG_PREFIX.length));
    if (value === undefined) continue;
    if (key === 'engine' && (value === 'cuju' || value === 'colo')) ft.engine = value;
    else if (key === 'reprotect' && (value === 'auto' || value === 'manual')) ft.reprotect = value;
    else if (key === 'build' && /^[A-Za-z0-9._-]{1,64}$/.test(value)) ft.build = value;
    else if (key === 'epoch-us' && /^\d{1,7}$/.test(value) && EpochUs.safeParse(Number(value)).success)
      ft.epochUs = Number(value);
  }
  return ft;
}

/** Whether a tag is one the service writes. */
export function isStatusTag(tag: string): boolean {
  return STATUS_TAG_PREFIXES.some((p) => tag.startsWith(p));
}

/** The status tags a VM should carry for an FT status. */
export function statusTags(status: FtStatus): string[] {
  const tags = [`cuju::ft::status::${status.state}`];
  if (status.reason && status.state === 'not-protected') tags.push(`cuju::ft::reason::${status.reason}`);
  if (status.primaryHost) tags.push(`cuju::ft::running-on::${status.primaryHost}`);
  if (status.secondaryHost) tags.push(`cuju::ft::secondary-on::${status.secondaryHost}`);
  return tags;
}

function splitOnce(s: string): [string, string | undefined] {
  const i = s.indexOf('::');
  return i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + 2)];
}
