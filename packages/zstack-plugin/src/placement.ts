/**
 * Where a secondary may go: an enabled host that is not the primary's, allowed by the
 * intent's constraints, with room left (VM count and memory, counting every primary and
 * secondary the host already holds or has been promised). Best first: the preferred host
 * when it qualifies, then the least loaded, then by name (deterministic).
 */
import type { Host, Placement, PlacementCheck } from './model.js';

export interface HostUsage {
  vms: number;
  memoryMiB: number;
}

export type Usage = Map<string, HostUsage>;

/** Adds a VM's footprint on `host` to `usage`. */
export function reserve(usage: Usage, host: string | undefined, memoryMiB: number): void {
  if (!host) return;
  const u = usage.get(host) ?? { vms: 0, memoryMiB: 0 };
  usage.set(host, { vms: u.vms + 1, memoryMiB: u.memoryMiB + memoryMiB });
}

export interface SecondaryQuery {
  primaryHost: string;
  memoryMiB: number;
  placement: Placement;
}

export function secondaryCandidates(hosts: readonly Host[], usage: Usage, q: SecondaryQuery): PlacementCheck {
  const { allowedHosts, excludedHosts, preferredHost } = q.placement;
  const refusals: string[] = [];
  const fits: Array<{ name: string; load: number }> = [];
  for (const h of hosts) {
    if (h.name === q.primaryHost) continue;
    if (!h.enabled) {
      refusals.push(`${h.name} is disabled`);
      continue;
    }
    if (allowedHosts.length > 0 && !allowedHosts.includes(h.name)) {
      refusals.push(`${h.name} is not in the allowed hosts`);
      continue;
    }
    if (excludedHosts.includes(h.name)) {
      refusals.push(`${h.name} is excluded`);
      continue;
    }
    const u = usage.get(h.name) ?? { vms: 0, memoryMiB: 0 };
    if (u.vms + 1 > h.capacity.vms) {
      refusals.push(`${h.name} is full (${u.vms} of ${h.capacity.vms} VMs)`);
      continue;
    }
    if (u.memoryMiB + q.memoryMiB > h.capacity.memoryMiB) {
      refusals.push(
        `${h.name} lacks memory (${h.capacity.memoryMiB - u.memoryMiB} MiB free, ${q.memoryMiB} needed)`,
      );
      continue;
    }
    fits.push({ name: h.name, load: h.capacity.vms === 0 ? 1 : u.vms / h.capacity.vms });
  }
  fits.sort(
    (a, b) =>
      Number(b.name === preferredHost) - Number(a.name === preferredHost) ||
      a.load - b.load ||
      a.name.localeCompare(b.name),
  );
  if (fits.length > 0) return { qualifies: true, candidates: fits.map((f) => f.name) };
  const others = hosts.filter((h) => h.name !== q.primaryHost).length;
  const reason =
    others === 0
      ? `no other host than ${q.primaryHost}: a secondary never runs on the primary's host`
      : `no host qualifies for the secondary: ${refusals.join('; ')}`;
  return { qualifies: false, reason, candidates: [] };
}

/** Where a new primary goes: the least loaded enabled host with room (by name on a tie). */
export function primaryCandidate(
  hosts: readonly Host[],
  usage: Usage,
  memoryMiB: number,
): string | undefined {
  const fits = hosts
    .filter((h) => h.enabled)
    .map((h) => ({ h, u: usage.get(h.name) ?? { vms: 0, memoryMiB: 0 } }))
    .filter(({ h, u }) => u.vms + 1 <= h.capacity.vms && u.memoryMiB + memoryMiB <= h.capacity.memoryMiB)
    .sort(
      (a, b) =>
        a.u.vms / (a.h.capacity.vms || 1) - b.u.vms / (b.h.capacity.vms || 1) ||
        a.h.name.localeCompare(b.h.name),
    );
  return fits[0]?.h.name;
}
