import { EventEmitter } from 'node:events';
import { MIGRATION_CAPABILITY_VALUES } from './qmp-schema.js';

/** QEMU 2.8's migration capabilities, plus Cuju's `cuju-ft` (one list, shared with the schema). */
export const CAPABILITIES = MIGRATION_CAPABILITY_VALUES;
export type Capability = (typeof CAPABILITIES)[number];

/** The RunState values the simulator moves through (QEMU 2.8 names). */
export type RunState =
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

export type GftStatus = 'PRE' | 'START' | 'WAIT';

export interface QmpEventOut {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** `ft-started`: the primary's first epoch committed (FT is on). */
type VmEvents = { qmp: [QmpEventOut]; 'ft-started': [] };

/** The state one simulated QEMU process shows through its monitors. */
export class Vm extends EventEmitter<VmEvents> {
  runstate: RunState;
  readonly capabilities = new Map<Capability, boolean>(CAPABILITIES.map((c) => [c, false]));
  migration: { status: MigrationStatus; errorDesc?: string; startedAt: number; endedAt?: number } | undefined;
  ftMode: number = FT_MODE.OFF;
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

  get migrationActive(): boolean {
    const s = this.migration?.status;
    return s === 'setup' || s === 'active' || s === 'cancelling' || this.ftStarted;
  }
}
