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
import type { FtIntentInput, VmView } from '../model.js';
import type { FtStore } from '../store/store.js';
import type { IaasAdapter, IaasVm } from './adapter.js';
import { AdapterRun, type RunHost } from './adapter-run.js';

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
export class IaasSync implements RunHost {
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

  /** Called after each completed sync pass (a failed one is logged and retried with backoff). */
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
      try {
        await this.syncVm(run, vm, views.get(vm.id), hosts, pass, signal);
      } catch (err) {
        // One VM's trouble (a bad option, its candidates unreadable) must not hold up the
        // others; losing the lease, the store or the signal ends the pass.
        if (signal.aborted || (isFtServiceError(err) && FATAL.has(err.code))) throw err;
        pass.skipped.push({ iaasId: vm.iaasId, why: messageOf(err) });
      }
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

  private async syncVm(
    run: AdapterRun,
    vm: IaasVm,
    view: VmView | undefined,
    hosts: ReadonlySet<string>,
    pass: IaasSyncPass,
    signal: AbortSignal,
  ): Promise<void> {
    const adapter = run.adapter;
    if (vm.state === 'deleted') {
      if (view && view.vm.desired !== 'deleting') {
        await this.api.deleteVm(vm.id);
        pass.deleted.push(vm.id);
      }
      return;
    }
    if (!view) {
      // Only a ticked, running VM is taken in: the service starts what it protects.
      if (vm.ft === undefined || !vm.ft.enabled || vm.state !== 'running') return;
      if (!hosts.has(vm.host)) {
        pass.skipped.push({
          iaasId: vm.iaasId,
          why: `its host ${vm.host} is not one of the service's hosts`,
        });
        return;
      }
      const ft = await this.intentFor(adapter, vm, hosts, signal);
      await this.api.importVm(
        { id: vm.id, name: vm.name.slice(0, 100) || vm.id, host: vm.host, memoryMiB: vm.memoryMiB, ft },
        adapter.name,
      );
      pass.imported.push(vm.id);
      return;
    }
    if (view.vm.desired === 'deleting') return;
    // A stopped VM keeps its intent: the service does not stop or start VMs for the IaaS.
    if (vm.state === 'stopped') return;
    const ft =
      vm.ft === undefined
        ? { ...stripIntent(view), enabled: false }
        : await this.intentFor(adapter, vm, hosts, signal);
    const after = await this.api.putIntent(vm.id, ft);
    if (after.intent.generation !== view.intent.generation) pass.changed.push(vm.id);
    run.catchUp(after);
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

/** Errors that end a pass: the service, not the VM, is in trouble. */
const FATAL = new Set(['FTS_NOT_LEADER', 'FTS_FENCED', 'FTS_STORE', 'FTS_SHUTTING_DOWN', 'FTS_ABORTED']);

/** The intent input of a view (what putIntent takes). */
function stripIntent(view: VmView): FtIntentInput {
  const { vmId: _v, generation: _g, updatedAt: _u, ...rest } = view.intent;
  return rest;
}
