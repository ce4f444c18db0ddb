/**
 * The typed events and reports of a group: the runner's progress, what status() reads,
 * and what watch() reports when members die and the group fails over.
 */
import type { GroupRunError } from './errors.js';
import type { GroupPhaseName, GroupPlanStep, GroupRole } from './plan.js';

/** A runner's progress, in order (`at`: Date.now()). */
export type GroupProgress =
  | { type: 'phase-start'; phase: GroupPhaseName; parallel: boolean; steps: number; at: number }
  | { type: 'step-start'; step: GroupPlanStep; at: number }
  /** `ms`: how long the step took; `pid`: the VM's pid, for a launch. */
  | { type: 'step-done'; step: GroupPlanStep; at: number; ms: number; pid?: number }
  | { type: 'phase-done'; phase: GroupPhaseName; at: number; ms: number }
  /** Every member is protected; `ms` since the run began. */
  | { type: 'protected'; at: number; ms: number }
  /** The run failed or was cancelled; everything it started has been stopped by then. */
  | { type: 'failed'; error: GroupRunError; at: number };

/** What one VM of a member is doing. */
export interface GroupVmStatus {
  key: string;
  role: GroupRole;
  /** The spec's host name and the VM's IP. */
  host: string;
  ip: string;
  pid: number;
  running: boolean;
  /** How it ended, when it did. */
  exit?: { code: number | null; signal: string | null };
  /** The Cuju stdout markers it printed (kinds, first time each), e.g. `first-commit`. */
  markers: string[];
}

/**
 * A member's state: `starting` (FT not confirmed yet), `protected` (both run, the backup
 * committed an epoch), `failed-over` (its backup took over and runs the guest alone),
 * `failing-over` (the primary is gone, the backup has not said it runs yet),
 * `unprotected` (the primary runs without a backup), `down` (neither runs).
 */
export type GroupMemberState =
  | 'starting'
  | 'protected'
  | 'failed-over'
  | 'failing-over'
  | 'unprotected'
  | 'down';

/** One member's state and its two VMs. */
export interface GroupMemberStatus {
  id: number;
  state: GroupMemberState;
  primary: GroupVmStatus | undefined;
  backup: GroupVmStatus | undefined;
}

/**
 * The group's state: `protected` (every member), `failed-over` (every member's backup took
 * over: the groupft tip fails the whole group over when one member fails), `down` (no VM
 * runs), `forming` (some member not confirmed yet, none lost), `degraded` (anything else).
 */
export type GroupState = 'forming' | 'protected' | 'failed-over' | 'degraded' | 'down';

/** What groupStatus() says. */
export interface GroupStatus {
  name: string | undefined;
  state: GroupState;
  /** How many times the group was formed (1 after up, 2 after one reprotect, ...). */
  generation: number;
  members: GroupMemberStatus[];
  /** One sentence on the state, for people. */
  summary: string;
}

/** One VM's death, as watch() reports it. */
export interface GroupDeath {
  member: number;
  role: GroupRole;
  key: string;
  /** When it died (ISO 8601, this machine's clock). */
  at: string;
  exit: { code: number | null; signal: string | null };
}

/** One backup's takeover: it runs the guest on its own (`cuju_ft_trans_close vm_started.`). */
export interface GroupTakeover {
  member: number;
  key: string;
  at: string;
  /** Since the first death of the failure. */
  afterMs: number;
}

/** A watch() event. */
export type GroupWatchEvent =
  | { type: 'member-died'; death: GroupDeath }
  | { type: 'took-over'; takeover: GroupTakeover }
  | { type: 'group-failed-over'; report: GroupFailoverReport };

/** What watch() resolves with: who died first, who followed, which backups took over and when, and the state after. */
export interface GroupFailoverReport {
  /** The VM that died first by its host's exit stamp (the failure's cause), whichever death was seen first. */
  firstDeath: GroupDeath;
  /** Every death, in exit order: on groupft the surviving primaries exit(-1) after the first. */
  deaths: GroupDeath[];
  /** Every member whose backup took over. */
  takeovers: GroupTakeover[];
  /** From the first death until the last takeover. */
  failoverMs: number;
  state: GroupStatus;
}
