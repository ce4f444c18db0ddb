/**
 * IaasSync: the FT service's side of the IaaS adapters. While this instance leads, each
 * adapter is synced level-triggered: every `pollMs`, and at once on one of its hints,
 * `listVms()` is the truth and the store is brought to it (a ticked VM imported with the
 * adapter's id, its intent kept equal to the checkbox with the adapter's backup
 * candidates as `placement.allowedHosts`; an unticked one turned off; one the adapter no
 * longer lists deleted). Every FT status change of a VM an adapter owns is handed to its
 * `publishStatus`, coalesced per VM and retried with backoff in the background, so a slow
 * or broken IaaS API never holds the reconciler up.
 */
import type { Logger } from 'pino';
import type { FtApi } from '../api.js';
import { FtServiceError, isFtServiceError, messageOf } from '../errors.js';
import type { FtIntentInput, FtStatus, VmView } from '../model.js';
import { canonical } from '../status.js';
import type { FtStore } from '../store/store.js';
import type { IaasAdapter, IaasVm } from './adapter.js';

/** IaasSync's timing. */
export interface IaasSyncOptions {
  /** The longest wait between two syncs of an adapter when no hint comes. Default 5000 ms. */
  pollMs?: number;
  /** The deadline of one adapter call (a list, a publish). Default 15,000 ms. */
  callTimeoutMs?: number;
  /** Backoff after a failed publish or a broken hint stream: base * 2^(n-1), at most max. */
  backoff?: { baseMs: number; maxMs: number };
}

/** What one sync pass of an adapter did (for logs and tests). */
export interface IaasSyncPass {
  adapter: string;
  listed: number;
  imported: string[];
  changed: string[];
  deleted: string[];
  /** Listed VMs the service cannot take (an unknown host), with why. */
  skipped: { iaasId: string; why: string }[];
}

/** The service-side VM id prefix of an adapter. */
export const iaasPrefix = (adapter: Pick<IaasAdapter, 'name'>): string => `${adapter.name}-`;

/**
 * The service's VM id for an IaaS id (`<adapter>-<iaasId lowercased>`, characters outside
 * `[a-z0-9-]` turned into dashes, cut to the model's 63 characters).
 */
export function iaasVmId(adapter: string, iaasId: string): string {
  const tail = iaasId.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return `${adapter}-${tail}`.slice(0, 63).replace(/-+$/, '');
}

/** Runs the adapters for a service; start()ed on lease acquisition, stop()ped on loss. */
export class IaasSync {
  private readonly pollMs: number;
  private readonly callTimeoutMs: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private current:
    | { abort: AbortController; runs: AdapterRun[]; unsubscribe: () => void; done: Promise<void> }
    | undefined;
  private readonly passListeners = new Set<(p: IaasSyncPass) => void>();

  constructor(
    private readonly api: FtApi,
    private readonly store: FtStore,
    readonly adapters: readonly IaasAdapter[],
    private readonly log: Logger,
    options: IaasSyncOptions = {},
  ) {
    IaasSync.check(adapters);
    this.pollMs = options.pollMs ?? 5000;
    this.callTimeoutMs = options.callTimeoutMs ?? 15_000;
    this.backoff = options.backoff ?? { baseMs: 500, maxMs: 30_000 };
  }

  /** Refuses adapters whose names cannot prefix VM ids, or that share a name (FTS_CONFIG). */
  static check(adapters: readonly IaasAdapter[]): void {
    const names = new Set<string>();
    for (const [i, a] of adapters.entries()) {
      if (typeof a.name !== 'string' || !/^[a-z][a-z0-9]{0,15}$/.test(a.name)) {
        throw new FtServiceError(
          'FTS_CONFIG',
          `adapters[${i}].name: ${JSON.stringify(a.name)} is not 1-16 lowercase letters and digits`,
          { field: `adapters[${i}].name` },
        );
      }
      if (names.has(a.name))
        throw new FtServiceError('FTS_CONFIG', `adapters[${i}].name: ${a.name} is given twice`, {
          field: `adapters[${i}].name`,
        });
      names.add(a.name);
    }
  }

  /** Called after each sync pass (also a failed one's: `listed` is then -1). */
  onPass(listener: (p: IaasSyncPass) => void): () => void {
    this.passListeners.add(listener);
    return () => this.passListeners.delete(listener);
  }

  /** Begins syncing (this instance leads and its hosts are written). Idempotent. */
  start(): void {
    if (this.current || this.adapters.length === 0) return;
    const abort = new AbortController();
    const runs = this.adapters.map((a) => new AdapterRun(a, this, abort.signal));
    // Local commits of the leader: every status change reaches the publishers at once.
    const unsubscribe = this.store.onChange((c) => {
      for (const s of c.statuses) runs.find((r) => s.vmId.startsWith(iaasPrefix(r.adapter)))?.queue(s);
    });
    const done = Promise.all(runs.map((r) => r.run())).then(() => {});
    this.current = { abort, runs, unsubscribe, done };
  }

  /** Stops every loop (leadership lost, or the service stops); waits for them. */
  async stop(): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    this.current = undefined;
    cur.unsubscribe();
    cur.abort.abort(new Error('the IaaS sync is stopping'));
    await cur.done;
  }

  /** Stops and closes every adapter. */
  async close(): Promise<void> {
    await this.stop();
    await Promise.allSettled(this.adapters.map((a) => a.close()));
  }

  /** Syncs at once (all adapters, or the named one), without waiting for it. */
  wake(adapter?: string): void {
    for (const r of this.current?.runs ?? [])
      if (adapter === undefined || r.adapter.name === adapter) r.wake();
  }

  /** @internal One pass for one adapter: the list is the truth. */
  async syncOnce(run: AdapterRun, signal: AbortSignal): Promise<IaasSyncPass> {
    const adapter = run.adapter;
    const prefix = iaasPrefix(adapter);
    const listed = await adapter.listVms(this.callSignal(signal));
    const pass: IaasSyncPass = {
      adapter: adapter.name,
      listed: listed.length,
      imported: [],
      changed: [],
      deleted: [],
      skipped: [],
    };
    const hosts = new Set((await this.api.listHosts()).map((h) => h.name));
    const views = new Map(
      (await this.api.listVms()).filter((v) => v.vm.id.startsWith(prefix)).map((v) => [v.vm.id, v]),
    );
    const seen = new Set<string>();
    for (const vm of listed) {
      signal.throwIfAborted();
      if (!vm.id.startsWith(prefix)) {
        pass.skipped.push({ iaasId: vm.iaasId, why: `its id ${vm.id} does not start with ${prefix}` });
        continue;
      }
      seen.add(vm.id);
      run.known.set(vm.id, vm);
      const view = views.get(vm.id);
      if (vm.state === 'deleted') {
        if (view && view.vm.desired !== 'deleting') {
          await this.api.deleteVm(vm.id);
          pass.deleted.push(vm.id);
        }
        continue;
      }
      if (!view) {
        // Only a ticked, running VM is taken in: the service starts what it protects.
        if (vm.ft === undefined || !vm.ft.enabled || vm.state !== 'running') continue;
        if (!hosts.has(vm.host)) {
          pass.skipped.push({
            iaasId: vm.iaasId,
            why: `its host ${vm.host} is not one of the service's hosts`,
          });
          continue;
        }
        const ft = await this.intentFor(adapter, vm, hosts, signal);
        try {
          await this.api.importVm(
            { id: vm.id, name: vm.name.slice(0, 100) || vm.id, host: vm.host, memoryMiB: vm.memoryMiB, ft },
            adapter.name,
          );
          pass.imported.push(vm.id);
        } catch (err) {
          if (!isFtServiceError(err, 'FTS_INVALID_INPUT')) throw err;
          pass.skipped.push({ iaasId: vm.iaasId, why: messageOf(err) });
        }
        continue;
      }
      if (view.vm.desired === 'deleting') continue;
      // A stopped VM keeps its intent: the service does not stop or start VMs for the IaaS.
      if (vm.state === 'stopped') continue;
      const ft =
        vm.ft === undefined
          ? { ...stripIntent(view), enabled: false }
          : await this.intentFor(adapter, vm, hosts, signal);
      const after = await this.api.putIntent(vm.id, ft);
      if (after.intent.generation !== view.intent.generation) pass.changed.push(vm.id);
      run.catchUp(after);
    }
    // Not listed any more: the adapter no longer manages it (deleted, or untagged for good).
    for (const view of views.values()) {
      if (seen.has(view.vm.id)) continue;
      run.known.delete(view.vm.id);
      if (view.vm.desired !== 'deleting') {
        await this.api.deleteVm(view.vm.id);
        pass.deleted.push(view.vm.id);
      }
    }
    for (const p of this.passListeners) p(pass);
    return pass;
  }

  /** The intent of a ticked VM: its options, the backup limited to the adapter's candidates. */
  private async intentFor(
    adapter: IaasAdapter,
    vm: IaasVm,
    hosts: ReadonlySet<string>,
    signal: AbortSignal,
  ): Promise<FtIntentInput> {
    const ft = vm.ft ?? { enabled: false };
    const candidates = (await adapter.candidateBackupHosts(vm, this.callSignal(signal)))
      .filter((h) => hosts.has(h))
      .sort();
    const asked = ft.placement?.allowedHosts ?? [];
    const allowed = asked.length > 0 ? candidates.filter((h) => asked.includes(h)) : candidates;
    const excluded = ft.placement?.excludedHosts ?? [];
    return {
      ...ft,
      placement: {
        ...ft.placement,
        // An empty allow-list means "any host": with no candidate at all, exclude them all
        // instead, so the status says no backup host rather than picking one the IaaS forbids.
        allowedHosts: allowed,
        excludedHosts: allowed.length === 0 ? [...hosts].sort() : excluded,
      },
    };
  }

  /** @internal A deadline for one adapter call, under the loop's signal. */
  callSignal(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.callTimeoutMs)]);
  }

  /** @internal */
  get timing() {
    return { pollMs: this.pollMs, backoff: this.backoff };
  }

  /** @internal */
  get logger(): Logger {
    return this.log;
  }
}

/** The intent input of a view (what putIntent takes). */
function stripIntent(view: VmView): FtIntentInput {
  const { vmId: _v, generation: _g, updatedAt: _u, ...rest } = view.intent;
  return rest;
}

/** What a published status is compared by (figures and timestamps change without news). */
function publishKey(s: FtStatus): string {
  return canonical({
    state: s.state,
    reason: s.reason,
    detail: s.detail,
    primaryHost: s.primaryHost,
    secondaryHost: s.secondaryHost,
    observedGeneration: s.observedGeneration,
  });
}

/** @internal One adapter's loops while this instance leads: the sync, its hints, its publisher. */
export class AdapterRun {
  /** The last listed IaasVm of each service VM id (publishStatus needs it). */
  readonly known = new Map<string, IaasVm>();
  private readonly pending = new Map<string, FtStatus>();
  private readonly published = new Map<string, string>();
  private readonly failures = new Map<string, { n: number; until: number }>();
  private syncWake: (() => void) | undefined;
  private syncWoken = false;
  private pubWake: (() => void) | undefined;
  private pubWoken = false;

  constructor(
    readonly adapter: IaasAdapter,
    private readonly sync: IaasSync,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<void> {
    await Promise.all([this.syncLoop(), this.hintLoop(), this.publishLoop()]);
  }

  wake(): void {
    this.syncWoken = true;
    this.syncWake?.();
  }

  /** A status to publish (the newest per VM wins). */
  queue(s: FtStatus): void {
    if (this.published.get(s.vmId) === publishKey(s)) return;
    this.pending.set(s.vmId, s);
    this.pubWoken = true;
    this.pubWake?.();
  }

  /** A pass saw this VM: publish its status if the IaaS has not got it yet (after a restart, a failed publish). */
  catchUp(view: VmView): void {
    if (!this.pending.has(view.vm.id)) this.queue(view.status);
  }

  private async syncLoop(): Promise<void> {
    const log = this.sync.logger;
    let failures = 0;
    while (!this.signal.aborted) {
      this.syncWoken = false;
      let waitMs = this.sync.timing.pollMs;
      try {
        await this.sync.syncOnce(this, this.signal);
        failures = 0;
      } catch (err) {
        if (this.signal.aborted) break;
        failures++;
        waitMs = Math.min(waitMs, backoffMs(this.sync.timing.backoff, failures));
        if (!isFtServiceError(err, 'FTS_NOT_LEADER') && !isFtServiceError(err, 'FTS_FENCED'))
          log.warn({ adapter: this.adapter.name, err: messageOf(err) }, 'IaaS sync pass failed');
      }
      await sleep(waitMs, this.signal, (wake) => {
        this.syncWake = wake;
        if (this.syncWoken) wake();
      });
      this.syncWake = undefined;
    }
  }

  private async hintLoop(): Promise<void> {
    const log = this.sync.logger;
    let failures = 0;
    while (!this.signal.aborted) {
      try {
        for await (const hint of this.adapter.hints(this.signal)) {
          failures = 0;
          log.debug({ adapter: this.adapter.name, hint }, 'IaaS hint');
          this.wake();
        }
      } catch (err) {
        if (this.signal.aborted) break;
        log.warn(
          { adapter: this.adapter.name, err: messageOf(err) },
          'IaaS hint stream failed: polling goes on',
        );
      }
      if (this.signal.aborted) break;
      // A stream that ended or broke is opened again after a backoff (polling covers the gap).
      failures++;
      await sleep(backoffMs(this.sync.timing.backoff, failures), this.signal, () => {});
    }
  }

  private async publishLoop(): Promise<void> {
    const log = this.sync.logger;
    while (!this.signal.aborted) {
      this.pubWoken = false;
      const now = Date.now();
      let nextDue = Number.POSITIVE_INFINITY;
      for (const [vmId, status] of [...this.pending]) {
        if (this.signal.aborted) break;
        const f = this.failures.get(vmId);
        if (f && f.until > now) {
          nextDue = Math.min(nextDue, f.until);
          continue;
        }
        const vm = this.known.get(vmId);
        // Not listed yet: the next pass lists it and catches its status up.
        if (!vm) {
          this.pending.delete(vmId);
          continue;
        }
        try {
          await this.adapter.publishStatus(vm, status, this.sync.callSignal(this.signal));
          this.published.set(vmId, publishKey(status));
          this.failures.delete(vmId);
          if (this.pending.get(vmId) === status) this.pending.delete(vmId);
        } catch (err) {
          if (this.signal.aborted) break;
          const n = (f?.n ?? 0) + 1;
          const until = Date.now() + backoffMs(this.sync.timing.backoff, n);
          this.failures.set(vmId, { n, until });
          nextDue = Math.min(nextDue, until);
          log.warn(
            { adapter: this.adapter.name, vmId, attempt: n, err: messageOf(err) },
            'publishing the FT status failed: retrying',
          );
        }
      }
      const waitMs = Number.isFinite(nextDue) ? Math.max(0, nextDue - Date.now()) : this.sync.timing.pollMs;
      await sleep(waitMs, this.signal, (wake) => {
        this.pubWake = wake;
        if (this.pubWoken) wake();
      });
      this.pubWake = undefined;
    }
  }
}

function backoffMs(b: { baseMs: number; maxMs: number }, failures: number): number {
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(failures - 1, 20));
}

/** Waits `ms`, or until `arm`'s wake is called, or the signal aborts. */
function sleep(ms: number, signal: AbortSignal, arm: (wake: () => void) => void): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    arm(done);
  });
}
