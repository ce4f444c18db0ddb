/**
 * A client for the parts of nova's compute API (v2.1) the adapter uses: servers with
 * their metadata and embedded flavor (microversion 2.47: `flavor.extra_specs`), server
 * metadata writes, flavors and their extra specs, hypervisors and availability zones.
 * Shapes follow the compute API reference (docs.openstack.org/api-ref/compute). A 401
 * renews the Keystone token once and retries.
 */
import { z } from 'zod';
import { OpenStackError } from './errors.js';
import { type HttpResponse, httpJson, unexpected } from './http.js';
import type { KeystoneSession } from './keystone.js';
import { parseAt } from './parse.js';

/** 2.47: the server's flavor is embedded with its extra specs. */
export const NOVA_MICROVERSION = '2.47';

const Metadata = z.record(z.string(), z.string());

export const NovaServer = z.object({
  id: z.string().min(1),
  name: z.string(),
  status: z.string(),
  metadata: Metadata.default({}),
  tenant_id: z.string().optional(),
  'OS-EXT-SRV-ATTR:host': z.string().nullish(),
  'OS-EXT-SRV-ATTR:hypervisor_hostname': z.string().nullish(),
  'OS-EXT-SRV-ATTR:instance_name': z.string().nullish(),
  'OS-EXT-AZ:availability_zone': z.string().nullish(),
  flavor: z.object({
    original_name: z.string().optional(),
    ram: z.number().int().nonnegative().optional(),
    vcpus: z.number().int().optional(),
    /** Shown to admins only (policy `os_compute_api:servers:show:flavor-extra-specs`). */
    extra_specs: Metadata.optional(),
    /** Before 2.47 the flavor is a reference. */
    id: z.string().optional(),
  }),
});
export type NovaServer = z.infer<typeof NovaServer>;

const ServersPage = z.object({
  servers: z.array(NovaServer),
  servers_links: z.array(z.object({ rel: z.string(), href: z.string() })).optional(),
});

export const NovaHypervisor = z.object({
  hypervisor_hostname: z.string(),
  state: z.enum(['up', 'down']),
  status: z.enum(['enabled', 'disabled']),
  service: z.object({ host: z.string() }),
});
export type NovaHypervisor = z.infer<typeof NovaHypervisor>;

export const NovaZone = z.object({
  zoneName: z.string(),
  zoneState: z.object({ available: z.boolean() }),
  hosts: z
    .record(z.string(), z.record(z.string(), z.object({ available: z.boolean(), active: z.boolean() })))
    .nullable(),
});
export type NovaZone = z.infer<typeof NovaZone>;

/** Where a {@link NovaClient} finds nova and how long it waits. */
export interface NovaClientOptions {
  /** Per-request deadline (default 15 s). */
  timeoutMs?: number;
  /** The compute URL; default: the catalog's `compute` endpoint. */
  endpoint?: string;
}

/** What `createServer` takes: the compute API's server create body, the parts we use. */
export interface NovaServerCreate {
  name: string;
  flavorRef: string;
  imageRef: string;
  metadata?: Record<string, string>;
  availability_zone?: string;
  /** 'none' (2.37+): no network, enough for a server that only has to exist. */
  networks: 'none' | 'auto' | { uuid: string }[];
  /** The compute host it must be built on (admin; microversion 2.74, through the scheduler). */
  host?: string;
}

/** nova's compute API with a Keystone session's token (microversion 2.47 unless a call needs more). */
export class NovaClient {
  private readonly timeoutMs: number;

  constructor(
    readonly session: KeystoneSession,
    private readonly options: NovaClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** Every server of every project (`all_tenants=1`, admin), following `servers_links` pages. */
  async listServers(signal?: AbortSignal): Promise<NovaServer[]> {
    const out: NovaServer[] = [];
    let path = '/servers/detail?all_tenants=1&limit=500';
    for (let page = 0; page < 10_000; page++) {
      const res = await this.request('GET', path, undefined, signal);
      if (res.status !== 200) unexpected('nova: listing servers', res);
      const body = parseAt(ServersPage, res.body, 'nova.servers');
      out.push(...body.servers);
      const next = body.servers_links?.find((l) => l.rel === 'next');
      const last = body.servers.at(-1);
      if (!next || !last) return out;
      path = `/servers/detail?all_tenants=1&limit=500&marker=${encodeURIComponent(last.id)}`;
    }
    throw new OpenStackError('bad-response', 'nova: servers_links never ends', {
      field: 'nova.servers_links',
    });
  }

  /** One server, or undefined when nova does not know it (404). */
  async getServer(id: string, signal?: AbortSignal): Promise<NovaServer | undefined> {
    const res = await this.request('GET', `/servers/${encodeURIComponent(id)}`, undefined, signal);
    if (res.status === 404) return undefined;
    if (res.status !== 200) unexpected(`nova: server ${id}`, res);
    return parseAt(z.object({ server: NovaServer }), res.body, 'nova.server').server;
  }

  /** Adds or replaces these metadata items, keeping the others (`POST .../metadata`). */
  async updateMetadata(
    id: string,
    items: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Record<string, string>> {
    const res = await this.request(
      'POST',
      `/servers/${encodeURIComponent(id)}/metadata`,
      { metadata: items },
      signal,
    );
    if (res.status !== 200) unexpected(`nova: metadata of server ${id}`, res);
    return parseAt(z.object({ metadata: Metadata }), res.body, 'nova.metadata').metadata;
  }

  /** Removes one metadata item; a missing one is fine. */
  async deleteMetadataItem(id: string, key: string, signal?: AbortSignal): Promise<void> {
    const res = await this.request(
      'DELETE',
      `/servers/${encodeURIComponent(id)}/metadata/${encodeURIComponent(key)}`,
      undefined,
      signal,
    );
    if (res.status !== 204 && res.status !== 404) unexpected(`nova: metadata ${key} of server ${id}`, res);
  }

  /** `GET /os-hypervisors/detail` (admin). */
  async hypervisors(signal?: AbortSignal): Promise<NovaHypervisor[]> {
    const res = await this.request('GET', '/os-hypervisors/detail', undefined, signal);
    if (res.status !== 200) unexpected('nova: hypervisors', res);
    return parseAt(z.object({ hypervisors: z.array(NovaHypervisor) }), res.body, 'nova.hypervisors')
      .hypervisors;
  }

  /** `GET /os-availability-zone/detail` (admin): zones with their hosts and services. */
  async availabilityZones(signal?: AbortSignal): Promise<NovaZone[]> {
    const res = await this.request('GET', '/os-availability-zone/detail', undefined, signal);
    if (res.status !== 200) unexpected('nova: availability zones', res);
    return parseAt(
      z.object({ availabilityZoneInfo: z.array(NovaZone) }),
      res.body,
      'nova.availabilityZoneInfo',
    ).availabilityZoneInfo;
  }

  /** A flavor's extra specs (`GET /flavors/{id}/os-extra_specs`). */
  async flavorExtraSpecs(flavorId: string, signal?: AbortSignal): Promise<Record<string, string>> {
    const res = await this.request(
      'GET',
      `/flavors/${encodeURIComponent(flavorId)}/os-extra_specs`,
      undefined,
      signal,
    );
    if (res.status !== 200) unexpected(`nova: extra specs of flavor ${flavorId}`, res);
    return parseAt(z.object({ extra_specs: Metadata }), res.body, 'nova.extra_specs').extra_specs;
  }

  /** Creates a flavor (admin) with these extra specs; returns its id. */
  async createFlavor(
    flavor: { name: string; ram: number; vcpus: number; disk: number },
    extraSpecs: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<string> {
    const res = await this.request('POST', '/flavors', { flavor }, signal);
    if (res.status !== 200) unexpected(`nova: creating flavor ${flavor.name}`, res);
    const id = parseAt(z.object({ flavor: z.object({ id: z.string() }) }), res.body, 'nova.flavor').flavor.id;
    if (Object.keys(extraSpecs).length > 0) {
      const r2 = await this.request(
        'POST',
        `/flavors/${encodeURIComponent(id)}/os-extra_specs`,
        { extra_specs: extraSpecs },
        signal,
      );
      if (r2.status !== 200) unexpected(`nova: extra specs of flavor ${flavor.name}`, r2);
    }
    return id;
  }

  /** Every flavor with its RAM (`GET /flavors/detail`; extra specs: {@link flavorExtraSpecs}). */
  async listFlavors(signal?: AbortSignal): Promise<{ id: string; name: string; ram: number }[]> {
    const res = await this.request('GET', '/flavors/detail', undefined, signal);
    if (res.status !== 200) unexpected('nova: flavors', res);
    return parseAt(
      z.object({ flavors: z.array(z.object({ id: z.string(), name: z.string(), ram: z.number().int() })) }),
      res.body,
      'nova.flavors',
    ).flavors;
  }

  /** Deletes a flavor (admin); a missing one is fine. */
  async deleteFlavor(id: string, signal?: AbortSignal): Promise<void> {
    const res = await this.request('DELETE', `/flavors/${encodeURIComponent(id)}`, undefined, signal);
    if (res.status !== 202 && res.status !== 404) unexpected(`nova: deleting flavor ${id}`, res);
  }

  /** Creates a server (202: it builds in the background); returns its id. */
  async createServer(server: NovaServerCreate, signal?: AbortSignal): Promise<string> {
    const res = await this.request('POST', '/servers', { server }, signal, server.host ? '2.74' : undefined);
    if (res.status !== 202) unexpected(`nova: creating server ${server.name}`, res);
    return parseAt(z.object({ server: z.object({ id: z.string() }) }), res.body, 'nova.server').server.id;
  }

  /** Deletes a server; a missing one is fine. */
  async deleteServer(id: string, signal?: AbortSignal): Promise<void> {
    const res = await this.request('DELETE', `/servers/${encodeURIComponent(id)}`, undefined, signal);
    if (res.status !== 204 && res.status !== 404) unexpected(`nova: deleting server ${id}`, res);
  }

  private async request(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    microversion = NOVA_MICROVERSION,
  ): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.session.token(signal);
      const base = this.options.endpoint ?? (await this.session.endpoint('compute', signal));
      const res = await httpJson({
        method,
        url: `${base.replace(/\/+$/, '')}${path}`,
        headers: {
          'x-auth-token': token.id,
          'openstack-api-version': `compute ${microversion}`,
          'x-openstack-nova-api-version': microversion,
        },
        body,
        timeoutMs: this.timeoutMs,
        signal,
      });
      // A revoked token or rotated keys: authenticate again, once.
      if (res.status === 401 && attempt === 0) {
        this.session.invalidate();
        continue;
      }
      return res;
    }
  }
}
