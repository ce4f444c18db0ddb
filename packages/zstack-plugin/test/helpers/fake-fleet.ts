/**
 * A DETERMINISTIC FAKE FtDriver for the reconciler's unit tests, the crash loop and the
 * HA tests (not for the end-to-end tests, which drive the real FtPair on cuju-sim). Its
 * "world" (which VMs run where, in which FT state) lives in a SQLite file, so that several
 * service processes see one fleet and a killed process's effects survive it, like VMs on
 * real hosts would. Every operation is appended to an `ops` table: the tests read it to
 * prove that no step was done twice. Operations carry the leader's fencing token; the
 * fleet refuses one lower than the highest it has seen (as a fenced resource would).
 *
 * Fault injection: `delayMs` (every operation takes that long: a kill can land inside
 * it), `failNext(vmId, op, times)`, `unsupported` (operations it refuses as a driver of
 * today would), `killPrimary` and `loseSecondary` (a failure seen by the driver).
 */
import BetterSqlite3 from 'better-sqlite3';
import {
  type DriverCallOptions,
  DriverFailedError,
  type DriverOperationName,
  DriverUnsupportedError,
  type FailoverResult,
  type FtDriver,
  type LaunchRequest,
  type PairObservation,
  type PairRecord,
  type PairState,
  type SecondaryTarget,
} from '../../src/index.js';

export interface FakeFleetOptions {
  path: string;
  delayMs?: number;
  unsupported?: readonly DriverOperationName[];
}

interface WorldRow {
  vm_id: string;
  state: PairState;
  primary_host: string;
  secondary_host: string | null;
  engine: string;
  build: string;
}

export interface OpRow {
  seq: number;
  vm_id: string;
  op: string;
  step: number | null;
  fence: number;
  pid: number;
}

export class FakeFleet implements FtDriver {
  readonly name = 'fake-fleet';
  private readonly db: BetterSqlite3.Database;
  private readonly held = new Set<string>();
  private readonly listeners = new Set<(o: PairObservation) => void>();
  /** Operations under way right now (the concurrency tests read the peak). */
  active = 0;
  peakActive = 0;

  constructor(private readonly options: FakeFleetOptions) {
    this.db = new BetterSqlite3(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS world (vm_id TEXT PRIMARY KEY, state TEXT NOT NULL, primary_host TEXT NOT NULL,
        secondary_host TEXT, engine TEXT NOT NULL, build TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS ops (seq INTEGER PRIMARY KEY AUTOINCREMENT, vm_id TEXT NOT NULL, op TEXT NOT NULL,
        step INTEGER, fence INTEGER NOT NULL, pid INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS faults (vm_id TEXT NOT NULL, op TEXT NOT NULL, remaining INTEGER NOT NULL,
        PRIMARY KEY (vm_id, op));
      CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), max_fence INTEGER NOT NULL);
      INSERT OR IGNORE INTO meta VALUES (1, 0);
    `);
  }

  supports(op: DriverOperationName): boolean {
    return !this.options.unsupported?.includes(op);
  }

  launch(req: LaunchRequest, o: DriverCallOptions): Promise<PairRecord> {
    return this.op(req.vmId, 'launch', o, () => this.put(req, 'running', req.primary.name, null));
  }

  protect(req: LaunchRequest, s: SecondaryTarget, o: DriverCallOptions): Promise<PairRecord> {
    return this.op(req.vmId, 'protect', o, () => this.put(req, 'protected', req.primary.name, s.host.name));
  }

  turnOn(r: PairRecord, s: SecondaryTarget, o: DriverCallOptions): Promise<PairRecord> {
    return this.op(r.vmId, 'turnOn', o, () => this.update(r.vmId, 'protected', undefined, s.host.name), [
      'running',
    ]);
  }

  turnOff(r: PairRecord, o: DriverCallOptions): Promise<PairRecord> {
    return this.op(r.vmId, 'turnOff', o, () => this.update(r.vmId, 'running', undefined, null), [
      'protected',
    ]);
  }

  restartSecondary(r: PairRecord, s: SecondaryTarget, o: DriverCallOptions): Promise<PairRecord> {
    return this.op(
      r.vmId,
      'restartSecondary',
      o,
      () => this.update(r.vmId, 'protected', undefined, s.host.name),
      ['failed-over', 'secondary-lost'],
    );
  }

  async testFailover(r: PairRecord, o: DriverCallOptions): Promise<FailoverResult> {
    const record = await this.op(
      r.vmId,
      'testFailover',
      o,
      () => {
        const w = this.row(r.vmId)!;
        return this.update(r.vmId, 'failed-over', w.secondary_host ?? w.primary_host, null);
      },
      ['protected'],
    );
    this.publish({ record, failover: { at: new Date().toISOString(), detectionMs: 3 } });
    return { record, detectionMs: 3 };
  }

  down(r: PairRecord, o: DriverCallOptions): Promise<PairRecord> {
    return this.op(r.vmId, 'down', o, () => {
      this.db.prepare('DELETE FROM world WHERE vm_id = ?').run(r.vmId);
      this.held.delete(r.vmId);
      return { ...r, state: 'stopped' as const };
    });
  }

  async attach(r: PairRecord, o: DriverCallOptions): Promise<PairRecord> {
    if (!this.supports('attach'))
      throw new DriverUnsupportedError(this.name, 'attach', 'configured unsupported');
    this.checkFence(o.fence);
    const w = this.row(r.vmId);
    if (!w) return { ...r, state: 'stopped', detail: 'nothing runs' };
    this.held.add(r.vmId);
    return this.recordOf(w);
  }

  observe(vmId: string): PairObservation | undefined {
    if (!this.held.has(vmId)) return undefined;
    const w = this.row(vmId);
    return w ? { record: this.recordOf(w) } : undefined;
  }

  subscribe(listener: (o: PairObservation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.held.clear();
    this.db.close();
  }

  // ---- test controls ----------------------------------------------------------------------

  failNext(vmId: string, op: DriverOperationName, times = 1): void {
    this.db.prepare('INSERT OR REPLACE INTO faults VALUES (?, ?, ?)').run(vmId, op, times);
  }

  /** The primary dies: the secondary takes over (as the driver would see and report it). */
  killPrimary(vmId: string): void {
    const w = this.row(vmId)!;
    const record = this.update(vmId, 'failed-over', w.secondary_host ?? w.primary_host, null);
    this.publish({ record, failover: { at: new Date().toISOString(), detectionMs: 7 } });
  }

  loseSecondary(vmId: string): void {
    const record = this.update(vmId, 'secondary-lost', undefined, null);
    this.publish({ record });
  }

  ops(): OpRow[] {
    return this.db.prepare('SELECT * FROM ops ORDER BY seq').all() as OpRow[];
  }

  world(): WorldRow[] {
    return this.db.prepare('SELECT * FROM world ORDER BY vm_id').all() as WorldRow[];
  }

  // ---- internals --------------------------------------------------------------------------

  private async op(
    vmId: string,
    op: DriverOperationName,
    o: DriverCallOptions,
    apply: () => PairRecord,
    from?: readonly PairState[],
  ): Promise<PairRecord> {
    if (!this.supports(op)) throw new DriverUnsupportedError(this.name, op, 'configured unsupported');
    this.active++;
    this.peakActive = Math.max(this.peakActive, this.active);
    try {
      this.checkFence(o.fence);
      if (this.options.delayMs) await sleep(this.options.delayMs, o.signal);
      o.signal.throwIfAborted();
      // (Outside the transaction below, whose rollback would undo the count.)
      const fault = this.db
        .prepare('SELECT remaining FROM faults WHERE vm_id = ? AND op = ?')
        .get(vmId, op) as { remaining: number } | undefined;
      if (fault && fault.remaining > 0) {
        this.db
          .prepare('UPDATE faults SET remaining = remaining - 1 WHERE vm_id = ? AND op = ?')
          .run(vmId, op);
        const w = this.row(vmId);
        throw new DriverFailedError(`injected ${op} failure`, w ? this.recordOf(w) : undefined);
      }
      return this.db.transaction(() => {
        this.checkFence(o.fence);
        if (from) {
          const w = this.row(vmId);
          if (!w || !from.includes(w.state))
            throw new DriverFailedError(`${op} from ${w?.state ?? 'nothing'}`);
        }
        const record = apply();
        this.db
          .prepare('INSERT INTO ops (vm_id, op, step, fence, pid) VALUES (?, ?, ?, ?, ?)')
          .run(vmId, op, o.stepId, o.fence, process.pid);
        this.held.add(vmId);
        return record;
      })();
    } finally {
      this.active--;
    }
  }

  private checkFence(fence: number): void {
    const { max_fence } = this.db.prepare('SELECT max_fence FROM meta').get() as { max_fence: number };
    if (fence < max_fence)
      throw new DriverFailedError(`stale fencing token ${fence} (the fleet has seen ${max_fence})`);
    if (fence > max_fence) this.db.prepare('UPDATE meta SET max_fence = ?').run(fence);
  }

  private put(req: LaunchRequest, state: PairState, primary: string, secondary: string | null): PairRecord {
    this.db
      .prepare('INSERT OR REPLACE INTO world VALUES (?, ?, ?, ?, ?, ?)')
      .run(req.vmId, state, primary, secondary, req.engine, req.build);
    return this.recordOf(this.row(req.vmId)!);
  }

  private update(
    vmId: string,
    state: PairState,
    primary: string | undefined,
    secondary: string | null,
  ): PairRecord {
    const w = this.row(vmId);
    if (!w) throw new DriverFailedError(`${vmId} does not run`);
    this.db
      .prepare('UPDATE world SET state = ?, primary_host = ?, secondary_host = ? WHERE vm_id = ?')
      .run(state, primary ?? w.primary_host, secondary, vmId);
    return this.recordOf(this.row(vmId)!);
  }

  private row(vmId: string): WorldRow | undefined {
    return this.db.prepare('SELECT * FROM world WHERE vm_id = ?').get(vmId) as WorldRow | undefined;
  }

  private recordOf(w: WorldRow): PairRecord {
    return {
      version: 1,
      driver: this.name,
      vmId: w.vm_id,
      engine: w.engine as PairRecord['engine'],
      build: w.build,
      state: w.state,
      primary: { host: w.primary_host },
      ...(w.secondary_host ? { secondary: { host: w.secondary_host } } : {}),
      extra: {},
    };
  }

  private publish(o: PairObservation): void {
    for (const l of this.listeners) l(o);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
