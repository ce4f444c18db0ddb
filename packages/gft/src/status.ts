/**
 * What a group's VMs say about it, as data: each VM's status, each member's state, the
 * group's state and its one-line summary, and a death as watch() reports it. Pure
 * functions of what FtGroup has seen (markers, deaths, whether each VM runs).
 */
import type { CujuMarkerKind, CujuVmMonitor, VmExit, VmSession } from '@cuju/sdk';
import type { GroupDeath, GroupMemberState, GroupMemberStatus, GroupState, GroupVmStatus } from './events.js';
import type { GroupPlanVm } from './plan.js';

/** One VM of the group: its plan entry, its session, what it printed, its death. */
export interface GroupVm {
  plan: GroupPlanVm;
  session: VmSession<CujuVmMonitor>;
  /** Marker kinds, first time seen (Date.now()). */
  markers: Map<CujuMarkerKind, number>;
  death: { at: number; exit: VmExit } | undefined;
  /** Its last stdout line (what it said before it died). */
  lastLine: string;
  /** The bytes of its log read so far (lines and their breaks). */
  bytes: number;
}

export function toDeath(v: GroupVm): GroupDeath {
  return {
    member: v.plan.member,
    role: v.plan.role,
    key: v.plan.key,
    at: new Date(v.death?.at ?? Date.now()).toISOString(),
    exit: { code: v.death?.exit.code ?? null, signal: v.death?.exit.signal ?? null },
  };
}

export function vmStatus(v: GroupVm): GroupVmStatus {
  return {
    key: v.plan.key,
    role: v.plan.role,
    host: v.plan.host,
    ip: v.plan.ip,
    pid: v.session.pid,
    running: v.session.running,
    ...(v.death ? { exit: { code: v.death.exit.code, signal: v.death.exit.signal } } : {}),
    markers: [...v.markers.keys()],
  };
}

export function memberState(p: GroupVm | undefined, b: GroupVm | undefined): GroupMemberState {
  const pRuns = p?.session.running === true;
  const bRuns = b?.session.running === true;
  if (bRuns && b?.markers.has('failover-vm-started')) return 'failed-over';
  if (pRuns && bRuns)
    return b?.markers.has('first-commit') && p?.markers.has('timer-tick') ? 'protected' : 'starting';
  if (pRuns) return 'unprotected';
  if (bRuns) return b?.markers.has('first-commit') ? 'failing-over' : 'down';
  return 'down';
}

export function groupState(states: GroupMemberState[]): GroupState {
  if (states.every((s) => s === 'protected')) return 'protected';
  if (states.every((s) => s === 'failed-over')) return 'failed-over';
  if (states.every((s) => s === 'down')) return 'down';
  if (states.every((s) => s === 'protected' || s === 'starting')) return 'forming';
  return 'degraded';
}

export function summary(state: GroupState, members: GroupMemberStatus[]): string {
  const n = members.length;
  switch (state) {
    case 'protected':
      return `all ${n} members are protected`;
    case 'failed-over':
      return `the group failed over: all ${n} backups run their guests unprotected; reprotect() forms a new group on the spare hosts`;
    case 'down':
      return 'no VM of the group runs';
    case 'forming':
      return `${members.filter((m) => m.state === 'protected').length} of ${n} members confirmed protected`;
    default:
      return members.map((m) => `member ${m.id}: ${m.state}`).join(', ');
  }
}
