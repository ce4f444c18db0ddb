/**
 * The store's tables, as kysely sees them. Column types are the common subset of SQLite
 * and PostgreSQL: text, integer (booleans are 0/1), double precision (lease times in ms),
 * JSON kept as text. Times are ISO-8601 text, except the lease's, which are the database's
 * own clock in ms (so that every instance agrees on when a lease has expired).
 */
import type { Generated } from 'kysely';

export interface LeaseTable {
  id: number;
  holder: string;
  token: number;
  /** ms since the epoch, by the database's clock. */
  expires_at: number;
  /** The holder's advertised URL (followers point writes to it). */
  url: string;
}

export interface HostsTable {
  name: string;
  address: string;
  capacity_vms: number;
  capacity_memory_mib: number;
  enabled: number;
}

export interface VmsTable {
  id: string;
  name: string;
  host: string;
  memory_mib: number;
  desired: string;
  created_at: string;
}

export interface IntentsTable {
  vm_id: string;
  enabled: number;
  engine: string;
  build: string;
  placement: string;
  epoch_us: number | null;
  reprotect: string;
  generation: number;
  updated_at: string;
}

export interface StatusesTable {
  vm_id: string;
  state: string;
  reason: string | null;
  detail: string | null;
  primary_host: string | null;
  secondary_host: string | null;
  epoch_us: number | null;
  figures: string;
  last_change_at: string;
  observed_generation: number;
  /** The pair record (driver.ts PairRecord) as JSON; null before anything was launched. */
  record: string | null;
}

export interface EventsTable {
  id: Generated<number>;
  vm_id: string;
  at: string;
  kind: string;
  message: string;
  data: string;
}

export interface StepsTable {
  id: Generated<number>;
  vm_id: string;
  kind: string;
  params: string;
  state: string;
  fence: number;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

export interface RequestsTable {
  id: Generated<number>;
  vm_id: string;
  action: string;
  state: string;
  created_at: string;
  step_id: number | null;
  error: string | null;
}

export interface Tables {
  fts_lease: LeaseTable;
  hosts: HostsTable;
  vms: VmsTable;
  intents: IntentsTable;
  statuses: StatusesTable;
  events: EventsTable;
  steps: StepsTable;
  requests: RequestsTable;
}

/** The tables every write is fenced on (all but the lease, which is the arbiter). */
export const FENCED_TABLES = ['hosts', 'vms', 'intents', 'statuses', 'events', 'steps', 'requests'] as const;
