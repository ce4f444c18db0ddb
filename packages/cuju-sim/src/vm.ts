import { EventEmitter } from 'node:events';
import { MIGRATION_CAPABILITY_VALUES } from './qmp-schema.js';

/** QEMU 2.8's migration capabilities, plus Cuju's `cuju-ft` (one list, shared with the schema). */
export const CAPABILITIES = MIGRATION_CAPABILITY_VALUES;
export type Capability = (typeof CAPABILITIES)[number];

/** The RunState values the simulator moves through (QEMU 2.8 names). */
export type RunState =
  | 'debug'
  | 'prelaunch'
  | 'running'
  | 'paused'
  | 'inmigrate'
  | 'finish-migrate'
  | 'postmigrate'
  | 'shutdown';

export type MigrationStatus = 'setup' | 'active' | 'completed' | 'failed' | 'cancelled' | 'cancelling';

/** Cuju's CUJU_FT_MODE (include/migration/cuju-ft-trans-file.h). */
export const FT_MODE = {
  ERROR: -1,
  OFF: 0,
  INIT: 1,
  PRE_RUN: 2,
  RECV: 5,
  HANDOVER: 6,
  RUN: 11,
} as const;

/** gft_status at the groupft tip: PRE and WAIT (nothing assigns GFT_START, migration.c@d2e55fe). */
export type GftStatus = 'PRE' | 'WAIT';

export interface QmpEventOut {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** `ft-started`: the primary's first epoch committed (FT is on). */
type VmEvents = { qmp: [QmpEventOut]; 'ft-started': [] };

const noCapabilities = () => new Map<Capability, boolean>(CAPABILITIES.map((c) => [c, false]));

/** The state one simulated QEMU process shows through its monitors. */
export class Vm extends EventEmitter<VmEvents> {
  runstate: RunState;
  /**
   * Cuju runs two MigrationStates, and `migrate_get_current()` follows the one whose
   * epoch runs (migrate_schedule, migration.c@21f9f0b). Capabilities live in each
   * MigrationState and are not copied to the second, so while FT runs `cuju-ft` reads
   * `on` and `off` on alternate epochs (inferred from the code: cuju-builds.md §5).
   */
  private readonly capabilitySets = [noCapabilities(), noCapabilities()] as const;
  currentMs: 0 | 1 = 0;
  migration: { status: MigrationStatus; errorDesc?: string; startedAt: number; endedAt?: number } | undefined;
  /**
   * The global cuju_ft_mode: a receiver goes INIT (1), RECV (5), HANDOVER (6); a primary
   * stays OFF (0) while FT runs, only errors set it (ERROR, -1).
   */
  ftMode: number = FT_MODE.OFF;
  /** ft_started (cuju-kvm-share-mem.c@21f9f0b:126): 1 while the primary's epochs run. */
  ftStarted = false;
  gftStatus: GftStatus = 'PRE';
  /** Epoch length in µs (cuju-adjust-epoch; default EPOCH_TIME_IN_MS 5). */
  epochUs = 5000;

  constructor(initial: RunState) {
    super();
    this.runstate = initial;
  }

  get running(): boolean {
    return this.runstate === 'running';
  }

  /** The capabilities of the current MigrationState (what queries and set_capability see). */
  get capabilities(): Map<Capability, boolean> {
    return this.capabilitySets[this.currentMs];
  }

  /** Emits a QMP event to every QMP monitor. */
  event(name: string, data?: Record<string, unknown>): void {
    const now = Date.now();
    const ev: QmpEventOut = {
      event: name,
      ...(data ? { data } : {}),
      timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 },
    };
    this.emit('qmp', ev);
  }

  /** vm_stop(): STOP only when the VM was running. */
  stop(to: RunState = 'paused'): void {
    const wasRunning = this.running;
    this.runstate = to;
    if (wasRunning) this.event('STOP');
  }

  /** vm_start(): RESUME only when it was not running. */
  start(): void {
    if (this.running) return;
    this.runstate = 'running';
    this.event('RESUME');
  }

  /** Sets the migration status and, with the `events` capability on, emits MIGRATION. */
  setMigrationStatus(status: MigrationStatus, errorDesc?: string, silent = false): void {
    const now = Date.now();
    if (!this.migration || status === 'setup') this.migration = { status, startedAt: now };
    this.migration.status = status;
    if (errorDesc !== undefined) this.migration.errorDesc = errorDesc;
    if (status === 'completed' || status === 'failed' || status === 'cancelled') this.migration.endedAt = now;
    if (!silent && this.capabilities.get('events')) this.event('MIGRATION', { status });
  }

  /**
   * migration_is_setup_or_active() or cancelling: what makes `migrate` and
   * `migrate_set_capability` refuse. Not FT: Cuju's FT state reads as `cancelled`, so
   * neither is refused while FT runs (migration.c@21f9f0b:878-890, 1030).
   */
  get migrationActive(): boolean {
    const s = this.migration?.status;
    return s === 'setup' || s === 'active' || s === 'cancelling';
  }
}
