/**
 * The FT service's store: one kysely query layer over SQLite (embedded, the default) or
 * PostgreSQL (HA mode: several instances share it). Reads are plain; every write goes
 * through `write(fence, ...)`, one transaction whose every statement the database checks
 * against the lease token (see migrations.ts), so a stale leader is refused by the
 * database itself.
 */
import BetterSqlite3 from 'better-sqlite3';
import {
  type Kysely,
  Kysely as KyselyDb,
  PostgresDialect,
  type Selectable,
  SqliteDialect,
  sql,
  type Transaction,
} from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { PairRecord } from '../driver.js';
import { FencedError, FtServiceError } from '../errors.js';
import {
  type ActionRequest,
  type FtEvent,
  type FtIntent,
  type FtStatus,
  type Host,
  nowIso,
  type PlannedStep,
  type Step,
  type StepState,
  type Vm,
} from '../model.js';
import { type Dialect, migrations } from './migrations.js';
import type { Tables } from './schema.js';

export type StoreConfig =
  | { kind: 'sqlite'; path: string }
  | {
      kind: 'postgres';
      connectionString: string;
      poolSize?: number;
      /**
       * How long a transaction of this instance may sit idle, or a statement wait for a
       * lock, before PostgreSQL gives up on it (default 6000 ms; the service passes its
       * lease period). A fenced write holds the lease row FOR SHARE until it commits: an
       * instance that is paused inside one (SIGSTOP, a VM freeze) would otherwise block
       * every takeover for as long as it stays paused.
       */
      stallTimeoutMs?: number;
    };

export interface Lease {
  holder: string;
  token: number;
  expiresAt: number;
  url: string;
  /** The database's clock when this was read (ms). */
  now: number;
}

/** A VM's status row: the status and the pair record it was derived from. */
export interface StoredStatus {
  status: FtStatus;
  record: PairRecord | undefined;
}

/** Everything the reconciler plans from, read at once. */
export interface World {
  hosts: Host[];
  vms: Vm[];
  intents: Map<string, FtIntent>;
  statuses: Map<string, StoredStatus>;
  openSteps: Step[];
  pendingRequests: ActionRequest[];
}

/** What a committed write changed, for live updates. */
export interface Changes {
  events: FtEvent[];
  statuses: FtStatus[];
  steps: Step[];
}

const json = (v: unknown) => JSON.stringify(v);

export class FtStore {
  private fence: number | undefined;
  private readonly listeners = new Set<(c: Changes) => void>();

  private constructor(
    readonly db: Kysely<Tables>,
    readonly dialect: Dialect,
  ) {}

  static async open(config: StoreConfig): Promise<FtStore> {
    let store: FtStore;
    if (config.kind === 'sqlite') {
      const database = new BetterSqlite3(config.path);
      // WAL + NORMAL: a committed transaction survives the process being killed (not a
      // power cut); busy_timeout: a second process on the same file waits, not fails.
      database.pragma('journal_mode = WAL');
      database.pragma('synchronous = NORMAL');
      database.pragma('busy_timeout = 5000');
      const holder: { store?: FtStore } = {};
      database.function('fts_fence', { deterministic: false }, () => holder.store?.fence ?? null);
      store = new FtStore(new KyselyDb<Tables>({ dialect: new SqliteDialect({ database }) }), 'sqlite');
      holder.store = store;
    } else {
      const stallMs = config.stallTimeoutMs ?? 6000;
      const pool = new pg.Pool({
        connectionString: config.connectionString,
        max: config.poolSize ?? 4,
        // A checkout (or a connect) waits at most this long: a pool whose clients all hang
        // on a stalled server fails the caller instead of queueing it for ever.
        connectionTimeoutMillis: stallMs,
        idle_in_transaction_session_timeout: stallMs,
        lock_timeout: stallMs,
      });
      // An idle client's error (the server went away) must not crash the process: the next
      // query reports it.
      pool.on('error', () => {});
      // The same for a client checked out by a transaction: the server may end its session
      // between two statements (idle_in_transaction_session_timeout after a pause, a
      // restart); the transaction's next statement then fails, and the process lives on.
      pool.on('connect', (client) => client.on('error', () => {}));
      store = new FtStore(new KyselyDb<Tables>({ dialect: new PostgresDialect({ pool }) }), 'postgres');
    }
    try {
      const { error } = await new Migrator({
        db: store.db,
        provider: migrations(store.dialect),
      }).migrateToLatest();
      if (error) throw error;
    } catch (err) {
      await store.close();
      throw new FtServiceError('FTS_STORE', `cannot migrate the store: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return store;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** Called after every committed write with what it changed. */
  onChange(listener: (c: Changes) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- lease (unfenced: the lease row is the arbiter) -------------------------------

  private get now() {
    return this.dialect === 'postgres'
      ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::double precision`
      : sql<number>`((julianday('now') - 2440587.5) * 86400000.0)`;
  }

  async readLease(): Promise<Lease> {
    const row = await this.db
      .selectFrom('fts_lease')
      .select(['holder', 'token', 'expires_at', 'url', this.now.as('now')])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return {
      holder: row.holder,
      token: row.token,
      expiresAt: row.expires_at,
      url: row.url,
      now: Number(row.now),
    };
  }

  /** Takes the lease if it has expired (or is already ours): a new, higher token. */
  async tryAcquire(holder: string, url: string, ttlMs: number): Promise<number | undefined> {
    const row = await this.db
      .updateTable('fts_lease')
      .set({ holder, url, token: sql`token + 1`, expires_at: sql`${this.now} + ${ttlMs}` })
      .where('id', '=', 1)
      .where((eb) => eb.or([eb('expires_at', '<=', this.now), eb('holder', '=', holder)]))
      .returning('token')
      .executeTakeFirst();
    return row?.token;
  }

  /** Extends our lease; false when it is no longer ours (another instance took it). */
  async renew(holder: string, token: number, ttlMs: number): Promise<boolean> {
    const row = await this.db
      .updateTable('fts_lease')
      .set({ expires_at: sql`${this.now} + ${ttlMs}` })
      .where('id', '=', 1)
      .where('holder', '=', holder)
      .where('token', '=', token)
      .returning('token')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Gives the lease up at once (graceful shutdown), so a follower need not wait for it to expire. */
  async release(holder: string, token: number): Promise<void> {
    await this.db
      .updateTable('fts_lease')
      .set({ expires_at: 0 })
      .where('id', '=', 1)
      .where('holder', '=', holder)
      .where('token', '=', token)
      .execute();
  }

  // ---- fenced writes ------------------------------------------------------------------

  /**
   * Runs `fn` in one transaction fenced with `token`: the database refuses it (FencedError)
   * unless `token` is the lease's current token. Changes reach `onChange` after the commit.
   */
  async write<T>(token: number, fn: (w: StoreWriter) => Promise<T>): Promise<T> {
    const changes: Changes = { events: [], statuses: [], steps: [] };
    let result: T;
    try {
      result = await this.db.transaction().execute(async (trx) => {
        if (this.dialect === 'postgres') {
          await sql`SELECT set_config('fts.fence', ${String(token)}, true)`.execute(trx);
        }
        this.fence = token;
        try {
          return await fn(new StoreWriter(trx, changes));
        } finally {
          this.fence = undefined;
        }
      });
    } catch (err) {
      if (isFenceRefusal(err)) throw new FencedError(token, err);
      throw err;
    }
    if (changes.events.length + changes.statuses.length + changes.steps.length > 0) {
      for (const l of this.listeners) l(changes);
    }
    return result;
  }

  // ---- reads --------------------------------------------------------------------------

  async listHosts(): Promise<Host[]> {
    const rows = await this.db.selectFrom('hosts').selectAll().orderBy('name').execute();
    return rows.map(hostOf);
  }

  async listVms(): Promise<Vm[]> {
    const rows = await this.db.selectFrom('vms').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(vmOf);
  }

  async getVm(id: string): Promise<Vm | undefined> {
    const row = await this.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirst();
    return row && vmOf(row);
  }

  async getIntent(vmId: string): Promise<FtIntent | undefined> {
    const row = await this.db.selectFrom('intents').selectAll().where('vm_id', '=', vmId).executeTakeFirst();
    return row && intentOf(row);
  }

  async getStatus(vmId: string): Promise<StoredStatus | undefined> {
    const row = await this.db.selectFrom('statuses').selectAll().where('vm_id', '=', vmId).executeTakeFirst();
    return row && statusOf(row);
  }

  async listIntents(): Promise<FtIntent[]> {
    return (await this.db.selectFrom('intents').selectAll().execute()).map(intentOf);
  }

  async listStatuses(): Promise<StoredStatus[]> {
    return (await this.db.selectFrom('statuses').selectAll().execute()).map(statusOf);
  }

  /** A VM's history, oldest first, after event id `after`. */
  async listEvents(vmId: string, options: { after?: number; limit?: number } = {}): Promise<FtEvent[]> {
    const rows = await this.db
      .selectFrom('events')
      .selectAll()
      .where('vm_id', '=', vmId)
      .where('id', '>', options.after ?? 0)
      .orderBy('id')
      .limit(options.limit ?? 500)
      .execute();
    return rows.map(eventOf);
  }

  /** Every VM's events after `after` (live updates on instances that did not write them). */
  async eventsSince(after: number, limit = 500): Promise<FtEvent[]> {
    const rows = await this.db
      .selectFrom('events')
      .selectAll()
      .where('id', '>', after)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(eventOf);
  }

  async lastEventId(): Promise<number> {
    const row = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('max'))
      .executeTakeFirst();
    return Number(row?.max ?? 0);
  }

  async listSteps(options: { vmId?: string; states?: StepState[]; limit?: number } = {}): Promise<Step[]> {
    let q = this.db.selectFrom('steps').selectAll();
    if (options.vmId) q = q.where('vm_id', '=', options.vmId);
    if (options.states) q = q.where('state', 'in', options.states);
    const rows = await q
      .orderBy('id')
      .limit(options.limit ?? 1000)
      .execute();
    return rows.map(stepOf);
  }

  async listRequests(options: { vmId?: string; pending?: boolean } = {}): Promise<ActionRequest[]> {
    let q = this.db.selectFrom('requests').selectAll();
    if (options.vmId) q = q.where('vm_id', '=', options.vmId);
    if (options.pending) q = q.where('state', '=', 'pending');
    return (await q.orderBy('id').execute()).map(requestOf);
  }

  /** One consistent read of all the reconciler plans from. */
  async loadWorld(): Promise<World> {
    // One snapshot for all six reads (PostgreSQL's default gives each statement its own).
    const tx = this.db.transaction();
    return (this.dialect === 'postgres' ? tx.setIsolationLevel('repeatable read') : tx).execute(
      async (trx) => {
        const [hosts, vms, intents, statuses, steps, requests] = await Promise.all([
          trx.selectFrom('hosts').selectAll().orderBy('name').execute(),
          trx.selectFrom('vms').selectAll().orderBy('created_at').orderBy('id').execute(),
          trx.selectFrom('intents').selectAll().execute(),
          trx.selectFrom('statuses').selectAll().execute(),
          trx.selectFrom('steps').selectAll().where('state', '=', 'started').orderBy('id').execute(),
          trx.selectFrom('requests').selectAll().where('state', '=', 'pending').orderBy('id').execute(),
        ]);
        return {
          hosts: hosts.map(hostOf),
          vms: vms.map(vmOf),
          intents: new Map(intents.map((r) => [r.vm_id, intentOf(r)])),
          statuses: new Map(statuses.map((r) => [r.vm_id, statusOf(r)])),
          openSteps: steps.map(stepOf),
          pendingRequests: requests.map(requestOf),
        };
      },
    );
  }
}

/** The writes of one fenced transaction. */
export class StoreWriter {
  constructor(
    private readonly trx: Transaction<Tables>,
    private readonly changes: Changes,
  ) {}

  /** The VM's status as committed, read inside this transaction. */
  async readStatus(vmId: string): Promise<StoredStatus | undefined> {
    const row = await this.trx
      .selectFrom('statuses')
      .selectAll()
      .where('vm_id', '=', vmId)
      .executeTakeFirst();
    return row && statusOf(row);
  }

  async upsertHost(h: Host): Promise<void> {
    const row = {
      name: h.name,
      address: h.address,
      capacity_vms: h.capacity.vms,
      capacity_memory_mib: h.capacity.memoryMiB,
      enabled: h.enabled ? 1 : 0,
    };
    await this.trx
      .insertInto('hosts')
      .values(row)
      .onConflict((oc) => oc.column('name').doUpdateSet(row))
      .execute();
  }

  async insertVm(vm: Vm): Promise<void> {
    await this.trx
      .insertInto('vms')
      .values({
        id: vm.id,
        name: vm.name,
        host: vm.host,
        memory_mib: vm.memoryMiB,
        desired: vm.desired,
        created_at: vm.createdAt,
      })
      .execute();
  }

  async setVmDesired(id: string, desired: Vm['desired']): Promise<void> {
    await this.trx.updateTable('vms').set({ desired }).where('id', '=', id).execute();
  }

  /** Forgets a VM entirely (after it was stopped): its history goes too. */
  async deleteVm(id: string): Promise<void> {
    for (const t of ['intents', 'statuses', 'requests'] as const) {
      await this.trx.deleteFrom(t).where('vm_id', '=', id).execute();
    }
    await this.trx.deleteFrom('vms').where('id', '=', id).execute();
  }

  async putIntent(i: FtIntent): Promise<void> {
    const row = {
      vm_id: i.vmId,
      enabled: i.enabled ? 1 : 0,
      engine: i.engine,
      build: i.build,
      placement: json(i.placement),
      epoch_us: i.epochUs ?? null,
      reprotect: i.reprotect,
      generation: i.generation,
      updated_at: i.updatedAt,
    };
    await this.trx
      .insertInto('intents')
      .values(row)
      .onConflict((oc) => oc.column('vm_id').doUpdateSet(row))
      .execute();
  }

  async putStatus(s: FtStatus, record: PairRecord | undefined): Promise<void> {
    const row = {
      vm_id: s.vmId,
      state: s.state,
      reason: s.reason ?? null,
      detail: s.detail ?? null,
      primary_host: s.primaryHost ?? null,
      secondary_host: s.secondaryHost ?? null,
      epoch_us: s.epochUs ?? null,
      figures: json(s.figures),
      last_change_at: s.lastChangeAt,
      observed_generation: s.observedGeneration,
      record: record ? json(record) : null,
    };
    await this.trx
      .insertInto('statuses')
      .values(row)
      .onConflict((oc) => oc.column('vm_id').doUpdateSet(row))
      .execute();
    this.changes.statuses.push(s);
  }

  async addEvent(
    e: Omit<FtEvent, 'id' | 'at' | 'data'> & { data?: Record<string, unknown> },
  ): Promise<FtEvent> {
    const at = nowIso();
    const data = e.data ?? {};
    const row = await this.trx
      .insertInto('events')
      .values({ vm_id: e.vmId, at, kind: e.kind, message: e.message, data: json(data) })
      .returning('id')
      .executeTakeFirstOrThrow();
    const event: FtEvent = { id: Number(row.id), vmId: e.vmId, at, kind: e.kind, message: e.message, data };
    this.changes.events.push(event);
    return event;
  }

  /** Journals a step as `started`, before it acts. */
  async startStep(p: PlannedStep, fence: number): Promise<Step> {
    const startedAt = nowIso();
    const row = await this.trx
      .insertInto('steps')
      .values({
        vm_id: p.vmId,
        kind: p.kind,
        params: json(p.params),
        state: 'started',
        fence,
        started_at: startedAt,
        finished_at: null,
        error: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const step: Step = { id: Number(row.id), ...p, state: 'started', fence, startedAt };
    this.changes.steps.push(step);
    return step;
  }

  async finishStep(step: Step, state: Exclude<StepState, 'started'>, error?: string): Promise<Step> {
    const finishedAt = nowIso();
    await this.trx
      .updateTable('steps')
      .set({ state, finished_at: finishedAt, error: error ?? null })
      .where('id', '=', step.id)
      .execute();
    const done: Step = { ...step, state, finishedAt, ...(error ? { error } : {}) };
    this.changes.steps.push(done);
    return done;
  }

  async addRequest(vmId: string, action: ActionRequest['action']): Promise<ActionRequest> {
    const createdAt = nowIso();
    const row = await this.trx
      .insertInto('requests')
      .values({ vm_id: vmId, action, state: 'pending', created_at: createdAt, step_id: null, error: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: Number(row.id), vmId, action, state: 'pending', createdAt };
  }

  async finishRequest(id: number, state: 'done' | 'failed', stepId: number | undefined, error?: string) {
    await this.trx
      .updateTable('requests')
      .set({ state, step_id: stepId ?? null, error: error ?? null })
      .where('id', '=', id)
      .execute();
  }
}

function isFenceRefusal(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.code === 'FTS01') return true;
  return typeof e.message === 'string' && e.message.includes('FTS_FENCED');
}

// ---- rows to model ----------------------------------------------------------------------

type Row<T extends keyof Tables> = Selectable<Tables[T]>;

const hostOf = (r: Row<'hosts'>): Host => ({
  name: r.name,
  address: r.address,
  capacity: { vms: r.capacity_vms, memoryMiB: r.capacity_memory_mib },
  enabled: r.enabled === 1,
});

const vmOf = (r: Row<'vms'>): Vm => ({
  id: r.id,
  name: r.name,
  host: r.host,
  memoryMiB: r.memory_mib,
  desired: r.desired as Vm['desired'],
  createdAt: r.created_at,
});

const intentOf = (r: Row<'intents'>): FtIntent => ({
  vmId: r.vm_id,
  enabled: r.enabled === 1,
  engine: r.engine as FtIntent['engine'],
  build: r.build,
  placement: JSON.parse(r.placement),
  ...(r.epoch_us === null ? {} : { epochUs: r.epoch_us }),
  reprotect: r.reprotect as FtIntent['reprotect'],
  generation: r.generation,
  updatedAt: r.updated_at,
});

const statusOf = (r: Row<'statuses'>): StoredStatus => ({
  status: {
    vmId: r.vm_id,
    state: r.state as FtStatus['state'],
    ...(r.reason === null ? {} : { reason: r.reason as FtStatus['reason'] }),
    ...(r.detail === null ? {} : { detail: r.detail }),
    ...(r.primary_host === null ? {} : { primaryHost: r.primary_host }),
    ...(r.secondary_host === null ? {} : { secondaryHost: r.secondary_host }),
    ...(r.epoch_us === null ? {} : { epochUs: r.epoch_us }),
    figures: JSON.parse(r.figures),
    lastChangeAt: r.last_change_at,
    observedGeneration: r.observed_generation,
  },
  record: r.record === null ? undefined : PairRecord.parse(JSON.parse(r.record)),
});

const eventOf = (r: Row<'events'>): FtEvent => ({
  id: Number(r.id),
  vmId: r.vm_id,
  at: r.at,
  kind: r.kind as FtEvent['kind'],
  message: r.message,
  data: JSON.parse(r.data),
});

const stepOf = (r: Row<'steps'>): Step => ({
  id: Number(r.id),
  vmId: r.vm_id,
  kind: r.kind as Step['kind'],
  params: JSON.parse(r.params),
  state: r.state as StepState,
  fence: r.fence,
  startedAt: r.started_at,
  ...(r.finished_at === null ? {} : { finishedAt: r.finished_at }),
  ...(r.error === null ? {} : { error: r.error }),
});

const requestOf = (r: Row<'requests'>): ActionRequest => ({
  id: Number(r.id),
  vmId: r.vm_id,
  action: r.action as ActionRequest['action'],
  state: r.state as ActionRequest['state'],
  createdAt: r.created_at,
  ...(r.step_id === null ? {} : { stepId: r.step_id }),
  ...(r.error === null ? {} : { error: r.error }),
});
