/**
 * The FT checkbox of a plain-libvirt VM: an element of ours in the domain's `<metadata>`,
 * which libvirt keeps with the domain, shows in `virsh dumpxml` and lets anyone with
 * virsh set (`virsh metadata DOM --uri URI --key cuju --set XML`), firing a
 * `metadata-change` event that the adapter takes as a hint.
 *
 * Two elements in two namespaces, so the service writing the status can never overwrite
 * a user's change of the intent (libvirt stores one element per namespace URI):
 *
 *   <ft xmlns="https://cuju-ft.github.io/xmlns/libvirt/ft-intent/1"
 *       enabled="true" engine="cuju" build="master" epoch-us="5000" reprotect="auto">
 *     <placement excluded="h3" preferred="h2"/>
 *   </ft>
 *
 *   <status xmlns="https://cuju-ft.github.io/xmlns/libvirt/ft-status/1" state="protected"
 *       primary-host="h1" secondary-host="h2" epoch-us="5000" observed-generation="2"
 *       last-change="2026-12-03T08:00:00.000Z"/>
 *
 * Only `enabled` is required; the rest take the service's defaults.
 */
import { FtServiceError } from '../../errors.js';
import { FtIntentInput, type FtStatus, parseAt } from '../../model.js';
import { parseXmlElement, type XmlElement, xmlAttrs } from './xml.js';

/** The namespace of the intent element (the FT checkbox). */
export const FT_INTENT_NS = 'https://cuju-ft.github.io/xmlns/libvirt/ft-intent/1';
/** The namespace of the status element the adapter writes. */
export const FT_STATUS_NS = 'https://cuju-ft.github.io/xmlns/libvirt/ft-status/1';
/** The prefixes libvirt stores the elements under (`virsh metadata --key`). */
export const FT_INTENT_KEY = 'cuju';
export const FT_STATUS_KEY = 'cujustatus';

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

function bool(value: string, field: string): boolean {
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new FtServiceError(
    'FTS_INVALID_INPUT',
    `${field}: must be true or false, got ${JSON.stringify(value)}`,
    {
      field,
    },
  );
}

function int(value: string, field: string): number {
  if (!/^\d{1,9}$/.test(value)) {
    throw new FtServiceError(
      'FTS_INVALID_INPUT',
      `${field}: must be a whole number, got ${JSON.stringify(value)}`,
      {
        field,
      },
    );
  }
  return Number(value);
}

function words(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/\s+/).filter(Boolean);
}

function only(el: XmlElement, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(el.attrs)) {
    if (!allowed.includes(key)) {
      throw new FtServiceError('FTS_INVALID_INPUT', `${where}: unknown attribute ${key}`, {
        field: `${where}@${key}`,
      });
    }
  }
}

/**
 * Reads the intent element as `virsh metadata --uri FT_INTENT_NS` prints it (or as found
 * in the domain XML). Throws FTS_INVALID_INPUT naming the attribute at fault
 * (`metadata.ft@epoch-us`).
 */
export function parseIntentElement(text: string, where = 'metadata.ft'): FtIntentInput {
  const el = parseXmlElement(text, where);
  if (el.name !== 'ft') {
    throw new FtServiceError('FTS_INVALID_INPUT', `${where}: expected an <ft> element, got <${el.name}>`, {
      field: where,
    });
  }
  only(el, ['enabled', 'engine', 'build', 'epoch-us', 'reprotect'], where);
  if (el.attrs.enabled === undefined) {
    throw new FtServiceError('FTS_INVALID_INPUT', `${where}@enabled: is required`, {
      field: `${where}@enabled`,
    });
  }
  const intent: Record<string, unknown> = { enabled: bool(el.attrs.enabled, `${where}@enabled`) };
  if (el.attrs.engine !== undefined) intent.engine = el.attrs.engine;
  if (el.attrs.build !== undefined) intent.build = el.attrs.build;
  if (el.attrs.reprotect !== undefined) intent.reprotect = el.attrs.reprotect;
  if (el.attrs['epoch-us'] !== undefined) intent.epochUs = int(el.attrs['epoch-us'], `${where}@epoch-us`);
  for (const child of el.children) {
    const at = `${where}.${child.name}`;
    if (child.name !== 'placement' || child.children.length > 0) {
      throw new FtServiceError('FTS_INVALID_INPUT', `${at}: unexpected element`, { field: at });
    }
    only(child, ['allowed', 'excluded', 'preferred'], at);
    intent.placement = {
      allowedHosts: words(child.attrs.allowed),
      excludedHosts: words(child.attrs.excluded),
      ...(child.attrs.preferred ? { preferredHost: child.attrs.preferred } : {}),
    };
  }
  // The model names the first bad field; `where` keeps the element's name in front of it.
  parseAt(FtIntentInput, intent, where);
  return intent as FtIntentInput;
}

/** The intent element's text (with its namespace), as `virsh metadata --set` and the domain XML take it. */
export function intentElement(intent: FtIntentInput, prefix?: string): string {
  const p = prefix ? `${prefix}:` : '';
  const ns = prefix ? `xmlns:${prefix}` : 'xmlns';
  const head = `<${p}ft${xmlAttrs([
    [ns, FT_INTENT_NS],
    ['enabled', intent.enabled],
    ['engine', intent.engine],
    ['build', intent.build],
    ['epoch-us', intent.epochUs],
    ['reprotect', intent.reprotect],
  ])}`;
  const pl = intent.placement;
  if (!pl) return `${head}/>`;
  const placement = `<${p}placement${xmlAttrs([
    ['allowed', pl.allowedHosts?.length ? pl.allowedHosts.join(' ') : undefined],
    ['excluded', pl.excludedHosts?.length ? pl.excludedHosts.join(' ') : undefined],
    ['preferred', pl.preferredHost],
  ])}/>`;
  return `${head}>${placement}</${p}ft>`;
}

/** The FT status as the element the adapter writes (one line, no child elements). */
export function statusElement(status: FtStatus): string {
  return `<status${xmlAttrs([
    ['xmlns', FT_STATUS_NS],
    ['state', status.state],
    ['reason', status.reason],
    ['primary-host', status.primaryHost],
    ['secondary-host', status.secondaryHost],
    ['epoch-us', status.epochUs],
    ['failovers', status.figures?.failovers],
    ['observed-generation', status.observedGeneration],
    ['last-change', status.lastChangeAt],
    ['detail', status.detail?.slice(0, 500)],
  ])}/>`;
}

/** What a status element says, read back (for users and tests; the service never reads it). */
export interface PublishedStatus {
  state: string;
  reason?: string;
  primaryHost?: string;
  secondaryHost?: string;
  observedGeneration?: number;
  lastChangeAt?: string;
}

/** Reads a status element back. */
export function parseStatusElement(text: string, where = 'metadata.status'): PublishedStatus {
  const el = parseXmlElement(text, where);
  const state = el.attrs.state;
  if (el.name !== 'status' || state === undefined) {
    throw new FtServiceError('FTS_INVALID_INPUT', `${where}: expected a <status state=...> element`, {
      field: where,
    });
  }
  const a = el.attrs;
  return {
    state,
    ...(a.reason ? { reason: a.reason } : {}),
    ...(a['primary-host'] ? { primaryHost: a['primary-host'] } : {}),
    ...(a['secondary-host'] ? { secondaryHost: a['secondary-host'] } : {}),
    ...(a['observed-generation']
      ? { observedGeneration: int(a['observed-generation'], `${where}@observed-generation`) }
      : {}),
    ...(a['last-change'] ? { lastChangeAt: a['last-change'] } : {}),
  };
}
