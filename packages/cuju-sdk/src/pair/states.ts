/**
 * The FT pair's life as data: its states, the events that move it, and ONE table that
 * decides every change of state. FtPair never assigns a state: it fires an event, and the
 * table says where that leads from where the pair is (or that the event means nothing
 * there, and the state stays). The table is engine-neutral: a Cuju pair and a QEMU COLO
 * pair go through the same rows.
 *
 * Words follow vSphere FT where it has them: `turnOn` (FT for a running VM), `turnOff`
 * (FT ends, the primary keeps running: `disabled`), `restartSecondary` (a new secondary
 * from the survivor), `testFailover`.
 */

/**
 * Where an FT pair is.
 *
 * - `idle`: made, nothing started.
 * - `launching`: starting a VM (both for up(), the primary for start(), the new
 *   secondary for turnOn()/restartSecondary()).
 * - `backup-ready`: the secondary (receiver) runs and its monitor is open; for up() the
 *   primary starts now, otherwise the primary is checked.
 * - `enabling`: FT is being enabled on the primary.
 * - `syncing`: the primary sends its first copy; protection is not confirmed yet.
 * - `protected`: the secondary commits every epoch of the primary.
 * - `not-protected`: the guest runs (or is believed to) without a working secondary; the
 *   change's `reason` says why (see NotProtectedReason).
 * - `failing-over`: the first sign of a failover was seen (the primary's death recorded
 *   on its host, the secondary's takeover marker or RESUME, the FT link's EOF); the
 *   secondary is not yet confirmed running.
 * - `failed-over`: the former secondary runs the guest alone.
 * - `disabled`: FT is off and the primary runs alone (start(), turnOff(), or a lone VM
 *   adopted by attach()).
 * - `stopping`: a planned stop (down()) or the clean-up after a failed start; never a
 *   failover, never `not-protected`.
 * - `stopped`: nothing of the pair runs.
 */
export const FT_PAIR_STATES = [
  'idle',
  'launching',
  'backup-ready',
  'enabling',
  'syncing',
  'protected',
  'not-protected',
  'failing-over',
  'failed-over',
  'disabled',
  'stopping',
  'stopped',
] as const;
/** A state of an FT pair (see FT_PAIR_STATES). */
export type FtPairState = (typeof FT_PAIR_STATES)[number];

/**
 * Why a pair is `not-protected` (or why it stopped, on `stopping`/`stopped`):
 *
 * - `secondary-lost`: the secondary VM exited while protected; the primary runs on.
 * - `secondary-unresponsive`: the secondary stopped answering (no monitor answer within
 *   the watchdog's threshold) while the primary still does.
 * - `primary-unresponsive`: the primary stopped making FT progress (no epoch, no monitor
 *   answer within the watchdog's threshold) while it still exists: reported before
 *   anything is done about it (see the watchdog's policy).
 * - `primary-lost-before-sync`: the primary died before the first epoch committed: the
 *   secondary had nothing to run.
 * - `failover-failed`: the primary died and the secondary did not take over in time (or
 *   died too).
 * - `sync-timeout`: protection was not confirmed within the sync deadline.
 * - `launch-failed`: a VM did not start (or exited while starting).
 * - `aborted`: the operation's AbortSignal aborted it.
 * - `vm-exited`: the last VM of the pair exited on its own (on `stopped`).
 * - `ft-stopped`: FT ended without either VM dying (the secondary took over while the
 *   primary still runs, found by attach()).
 * - `block-server-lost`: the block server (blk-server build, BlockServerPair) exited: the
 *   VMs run on (no build exits on it), their disk requests unanswered, and a backup could
 *   not take over (it connects to the block server then, and exits when it cannot).
 */
export type FtPairReason =
  | 'secondary-lost'
  | 'secondary-unresponsive'
  | 'primary-unresponsive'
  | 'primary-lost-before-sync'
  | 'failover-failed'
  | 'sync-timeout'
  | 'launch-failed'
  | 'aborted'
  | 'vm-exited'
  | 'ft-stopped'
  | 'block-server-lost';

/**
 * What moves a pair: operations the caller started (and their steps), and what was seen
 * of the VMs. FtPair classifies what it sees into these; the table decides the rest.
 */
export const FT_PAIR_EVENTS = [
  // Operations.
  /** up(): launch both VMs and protect. */
  'up',
  /** start(): launch the primary alone (FT off). */
  'start',
  /** turnOn(): a secondary for the running primary. */
  'turn-on',
  /** restartSecondary(): a new secondary from the survivor. */
  'restart-secondary',
  /** turnOff(): FT ends, the primary keeps running. */
  'turn-off',
  /** down() (or the clean-up of a failed start): stop everything. */
  'down',
  // Steps of an operation.
  /** The secondary runs and its monitor is open. */
  'backup-launched',
  /** start(): the primary runs and its monitor is open. */
  'primary-launched',
  /** FT is being enabled on the primary. */
  'enable',
  /** The primary was told to start FT. */
  'sync',
  /** Protection confirmed (the engine's evidence). */
  'protected',
  /** turnOn()/restartSecondary() failed or was aborted; the primary still runs. */
  'op-failed',
  /** Every VM of the pair is gone (after down(), or a failed start's clean-up). */
  'all-stopped',
  // What was seen.
  /** The primary died while a synced secondary could take over. */
  'primary-died',
  /** The secondary showed it is taking over (marker, RESUME, FT link EOF). */
  'takeover-sign',
  /** The secondary runs the guest alone. */
  'backup-running',
  /** The secondary did not take over within the failover deadline. */
  'takeover-failed',
  /** The secondary VM exited. */
  'backup-died',
  /** The watchdog: the primary makes no FT progress. */
  'primary-unresponsive',
  /** The watchdog: the secondary does not answer. */
  'backup-unresponsive',
  /** The watchdog: progress again after an unresponsive report (the VM was only slow or stopped). */
  'responsive',
  /** The only VM left running exited. */
  'last-vm-died',
  /** The block server of a BlockServerPair exited. */
  'block-server-died',
  // attach(record): the state found.
  'attached-protected',
  'attached-disabled',
  'attached-failed-over',
  'attached-not-protected',
  'attached-stopped',
] as const;
/** What moves an FT pair (see FT_PAIR_EVENTS). */
export type FtPairEvent = (typeof FT_PAIR_EVENTS)[number];

/** One row of the table: from any of `from`, `on` leads to `to` (with `reason`, when fixed). */
export interface FtPairTransition {
  readonly from: readonly FtPairState[];
  readonly on: FtPairEvent;
  readonly to: FtPairState;
  /** The reason the change carries, when the row fixes it (otherwise the event's). */
  readonly reason?: FtPairReason;
}

/** Every state but `stopped` and `stopping`: what down() can interrupt. */
const LIVE: readonly FtPairState[] = FT_PAIR_STATES.filter((s) => s !== 'stopped' && s !== 'stopping');

/**
 * THE table. Each (state, event) pair appears at most once; a pair not in the table means
 * the event changes nothing in that state (a backup exiting while the pair is `disabled`
 * after turnOff(), a takeover marker while already `failed-over`).
 */
export const FT_PAIR_TRANSITIONS: readonly FtPairTransition[] = [
  // Operations start.
  { from: ['idle', 'stopped'], on: 'up', to: 'launching' },
  { from: ['idle', 'stopped'], on: 'start', to: 'launching' },
  { from: ['disabled'], on: 'turn-on', to: 'launching' },
  { from: ['failed-over', 'not-protected'], on: 'restart-secondary', to: 'launching' },
  { from: ['protected', 'not-protected', 'failed-over'], on: 'turn-off', to: 'disabled' },
  { from: LIVE, on: 'down', to: 'stopping' },
  // Their steps.
  { from: ['launching'], on: 'backup-launched', to: 'backup-ready' },
  { from: ['launching'], on: 'primary-launched', to: 'disabled' },
  { from: ['backup-ready'], on: 'enable', to: 'enabling' },
  { from: ['enabling'], on: 'sync', to: 'syncing' },
  { from: ['syncing'], on: 'protected', to: 'protected' },
  { from: ['launching', 'backup-ready', 'enabling', 'syncing'], on: 'op-failed', to: 'not-protected' },
  { from: ['stopping'], on: 'all-stopped', to: 'stopped' },
  // What is seen of the VMs.
  { from: ['protected', 'not-protected'], on: 'primary-died', to: 'failing-over' },
  { from: ['protected', 'not-protected'], on: 'takeover-sign', to: 'failing-over' },
  { from: ['failing-over'], on: 'backup-running', to: 'failed-over' },
  { from: ['failing-over'], on: 'takeover-failed', to: 'not-protected', reason: 'failover-failed' },
  { from: ['failing-over'], on: 'backup-died', to: 'not-protected', reason: 'failover-failed' },
  { from: ['protected', 'not-protected'], on: 'backup-died', to: 'not-protected', reason: 'secondary-lost' },
  {
    from: ['protected'],
    on: 'primary-unresponsive',
    to: 'not-protected',
    reason: 'primary-unresponsive',
  },
  {
    from: ['protected'],
    on: 'backup-unresponsive',
    to: 'not-protected',
    reason: 'secondary-unresponsive',
  },
  { from: ['not-protected'], on: 'responsive', to: 'protected' },
  {
    from: ['protected', 'not-protected', 'failed-over'],
    on: 'block-server-died',
    to: 'not-protected',
    reason: 'block-server-lost',
  },
  {
    from: ['disabled', 'failed-over', 'not-protected'],
    on: 'last-vm-died',
    to: 'stopped',
    reason: 'vm-exited',
  },
  // attach(record).
  { from: ['idle'], on: 'attached-protected', to: 'protected' },
  { from: ['idle'], on: 'attached-disabled', to: 'disabled' },
  { from: ['idle'], on: 'attached-failed-over', to: 'failed-over' },
  { from: ['idle'], on: 'attached-not-protected', to: 'not-protected' },
  { from: ['idle'], on: 'attached-stopped', to: 'stopped' },
];

/** Where `event` leads from `state`, by the table; undefined when it means nothing there. */
export function transitionOf(state: FtPairState, event: FtPairEvent): FtPairTransition | undefined {
  return FT_PAIR_TRANSITIONS.find((row) => row.on === event && row.from.includes(state));
}

/** Every (from, event) pair of the table, one per row and source state: what the transition tests cover. */
export function transitionKeys(): string[] {
  return FT_PAIR_TRANSITIONS.flatMap((row) => row.from.map((from) => transitionKey(from, row.on)));
}

/** `from --event--> to`, the name of one transition in tests and messages. */
export function transitionKey(from: FtPairState, event: FtPairEvent): string {
  const row = transitionOf(from, event);
  return `${from} --${event}--> ${row?.to ?? '(no change)'}`;
}

/** One change of state, as the `state` event delivers it. */
export interface FtPairStateChange {
  state: FtPairState;
  previous: FtPairState;
  /** The event that caused it. */
  event: FtPairEvent;
  at: Date;
  /** Why the pair is not protected (or stopped), when that is the news. */
  reason?: FtPairReason;
  /** More about what happened, for people. */
  detail?: string;
}
