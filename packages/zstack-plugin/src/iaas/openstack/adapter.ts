/**
 * The OpenStack adapter: nova servers whose metadata says `cuju_ft=true`, on a flavor
 * whose extra spec says `cuju:ft=true`, are FT VMs for the service. Polling nova (with a
 * Keystone token) is the truth; nova's versioned notifications on RabbitMQ are hints.
 * The FT status goes back into the server's metadata, together with Masakari's
 * `HA_Enabled=False` (see masakari.ts).
 */
import { FtServiceError } from '../../errors.js';
import { CreateVm, type FtStatus, parseAt } from '../../model.js';
import type { IaasAdapter, IaasHint, IaasVm } from '../adapter.js';
import type { IaasCreator } from '../create.js';
import { iaasVmId } from '../sync.js';
import { OpenStackError } from './errors.js';
import { KeystoneSession, type KeystoneSessionOptions, type OpenStackCredentials } from './keystone.js';
import {
  boolFromString,
  FT_EPOCH_METADATA_KEY,
  FT_FLAVOR_SPEC,
  FT_HA_SAVED_KEY,
  FT_METADATA_KEY,
  isManaged,
  MASAKARI_HA_KEY,
  statusMetadata,
} from './metadata.js';
import { type NotificationSource, notificationHints } from './notifications.js';
import { NovaClient, type NovaServer } from './nova.js';

/** How an {@link OpenStackAdapter} reaches OpenStack, and how it names hosts. */
export interface OpenStackAdapterOptions {
  /** Keystone credentials of a user with the admin role (all projects' servers, hosts). */
  credentials: OpenStackCredentials;
  /** nova's versioned notifications; without it the adapter only polls. */
  notifications?: NotificationSource;
  /**
   * nova compute host name → the service's host name. Hosts not in the map get their nova
   * name lowercased, with characters other than `a-z0-9-` turned into `-`.
   */
  hostMap?: Record<string, string>;
  /** Masakari's `ha_enabled_instance_metadata_key` (default `HA_Enabled`). */
  masakariHaKey?: string;
  /** The compute URL (default: from the Keystone catalog). */
  computeEndpoint?: string;
  /** Per-request deadline (default 15 s). */
  timeoutMs?: number;
  keystone?: KeystoneSessionOptions;
  /** Things worth a log line (a bad option on a server, a dropped notification). */
  onWarning?: (message: string, field?: string) => void;
  /** Enables createVm (the console's create form creates nova servers). */
  create?: OpenStackCreateDefaults;
}

/** What a server created from the console's form is built from. */
export interface OpenStackCreateDefaults {
  /** The Glance image. */
  imageRef: string;
  /** The networks (default `auto`; `none` needs no Neutron network). */
  networks?: 'none' | 'auto' | { uuid: string }[];
  /**
   * The flavor; default: a flavor whose RAM is the form's memory (with `cuju:ft=true` when
   * the box is ticked).
   */
  flavorRef?: string;
  /** How long to wait for nova to place the server (default 60 s). */
  buildTimeoutMs?: number;
}

/** The model's id limit (model `Id`: 63 characters). */
const ID_MAX = 63;

/**
 * `cuju-bk-<server uuid>`: the backup domain's name for a service VM id of this adapter
 * (FtPairDriver's `backupName`). nova keys on the domain UUID and libvirt name
 * `instance-%08x`; the backup never reuses either (reference §5.4).
 */
export function openstackBackupName(vmId: string): string | undefined {
  return vmId.startsWith('openstack-') ? `cuju-bk-${vmId.slice('openstack-'.length)}` : undefined;
}

export class OpenStackAdapter implements IaasAdapter, IaasCreator {
  readonly name = 'openstack';
  readonly session: KeystoneSession;
  readonly nova: NovaClient;
  private readonly closer = new AbortController();
  /** The availability zone of each server seen, for candidateBackupHosts. */
  private readonly zones = new Map<string, string>();
  private readonly warn: (message: string, field?: string) => void;

  constructor(private readonly options: OpenStackAdapterOptions) {
    this.session = new KeystoneSession(options.credentials, {
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...options.keystone,
    });
    this.nova = new NovaClient(this.session, {
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.computeEndpoint ? { endpoint: options.computeEndpoint } : {}),
    });
    this.warn = options.onWarning ?? (() => {});
  }

  /** The service's VM id for a nova server id (`openstack-<uuid>`). */
  vmId(serverId: string): string {
    return iaasVmId(this.name, serverId);
  }

  /** The service's host name for a nova compute host. */
  hostName(novaHost: string): string {
    const mapped = this.options.hostMap?.[novaHost];
    if (mapped) return mapped;
    return (
      novaHost
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .replace(/^-+/, '')
        .slice(0, ID_MAX) || 'unknown'
    );
  }

  async listVms(signal?: AbortSignal): Promise<IaasVm[]> {
    const servers = await this.nova.listServers(this.signal(signal));
    const out: IaasVm[] = [];
    for (const s of servers) {
      if (!isManaged(s.metadata)) continue;
      const vm = this.toVm(s);
      if (vm) out.push(vm);
    }
    return out;
  }

  async getVm(iaasId: string, signal?: AbortSignal): Promise<IaasVm | undefined> {
    const s = await this.nova.getServer(iaasId, this.signal(signal));
    if (!s || !isManaged(s.metadata)) return undefined;
    return this.toVm(s);
  }

  hints(signal: AbortSignal): AsyncIterable<IaasHint> {
    const source = this.options.notifications;
    const both = this.signal(signal);
    if (!source) return noHints(both);
    const mapHost = (h: IaasHint): IaasHint =>
      h.kind === 'host-down' ? { ...h, host: this.hostName(h.host) } : h;
    const inner = notificationHints(source, both, { onWarning: this.warn });
    return {
      async *[Symbol.asyncIterator]() {
        for await (const h of inner) yield mapHost(h);
      },
    };
  }

  /**
   * The enabled, up compute hosts of the VM's availability zone (nova-compute available
   * and active there; hypervisor state up, status enabled), without the VM's own host.
   */
  async candidateBackupHosts(vm: IaasVm, signal?: AbortSignal): Promise<string[]> {
    const sig = this.signal(signal);
    let zone = this.zones.get(vm.iaasId);
    if (zone === undefined) {
      const s = await this.nova.getServer(vm.iaasId, sig);
      if (!s) return [];
      zone = s['OS-EXT-AZ:availability_zone'] ?? '';
      this.zones.set(vm.iaasId, zone);
    }
    const [zones, hypervisors] = await Promise.all([
      this.nova.availabilityZones(sig),
      this.nova.hypervisors(sig),
    ]);
    const usable = new Set(
      hypervisors.filter((h) => h.state === 'up' && h.status === 'enabled').map((h) => h.service.host),
    );
    const hosts = new Set<string>();
    for (const z of zones) {
      if (zone && z.zoneName !== zone) continue;
      for (const [host, services] of Object.entries(z.hosts ?? {})) {
        const compute = services['nova-compute'];
        if (!compute?.available || !compute.active || !usable.has(host)) continue;
        const name = this.hostName(host);
        if (name !== vm.host) hosts.add(name);
      }
    }
    return [...hosts].sort();
  }

  /**
   * Writes the status into the server's metadata (`cuju_ft_status`, `cuju_ft_reason`,
   * `cuju_ft_primary_host`, `cuju_ft_secondary_host`) and keeps Masakari off the VM while
   * FT is on (`HA_Enabled=False`; its earlier value is kept in `cuju_ft_saved_ha` and put
   * back when FT is turned off). A server that is gone is not an error.
   */
  async publishStatus(vm: IaasVm, status: FtStatus, signal?: AbortSignal): Promise<void> {
    const sig = this.signal(signal);
    const haKey = this.options.masakariHaKey ?? MASAKARI_HA_KEY;
    const server = await this.nova.getServer(vm.iaasId, sig);
    if (!server) return;
    const items = statusMetadata(status);
    const meta = server.metadata;
    try {
      if (status.state === 'disabled') {
        await this.nova.updateMetadata(vm.iaasId, items, sig);
        if (FT_HA_SAVED_KEY in meta) {
          const saved = meta[FT_HA_SAVED_KEY]!;
          if (saved === '') await this.nova.deleteMetadataItem(vm.iaasId, haKey, sig);
          else await this.nova.updateMetadata(vm.iaasId, { [haKey]: saved }, sig);
          await this.nova.deleteMetadataItem(vm.iaasId, FT_HA_SAVED_KEY, sig);
        }
        return;
      }
      if (!(FT_HA_SAVED_KEY in meta)) items[FT_HA_SAVED_KEY] = meta[haKey] ?? '';
      items[haKey] = 'False';
      await this.nova.updateMetadata(vm.iaasId, items, sig);
    } catch (err) {
      // Deleted between the read and the write: nothing to publish to.
      if (err instanceof OpenStackError && err.reason === 'not-found') return;
      throw err;
    }
  }

  /**
   * Creates a nova server from the console's form: its metadata `cuju_ft=true` when ticked
   * (and `cuju_ft_epoch_us`), on the form's host (microversion 2.74 `host`, admin), from
   * `create.imageRef`; resolves once nova has placed it (ERROR: FTS_IAAS).
   */
  async createVm(input: CreateVm, signal?: AbortSignal): Promise<IaasVm> {
    const c = this.options.create;
    if (!c)
      throw new OpenStackError('config', 'the OpenStack adapter has no create defaults (create.imageRef)', {
        field: 'create',
      });
    const form = parseAt(CreateVm, input, 'body');
    const sig = this.signal(signal);
    let host: string | undefined;
    if (form.host) {
      const names = (await this.nova.hypervisors(sig)).map((h) => h.service.host);
      host = names.find((h) => this.hostName(h) === form.host);
      if (!host) {
        throw new FtServiceError(
          'FTS_INVALID_INPUT',
          `body.host: no nova compute host is service host ${form.host}`,
          {
            field: 'body.host',
          },
        );
      }
    }
    const flavorRef = c.flavorRef ?? (await this.flavorFor(form.memoryMiB, form.ft.enabled, sig));
    const metadata: Record<string, string> = form.ft.enabled
      ? {
          [FT_METADATA_KEY]: 'true',
          ...(form.ft.epochUs ? { [FT_EPOCH_METADATA_KEY]: String(form.ft.epochUs) } : {}),
        }
      : {};
    const id = await this.nova.createServer(
      {
        name: form.name,
        flavorRef,
        imageRef: c.imageRef,
        metadata,
        networks: c.networks ?? 'auto',
        ...(host ? { host } : {}),
      },
      sig,
    );
    const deadline = Date.now() + (c.buildTimeoutMs ?? 60_000);
    for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
      const s = await this.nova.getServer(id, sig);
      if (s?.status === 'ERROR')
        throw new OpenStackError('http', `nova: server ${form.name} (${id}) went to ERROR`);
      const vm = s && this.toVm(s);
      if (vm) return vm;
      if (Date.now() > deadline)
        throw new OpenStackError(
          'unreachable',
          `nova: server ${form.name} (${id}) not placed in ${c.buildTimeoutMs ?? 60_000} ms`,
        );
      await new Promise((r) => setTimeout(r, wait));
      if (sig.aborted) throw new OpenStackError('aborted', 'createVm: aborted');
    }
  }

  async close(): Promise<void> {
    this.closer.abort();
  }

  /** A flavor of exactly `ram` MiB (gated with `cuju:ft=true` when FT is asked for). */
  private async flavorFor(ram: number, ft: boolean, signal: AbortSignal): Promise<string> {
    const sized = (await this.nova.listFlavors(signal)).filter((f) => f.ram === ram);
    for (const f of sized) {
      const gated = boolFromString((await this.nova.flavorExtraSpecs(f.id, signal))[FT_FLAVOR_SPEC]);
      if (gated || !ft) return f.id;
    }
    throw new FtServiceError(
      'FTS_INVALID_INPUT',
      `body.memoryMiB: no nova flavor has ${ram} MiB${ft ? ` and ${FT_FLAVOR_SPEC}=true` : ''}`,
      { field: 'body.memoryMiB' },
    );
  }

  private signal(signal: AbortSignal | undefined): AbortSignal {
    if (this.closer.signal.aborted) throw new OpenStackError('aborted', 'the OpenStack adapter is closed');
    return signal ? AbortSignal.any([signal, this.closer.signal]) : this.closer.signal;
  }

  private toVm(s: NovaServer): IaasVm | undefined {
    const host = s['OS-EXT-SRV-ATTR:host'];
    // Not placed yet (BUILD before scheduling): nothing to protect; its create.end notification comes later.
    if (!host) return undefined;
    this.zones.set(s.id, s['OS-EXT-AZ:availability_zone'] ?? '');
    const memoryMiB = s.flavor.ram;
    if (memoryMiB === undefined) {
      throw new OpenStackError(
        'bad-response',
        `nova.server(${s.id}).flavor.ram: missing (needs compute microversion 2.47)`,
        { field: `nova.server(${s.id}).flavor.ram` },
      );
    }
    return {
      id: this.vmId(s.id),
      iaasId: s.id,
      name: s.name.slice(0, 100) || s.id,
      host: this.hostName(host),
      memoryMiB: Math.max(16, memoryMiB),
      state: foldStatus(s.status),
      ft: this.intentOf(s),
    };
  }

  /** The FT checkbox: ticked in the server's metadata AND allowed by its flavor. */
  private intentOf(s: NovaServer): IaasVm['ft'] {
    if (!boolFromString(s.metadata[FT_METADATA_KEY])) return undefined;
    if (!boolFromString(s.flavor.extra_specs?.[FT_FLAVOR_SPEC])) {
      this.warn(
        `server ${s.id} asks for FT but its flavor ${s.flavor.original_name ?? '?'} lacks ${FT_FLAVOR_SPEC}=true`,
        `nova.server(${s.id}).flavor.extra_specs.${FT_FLAVOR_SPEC}`,
      );
      return undefined;
    }
    const raw = s.metadata[FT_EPOCH_METADATA_KEY];
    if (raw !== undefined) {
      const epochUs = Number(raw);
      if (Number.isInteger(epochUs) && epochUs >= 1000 && epochUs <= 1_000_000)
        return { enabled: true, epochUs };
      this.warn(
        `server ${s.id}: ${FT_EPOCH_METADATA_KEY} must be an integer 1000-1000000 (µs); ignored`,
        `nova.server(${s.id}).metadata.${FT_EPOCH_METADATA_KEY}`,
      );
    }
    return { enabled: true };
  }
}

/** nova's server status, folded: ACTIVE runs; DELETED/SOFT_DELETED are gone; the rest does not run. */
export function foldStatus(status: string): IaasVm['state'] {
  if (status === 'ACTIVE') return 'running';
  if (status === 'DELETED' || status === 'SOFT_DELETED') return 'deleted';
  return 'stopped';
}

async function* noHints(signal: AbortSignal): AsyncGenerator<IaasHint> {
  // Polling only: nothing to say, but the iterable still ends when the signal aborts.
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
