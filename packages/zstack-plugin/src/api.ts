/**
 * What the REST API (and any other front end: the console, an IaaS adapter) can ask of
 * the service, independent of HTTP: read VMs and their FT status, create and delete VMs,
 * change FT intents, ask for Test Failover and Restart Secondary. Every input is parsed
 * with the model's schemas (FTS_INVALID_INPUT names the field); every write is fenced
 * with the leader's token (FTS_NOT_LEADER on a follower) and wakes the reconciler.
 */

import { z } from 'zod';
import { FtServiceError } from './errors.js';
import {
  ActionName,
  type ActionRequest,
  CreateVm,
  type FtEvent,
  type FtIntent,
  FtIntentInput,
  Host as HostSchema,
  Id,
  nowIso,
  type PlacementCheck,
  parseAt,
  type Step,
  type Vm,
  type VmView,
} from './model.js';
import { primaryCandidate, secondaryCandidates } from './placement.js';
import { usageOf } from './planner.js';
import { canonical, deriveStatus, describeStatus } from './status.js';
import type { FtStore, StoreWriter } from './store/store.js';

export interface WriteGate {
  /** The fencing token while this instance leads. */
  readonly current: number | undefined;
  /** The leader's URL, for FTS_NOT_LEADER. */
  leaderUrl(): Promise<string | undefined>;
}

export class FtApi {
  constructor(
    private readonly store: FtStore,
    private readonly gate: WriteGate,
    private readonly changed: () => void,
    /**
     * Id prefixes the IaaS adapters own (`zstack-`, ...): a VM created here never gets
     * one, so a console VM is never mistaken for an adapter's.
     */
    private readonly reservedPrefixes: readonly string[] = [],
  ) {}

  /** Throws FTS_NOT_LEADER (with the leader's URL) unless this instance leads. */
  async assertLeader(): Promise<void> {
    await this.leaderToken();
  }

  /** The fencing token while this instance leads; FTS_NOT_LEADER otherwise. */
  private async leaderToken(): Promise<number> {
    const token = this.gate.current;
    if (token !== undefined) return token;
    const leader = await this.gate.leaderUrl();
    throw new FtServiceError(
      'FTS_NOT_LEADER',
      leader
        ? `this instance is a follower: send writes to the leader at ${leader}`
        : 'no instance leads yet: retry shortly',
    );
  }

  private async write<T>(fn: (w: StoreWriter) => Promise<T>): Promise<T> {
    const token = await this.leaderToken();
    const result = await this.store.write(token, fn);
    this.changed();
    return result;
  }

  async listHosts() {
    return this.store.listHosts();
  }

  async listVms(): Promise<VmView[]> {
    const [vms, intents, statuses] = await Promise.all([
      this.store.listVms(),
      this.store.listIntents(),
      this.store.listStatuses(),
    ]);
    const intentOf = new Map(intents.map((i) => [i.vmId, i]));
    const statusOf = new Map(statuses.map((s) => [s.status.vmId, s.status]));
    return vms.flatMap((vm) => {
      const intent = intentOf.get(vm.id);
      const status = statusOf.get(vm.id);
      return intent && status ? [{ vm, intent, status }] : [];
    });
  }

  async getVm(id: string): Promise<VmView> {
    const vmId = parseAt(Id, id, 'path.id');
    const [vm, intent, stored] = await Promise.all([
      this.store.getVm(vmId),
      this.store.getIntent(vmId),
      this.store.getStatus(vmId),
    ]);
    if (!vm || !intent || !stored) throw new FtServiceError('FTS_NOT_FOUND', `no VM ${vmId}`);
    return { vm, intent, status: stored.status };
  }

  /** Whether a VM on `host` could be protected now (the create form's checkbox). */
  async placementCheck(query: { host?: unknown; memoryMiB?: unknown }): Promise<PlacementCheck> {
    const world = await this.store.loadWorld();
    const memoryMiB =
      query.memoryMiB === undefined
        ? 256
        : parseAt(intParam.pipe(z.number().min(16).max(1_048_576)), query.memoryMiB, 'query.memoryMiB');
    const usage = usageOf(world, []);
    const host =
      query.host === undefined || query.host === ''
        ? primaryCandidate(world.hosts, usage, memoryMiB)
        : parseAt(Id, query.host, 'query.host');
    if (!host) return { qualifies: false, reason: 'no host has room for the VM itself', candidates: [] };
    if (!world.hosts.some((h) => h.name === host)) {
      throw new FtServiceError('FTS_INVALID_INPUT', `query.host: no host named ${host}`, {
        field: 'query.host',
      });
    }
    return secondaryCandidates(world.hosts, usage, {
      primaryHost: host,
      memoryMiB,
      placement: { allowedHosts: [], excludedHosts: [] },
    });
  }

  async createVm(body: unknown): Promise<VmView> {
    const input = parseAt(CreateVm, body, 'body');
    const world = await this.store.loadWorld();
    const usage = usageOf(world, []);
    const host = input.host ?? primaryCandidate(world.hosts, usage, input.memoryMiB);
    const hostRow = world.hosts.find((h) => h.name === host);
    if (!host || !hostRow) {
      throw new FtServiceError(
        input.host ? 'FTS_INVALID_INPUT' : 'FTS_CONFLICT',
        input.host ? `body.host: no host named ${input.host}` : 'no host has room for the VM',
        input.host ? { field: 'body.host' } : undefined,
      );
    }
    if (!hostRow.enabled)
      throw new FtServiceError('FTS_INVALID_INPUT', `body.host: ${host} is disabled`, { field: 'body.host' });
    for (const [i, h] of input.ft.placement.allowedHosts.entries()) {
      if (!world.hosts.some((x) => x.name === h)) {
        throw new FtServiceError(
          'FTS_INVALID_INPUT',
          `body.ft.placement.allowedHosts[${i}]: no host named ${h}`,
          {
            field: `body.ft.placement.allowedHosts[${i}]`,
          },
        );
      }
    }
    if (input.ft.enabled) {
      const check = secondaryCandidates(world.hosts, usage, {
        primaryHost: host,
        memoryMiB: input.memoryMiB,
        placement: input.ft.placement,
      });
      if (!check.qualifies)
        throw new FtServiceError('FTS_NO_BACKUP_HOST', check.reason ?? 'no backup host qualifies');
    }
    if (world.vms.some((v) => v.name === input.name)) {
      throw new FtServiceError('FTS_CONFLICT', `a VM named ${input.name} exists`, { field: 'body.name' });
    }
    const base = slug(input.name);
    const id = uniqueId(
      this.reservedPrefixes.some((p) => base.startsWith(p)) ? `vm-${base}`.slice(0, 56) : base,
      new Set(world.vms.map((v) => v.id)),
    );
    const now = nowIso();
    const vm: Vm = {
      id,
      name: input.name,
      host,
      memoryMiB: input.memoryMiB,
      desired: 'running',
      createdAt: now,
    };
    const intent: FtIntent = { ...input.ft, vmId: id, generation: 1, updatedAt: now };
    const status = deriveStatus({ vm, intent, record: undefined, previous: undefined });
    await this.write(async (w) => {
      await w.insertVm(vm);
      await w.putIntent(intent);
      await w.putStatus(status, undefined);
      await w.addEvent({
        vmId: id,
        kind: 'vm',
        message: `created on ${host}${intent.enabled ? ' with fault tolerance' : ''}`,
        data: { host, ft: intent.enabled },
      });
      await w.addEvent({
        vmId: id,
        kind: 'status',
        message: describeStatus(status),
        data: { state: status.state },
      });
    });
    return { vm, intent, status };
  }

  /**
   * The IaaS adapters' import path: a VM the IaaS created (and runs, or will), taken with
   * the id, name, host and memory the adapter gives, and its FT intent. Unlike createVm
   * the id is not derived from the name and the host is not chosen here; the backup
   * placement is still checked only by the reconciler (the status says why none fits).
   */
  async importVm(body: unknown, source: string): Promise<VmView> {
    const input = parseAt(ImportVm, body, 'body');
    const world = await this.store.loadWorld();
    if (!world.hosts.some((h) => h.name === input.host)) {
      throw new FtServiceError('FTS_INVALID_INPUT', `body.host: no host named ${input.host}`, {
        field: 'body.host',
      });
    }
    if (world.vms.some((v) => v.id === input.id)) {
      throw new FtServiceError('FTS_CONFLICT', `a VM with id ${input.id} exists`, { field: 'body.id' });
    }
    const now = nowIso();
    const vm: Vm = {
      id: input.id,
      name: input.name,
      host: input.host,
      memoryMiB: input.memoryMiB,
      desired: 'running',
      createdAt: now,
    };
    const intent: FtIntent = { ...input.ft, vmId: vm.id, generation: 1, updatedAt: now };
    const status = deriveStatus({ vm, intent, record: undefined, previous: undefined });
    await this.write(async (w) => {
      await w.insertVm(vm);
      await w.putIntent(intent);
      await w.putStatus(status, undefined);
      await w.addEvent({
        vmId: vm.id,
        kind: 'vm',
        message: `imported from ${source} on ${vm.host}${intent.enabled ? ' with fault tolerance' : ''}`,
        data: { host: vm.host, ft: intent.enabled, source },
      });
      await w.addEvent({
        vmId: vm.id,
        kind: 'status',
        message: describeStatus(status),
        data: { state: status.state },
      });
    });
    return { vm, intent, status };
  }

  async deleteVm(id: string): Promise<VmView> {
    const view = await this.getVm(id);
    if (view.vm.desired === 'deleting') return view;
    await this.write(async (w) => {
      await w.setVmDesired(view.vm.id, 'deleting');
      await w.addEvent({ vmId: view.vm.id, kind: 'vm', message: 'delete asked: the VM will be stopped' });
    });
    return { ...view, vm: { ...view.vm, desired: 'deleting' } };
  }

  /** Replaces the FT intent (a new generation when anything changed). */
  async putIntent(id: string, body: unknown): Promise<VmView> {
    const input = parseAt(FtIntentInput, body, 'body');
    const view = await this.getVm(id);
    const same =
      canonical({ ...view.intent, generation: 0, updatedAt: '' }) ===
      canonical({ ...input, vmId: view.vm.id, generation: 0, updatedAt: '' });
    if (same) return view;
    const intent: FtIntent = {
      ...input,
      vmId: view.vm.id,
      generation: view.intent.generation + 1,
      updatedAt: nowIso(),
    };
    await this.write(async (w) => {
      await w.putIntent(intent);
      await w.addEvent({
        vmId: view.vm.id,
        kind: 'intent',
        message:
          intent.enabled === view.intent.enabled
            ? 'FT settings changed'
            : intent.enabled
              ? 'Turn On: fault tolerance asked'
              : 'Turn Off: fault tolerance no longer asked',
        data: { generation: intent.generation, enabled: intent.enabled },
      });
    });
    return { ...view, intent };
  }

  /** Turn On, Turn Off (intent changes), Test Failover, Restart Secondary (one-shot requests). */
  async action(id: string, name: unknown): Promise<{ view: VmView; request?: ActionRequest }> {
    const action = parseAt(ActionName, name, 'path.action');
    const view = await this.getVm(id);
    if (action === 'turn-on' || action === 'turn-off') {
      const { vmId: _v, generation: _g, updatedAt: _u, ...rest } = view.intent;
      return { view: await this.putIntent(id, { ...rest, enabled: action === 'turn-on' }) };
    }
    const stored = await this.store.getStatus(view.vm.id);
    const state = stored?.record?.state;
    if (action === 'test-failover' && view.status.state !== 'protected') {
      throw new FtServiceError(
        'FTS_CONFLICT',
        `Test Failover needs a protected VM; ${view.vm.id} is ${view.status.state}`,
      );
    }
    if (action === 'restart-secondary' && state !== 'failed-over' && state !== 'secondary-lost') {
      throw new FtServiceError(
        'FTS_CONFLICT',
        `Restart Secondary needs a VM that failed over or lost its secondary; ${view.vm.id} is ${view.status.state}`,
      );
    }
    if (!view.intent.enabled) {
      throw new FtServiceError('FTS_CONFLICT', `${action} needs fault tolerance turned on for ${view.vm.id}`);
    }
    const pending = await this.store.listRequests({ vmId: view.vm.id, pending: true });
    const existing = pending.find((r) => r.action === action);
    if (existing) return { view, request: existing };
    const request = await this.write(async (w) => {
      const r = await w.addRequest(view.vm.id, action);
      await w.addEvent({
        vmId: view.vm.id,
        kind: 'action',
        message: action === 'test-failover' ? 'Test Failover asked' : 'Restart Secondary asked',
        data: { requestId: r.id },
      });
      return r;
    });
    return { view, request };
  }

  async events(id: string, query: { after?: unknown; limit?: unknown }): Promise<FtEvent[]> {
    const view = await this.getVm(id);
    const after = query.after === undefined ? 0 : parseAt(intParam, query.after, 'query.after');
    const limit = query.limit === undefined ? 500 : parseAt(intParam, query.limit, 'query.limit');
    return this.store.listEvents(view.vm.id, { after, limit: Math.min(limit, 1000) });
  }

  async steps(id: string): Promise<Step[]> {
    const view = await this.getVm(id);
    return this.store.listSteps({ vmId: view.vm.id });
  }

  async upsertHosts(hosts: readonly unknown[]): Promise<void> {
    const parsed = hosts.map((h, i) => parseAt(HostSchema, h, `hosts[${i}]`));
    await this.write(async (w) => {
      for (const h of parsed) await w.upsertHost(h);
    });
  }
}

/** What an IaaS adapter imports: its own id, name, host and memory, and the FT intent. */
const ImportVm = z
  .object({
    id: Id,
    name: z.string().min(1).max(100),
    host: Id,
    memoryMiB: z.number().int().min(16).max(1_048_576),
    ft: FtIntentInput,
  })
  .strict();

/** A non-negative integer given as query text. */
const intParam = z
  .string()
  .regex(/^\d{1,12}$/, 'a non-negative integer')
  .transform(Number);

function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 56);
  return s === '' ? 'vm' : s;
}

function uniqueId(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}
