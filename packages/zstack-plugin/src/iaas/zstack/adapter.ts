/**
 * ZStackAdapter: the FT checkbox as ZStack's user tag `cuju::ft` (reference
 * iaas-integration.md §4). It reads the ticked VMs with the query pseudo-field
 * `__userTag__`, the hosts and clusters for the backup's placement (same cluster, enabled
 * and connected, not the VM's host), learns of changes from canonical-event webhooks
 * (`/vm/state/change`, `/host/status/change`; hints only), writes the FT status back as
 * user tags, and creates VMs for the console (CreateVmInstance with the tag).
 *
 * The service's names: a VM is `zstack-<uuid>`; a ZStack host is the service host of the
 * same name (or what `hostName` says). Backup domains the service starts are named
 * `cuju-bk-<uuid>` (zstackBackupName), so ZStack's VM tracer reports them as strangers
 * instead of taking them for the VM itself (it keys on domain names).
 */
import { FtServiceError } from '../../errors.js';
import { type CreateVm, CreateVm as CreateVmSchema, type FtStatus, Id, parseAt } from '../../model.js';
import type { IaasAdapter, IaasHint, IaasVm } from '../adapter.js';
import type { IaasCreator } from '../create.js';
import { iaasVmId } from '../sync.js';
import { ZStackClient, type ZStackClientOptions } from './client.js';
import type { ZStackHost, ZStackTag, ZStackVm, ZStackWebhook } from './shapes.js';
import { FT_TAG, FT_TAG_PREFIX, intentFromTags, isStatusTag, statusTags } from './tags.js';
import { WebhookReceiver, type WebhookReceiverOptions } from './webhook.js';

/** What CreateVmInstance needs besides the form (ZStack has no defaults for these). */
export interface ZStackCreateDefaults {
  imageUuid: string;
  l3NetworkUuids: string[];
  /** An instance offering; without it the form's memory is sent with `cpuNum`. */
  instanceOfferingUuid?: string;
  /** Default 1. */
  cpuNum?: number;
}

/** ZStackAdapter's options. */
export interface ZStackAdapterOptions {
  /** The management node and the account (or a client made already). */
  zstack: ZStackClientOptions | ZStackClient;
  /** The service's name for a ZStack host (default: its name, when that is a valid service id). */
  hostName?: (host: ZStackHost) => string | undefined;
  /** The webhook receiver (default: 127.0.0.1, a free port); false: polling only. */
  webhook?: WebhookReceiverOptions | false;
  /** Enables createVm (the console's create form through ZStack). */
  create?: ZStackCreateDefaults;
}

/** `cuju-bk-<uuid>`: the backup domain's name for a service VM id of this adapter. */
export function zstackBackupName(vmId: string): string | undefined {
  return vmId.startsWith('zstack-') ? `cuju-bk-${vmId.slice('zstack-'.length)}` : undefined;
}

const RUNNING = new Set(['Running', 'Migrating', 'Rebooting']);
const DELETED = new Set(['Destroying', 'Destroyed', 'Expunging']);

export class ZStackAdapter implements IaasAdapter, IaasCreator {
  readonly name = 'zstack';
  readonly client: ZStackClient;
  private readonly receiver: WebhookReceiver | undefined;
  /** The last listing's facts the interface's IaasVm has no room for. */
  private readonly clusterOf = new Map<string, string | undefined>();
  private hostsCache: { at: number; hosts: ZStackHost[] } | undefined;
  private closed = false;

  constructor(private readonly options: ZStackAdapterOptions) {
    this.client = options.zstack instanceof ZStackClient ? options.zstack : new ZStackClient(options.zstack);
    this.receiver = options.webhook === false ? undefined : new WebhookReceiver(options.webhook ?? {});
    const c = options.create;
    if (c) {
      if (!c.imageUuid) throw invalid('create.imageUuid', 'required');
      if (!Array.isArray(c.l3NetworkUuids) || c.l3NetworkUuids.length === 0)
        throw invalid('create.l3NetworkUuids', 'at least one L3 network');
    }
  }

  async listVms(signal?: AbortSignal): Promise<IaasVm[]> {
    this.open();
    // Our tags of every VM at once (the tick, options, statuses): one query.
    const tags = await this.client.query<ZStackTag>(
      '/v1/user-tags',
      { q: ['resourceType=VmInstanceVO', `tag~=${FT_TAG}%`] },
      signal,
    );
    const tagsOf = groupTags(tags);
    const ticked = await this.client.query<ZStackVm>(
      '/v1/vm-instances',
      { q: [`__userTag__=${FT_TAG}`] },
      signal,
    );
    const seen = new Set(ticked.map((v) => v.uuid));
    // Ticked before (a status tag, the tick gone): listed so that the service turns FT off.
    const before = [...tagsOf.keys()].filter((u) => !seen.has(u));
    const untagged = before.length
      ? await this.client.query<ZStackVm>('/v1/vm-instances', { q: [`uuid?=${before.join(',')}`] }, signal)
      : [];
    const hosts = await this.hosts(signal, true);
    return [...ticked, ...untagged].map((vm) => this.toIaasVm(vm, tagsOf.get(vm.uuid) ?? [], hosts));
  }

  async getVm(iaasId: string, signal?: AbortSignal): Promise<IaasVm | undefined> {
    this.open();
    const [vm] = await this.client.query<ZStackVm>(
      `/v1/vm-instances/${encodeURIComponent(iaasId)}`,
      {},
      signal,
    );
    if (!vm) return undefined;
    const tags = await this.client.query<ZStackTag>(
      '/v1/user-tags',
      { q: ['resourceType=VmInstanceVO', `resourceUuid=${vm.uuid}`] },
      signal,
    );
    const ours = tags.map((t) => t.tag).filter((t) => t === FT_TAG || t.startsWith(FT_TAG_PREFIX));
    if (ours.length === 0) return undefined;
    return this.toIaasVm(vm, ours, await this.hosts(signal, false));
  }

  async candidateBackupHosts(vm: IaasVm, signal?: AbortSignal): Promise<string[]> {
    this.open();
    let cluster = this.clusterOf.get(vm.iaasId);
    if (cluster === undefined) {
      const [inv] = await this.client.query<ZStackVm>(
        `/v1/vm-instances/${encodeURIComponent(vm.iaasId)}`,
        {},
        signal,
      );
      cluster = inv?.clusterUuid;
      if (!cluster) return [];
    }
    const hosts = await this.client.query<ZStackHost>(
      '/v1/hosts',
      { q: [`clusterUuid=${cluster}`, 'state=Enabled', 'status=Connected'] },
      signal,
    );
    return hosts
      .map((h) => this.serviceHost(h))
      .filter((h): h is string => h !== undefined && h !== vm.host)
      .sort();
  }

  async publishStatus(vm: IaasVm, status: FtStatus, signal?: AbortSignal): Promise<void> {
    this.open();
    const have = await this.client.query<ZStackTag>(
      '/v1/user-tags',
      { q: ['resourceType=VmInstanceVO', `resourceUuid=${vm.iaasId}`, `tag~=${FT_TAG_PREFIX}%`] },
      signal,
    );
    const want = statusTags(status);
    const present = new Set(have.map((t) => t.tag));
    // New tags first, stale ones after: a reader never sees a VM without a status.
    for (const tag of want) {
      if (present.has(tag)) continue;
      await this.client.request(
        'POST',
        '/v1/user-tags',
        { params: { resourceType: 'VmInstanceVO', resourceUuid: vm.iaasId, tag } },
        signal,
      );
    }
    for (const t of have) {
      if (!isStatusTag(t.tag) || want.includes(t.tag)) continue;
      await this.client.request(
        'DELETE',
        `/v1/tags/${encodeURIComponent(t.uuid)}?deleteMode=Permissive`,
        undefined,
        signal,
      );
    }
  }

  async *hints(signal: AbortSignal): AsyncIterable<IaasHint> {
    this.open();
    const receiver = this.receiver;
    if (!receiver) {
      // Polling only: nothing to hint; end when asked.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    await receiver.listen();
    const queue: IaasHint[] = [];
    let wake: (() => void) | undefined;
    const off = receiver.onEvent((e) => {
      const hint = this.hintOf(e.path, e.content);
      if (!hint) return;
      queue.push(hint);
      wake?.();
    });
    const hooks: ZStackWebhook[] = [];
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (const opaque of ['/vm/state/change', '/host/status/change']) {
        const res = await this.client.request(
          'POST',
          '/v1/web-hooks',
          { params: { name: 'cuju-ft', url: receiver.url, type: 'CanonicalEvent', opaque } },
          signal,
        );
        const inv = res.inventory as ZStackWebhook | undefined;
        if (inv?.uuid) hooks.push(inv);
      }
      // A change missed before the hooks existed: look once now.
      yield { kind: 'resync' };
      while (!signal.aborted) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      off();
      signal.removeEventListener('abort', onAbort);
      // The hooks go with the stream (a new leader registers its own).
      await Promise.allSettled(
        hooks.map((h) =>
          this.client.request(
            'DELETE',
            `/v1/web-hooks/${encodeURIComponent(h.uuid)}`,
            undefined,
            AbortSignal.timeout(10_000),
          ),
        ),
      );
    }
  }

  /** CreateVmInstance for the console's form: the `cuju::ft` user tag when FT is ticked. */
  async createVm(input: CreateVm, signal?: AbortSignal): Promise<IaasVm> {
    this.open();
    const c = this.options.create;
    if (!c)
      throw new FtServiceError(
        'FTS_CONFIG',
        'the ZStack adapter has no create defaults (create.imageUuid...)',
      );
    const form = parseAt(CreateVmSchema, input, 'body');
    let hostUuid: string | undefined;
    if (form.host) {
      const host = (await this.hosts(signal, true)).find((h) => this.serviceHost(h) === form.host);
      if (!host) throw invalid('body.host', `no ZStack host is service host ${form.host}`);
      hostUuid = host.uuid;
    }
    const params = {
      name: form.name,
      imageUuid: c.imageUuid,
      l3NetworkUuids: c.l3NetworkUuids,
      ...(c.instanceOfferingUuid
        ? { instanceOfferingUuid: c.instanceOfferingUuid }
        : { cpuNum: c.cpuNum ?? 1, memorySize: form.memoryMiB * 1024 * 1024 }),
      ...(hostUuid ? { hostUuid } : {}),
      strategy: 'InstantStart',
    };
    const tags = form.ft.enabled ? [FT_TAG, ...optionTags(form.ft)] : [];
    const res = await this.client.request(
      'POST',
      '/v1/vm-instances',
      { params, ...(tags.length ? { userTags: tags } : {}) },
      signal,
    );
    const vm = res.inventory as ZStackVm | undefined;
    if (!vm?.uuid) throw new FtServiceError('FTS_IAAS', 'CreateVmInstance answered without inventory.uuid');
    return this.toIaasVm(vm, tags, await this.hosts(signal, false));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.receiver?.close();
    await this.client.logout(AbortSignal.timeout(5000)).catch(() => {});
  }

  private open(): void {
    if (this.closed) throw new FtServiceError('FTS_SHUTTING_DOWN', 'the ZStack adapter is closed');
  }

  private toIaasVm(vm: ZStackVm, tags: readonly string[], hosts: ZStackHost[]): IaasVm {
    this.clusterOf.set(vm.uuid, vm.clusterUuid);
    const hostUuid = vm.hostUuid ?? vm.lastHostUuid;
    const host = hosts.find((h) => h.uuid === hostUuid);
    const state = DELETED.has(vm.state) ? 'deleted' : RUNNING.has(vm.state) ? 'running' : 'stopped';
    return {
      id: iaasVmId(this.name, vm.uuid),
      iaasId: vm.uuid,
      name: vm.name,
      host: (host && this.serviceHost(host)) ?? '',
      memoryMiB: Math.max(16, Math.round(vm.memorySize / (1024 * 1024))),
      state,
      ft: intentFromTags(tags),
    };
  }

  private serviceHost(h: ZStackHost): string | undefined {
    if (this.options.hostName) return this.options.hostName(h);
    return Id.safeParse(h.name).success ? h.name : undefined;
  }

  /** The hosts, read at most once per listing (fresh when `refresh`). */
  private async hosts(signal: AbortSignal | undefined, refresh: boolean): Promise<ZStackHost[]> {
    if (!refresh && this.hostsCache) return this.hostsCache.hosts;
    const hosts = await this.client.query<ZStackHost>('/v1/hosts', {}, signal);
    this.hostsCache = { at: Date.now(), hosts };
    return hosts;
  }

  private hintOf(path: string, content: Record<string, unknown>): IaasHint | undefined {
    if (path === '/vm/state/change' && typeof content.vmUuid === 'string')
      return { kind: 'vm-changed', iaasId: content.vmUuid };
    if (path === '/host/status/change' && typeof content.hostUuid === 'string') {
      const host = this.hostsCache?.hosts.find((h) => h.uuid === content.hostUuid);
      const name = host && this.serviceHost(host);
      if (content.newStatus === 'Disconnected' && name) return { kind: 'host-down', host: name };
      return { kind: 'resync' };
    }
    return undefined;
  }
}

function groupTags(tags: readonly ZStackTag[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const t of tags) {
    if (t.tag !== FT_TAG && !t.tag.startsWith(FT_TAG_PREFIX)) continue;
    const list = m.get(t.resourceUuid) ?? [];
    list.push(t.tag);
    m.set(t.resourceUuid, list);
  }
  return m;
}

function optionTags(ft: { engine?: string; reprotect?: string; epochUs?: number | undefined }): string[] {
  const tags: string[] = [];
  if (ft.engine && ft.engine !== 'cuju') tags.push(`${FT_TAG_PREFIX}engine::${ft.engine}`);
  if (ft.reprotect === 'manual') tags.push(`${FT_TAG_PREFIX}reprotect::manual`);
  if (ft.epochUs !== undefined) tags.push(`${FT_TAG_PREFIX}epoch-us::${ft.epochUs}`);
  return tags;
}

function invalid(field: string, why: string): FtServiceError {
  return new FtServiceError('FTS_INVALID_INPUT', `${field}: ${why}`, { field });
}
