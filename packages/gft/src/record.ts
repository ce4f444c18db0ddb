/**
 * A group as JSON, so that a later process (the CLI's `status`, `watch`, `down`) finds its
 * VMs again: the spec, the build, the generation, and each VM's host, pid, log and spec.
 */
import type { CujuVmSpec } from '@cuju/sdk';
import { GftError } from './errors.js';
import type { GroupRole } from './plan.js';
import { type GroupSpec, parseGroupSpec } from './spec.js';

/** One VM of a record. */
export interface GroupRecordVm {
  key: string;
  member: number;
  role: GroupRole;
  /** The spec's host name. */
  host: string;
  ip: string;
  pid: number;
  logPath: string;
  sudo?: boolean;
  spec: CujuVmSpec;
  /** Its whole command line, the binary first. */
  argv: string[];
}

/** A group as JSON (JSON.stringify it; readGroupRecord reads it back, checked). */
export interface GroupRecord {
  kind: 'cuju-gft-group';
  version: 1;
  spec: GroupSpec;
  build: string;
  generation: number;
  /** ISO 8601. */
  savedAt: string;
  vms: GroupRecordVm[];
}

/** Reads a record from its JSON text or parsed value, checking its shape (GFT_RECORD_INVALID names the field). */
export function readGroupRecord(input: string | unknown): GroupRecord {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new GftError('GFT_RECORD_INVALID', `the group record is not JSON: ${(err as Error).message}`);
    }
  }
  const r = value as Partial<GroupRecord> | null;
  const bad = (field: string, why: string) =>
    new GftError('GFT_RECORD_INVALID', `the group record's ${field} ${why}`);
  if (typeof r !== 'object' || r === null) throw bad('value', 'must be an object');
  if (r.kind !== 'cuju-gft-group') throw bad('kind', "must be 'cuju-gft-group'");
  if (r.version !== 1) throw bad('version', 'must be 1');
  if (typeof r.build !== 'string') throw bad('build', 'must be a string');
  if (typeof r.generation !== 'number') throw bad('generation', 'must be a number');
  if (!Array.isArray(r.vms)) throw bad('vms', 'must be an array');
  const spec = parseGroupSpec(r.spec);
  r.vms.forEach((v, i) => {
    if (typeof v !== 'object' || v === null) throw bad(`vms[${i}]`, 'must be an object');
    if (typeof v.key !== 'string') throw bad(`vms[${i}].key`, 'must be a string');
    if (!Number.isInteger(v.pid) || v.pid <= 0) throw bad(`vms[${i}].pid`, 'must be a pid');
    if (typeof v.logPath !== 'string') throw bad(`vms[${i}].logPath`, 'must be a string');
    if (typeof v.host !== 'string' || !spec.hosts[v.host])
      throw bad(`vms[${i}].host`, 'must name a host of the spec');
    if (v.role !== 'primary' && v.role !== 'backup')
      throw bad(`vms[${i}].role`, "must be 'primary' or 'backup'");
    if (typeof v.spec !== 'object' || v.spec === null) throw bad(`vms[${i}].spec`, 'must be an object');
    if (!Array.isArray(v.argv)) throw bad(`vms[${i}].argv`, 'must be an array');
  });
  return { ...(r as GroupRecord), spec };
}
