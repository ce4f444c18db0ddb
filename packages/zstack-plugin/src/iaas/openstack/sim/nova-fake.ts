/**
 * A fake nova (compute API v2.1) for the tests and `npm run example:openstack`: nova
 * cannot run here (it needs compute hosts), so this plays its API the way the compute API
 * reference documents it (docs.openstack.org/api-ref/compute: servers, server metadata,
 * flavors and extra specs, os-hypervisors, os-availability-zone; microversions up to
 * 2.93; admin-only fields and calls), authenticated by REAL Keystone tokens: every request's
 * `X-Auth-Token` is validated against Keystone (`GET /v3/auth/tokens`, as keystonemiddleware
 * does). A created server is scheduled to a compute host of its zone, becomes ACTIVE, and
 * nova-compute's versioned notifications (`instance.create.start/end`, ...) are published
 * on a REAL RabbitMQ in oslo.messaging's messagingv2 envelope. It runs no VMs.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import amqp from 'amqplib';
import type { KeystoneSession, KeystoneToken } from '../keystone.js';
import { validateToken } from '../keystone.js';

/** The newest microversion the fake speaks (nova Zed's maximum). */
export const FAKE_MAX_MICROVERSION = '2.93';

export interface FakeComputeHost {
  /** nova's compute host name (`OS-EXT-SRV-ATTR:host`). */
  name: string;
  /** Availability zone (default `nova`). */
  zone?: string;
}

export interface NovaFakeOptions {
  /** A Keystone session with the admin role: validates the callers' tokens. */
  keystone: KeystoneSession;
  hosts: FakeComputeHost[];
  /** The broker nova-compute publishes its versioned notifications to (none: no notifications). */
  amqpUrl?: string;
  /** oslo's control_exchange (default `nova`). */
  exchange?: string;
  /** How long a validated token is trusted without asking Keystone again (default 120 s, as keystonemiddleware caches). */
  tokenCacheMs?: number;
}

interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  extraSpecs: Record<string, string>;
}

interface FakeServer {
  id: string;
  name: string;
  status: 'BUILD' | 'ACTIVE' | 'SHUTOFF' | 'ERROR' | 'DELETED';
  projectId: string;
  userId: string;
  metadata: Record<string, string>;
  flavor: Flavor;
  imageRef: string;
  host: string | undefined;
  /** The host asked for at create (2.74); the scheduler honours it or fails the build. */
  requestedHost: string | undefined;
  zone: string;
  index: number;
  created: string;
  updated: string;
}

interface HostState {
  zone: string;
  up: boolean;
  enabled: boolean;
  forcedDown: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

const fault = (status: number, key: string, message: string) =>
  new HttpError(status, { [key]: { code: status, message } });
const badRequest = (message: string) => fault(400, 'badRequest', message);
const notFound = (message: string) => fault(404, 'itemNotFound', message);
const forbidden = (rule: string) => fault(403, 'forbidden', `Policy doesn't allow ${rule} to be performed.`);

/** Compute API metadata rules: keys 1-255 of `[a-zA-Z0-9-_:. ]`, string values up to 255. */
const META_KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/;

export class NovaFake {
  private http: Server | undefined;
  private conn: amqp.ChannelModel | undefined;
  private channel: amqp.Channel | undefined;
  private readonly servers = new Map<string, FakeServer>();
  private readonly flavors = new Map<string, Flavor>();
  private readonly hostStates = new Map<string, HostState>();
  private readonly tokens = new Map<string, { token: KeystoneToken; until: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextIndex = 1;
  /** `http://127.0.0.1:PORT/v2.1` once started. */
  url = '';
  /** Notifications published (event types in order), for tests that check what nova said. */
  readonly published: { eventType: string; serverId?: string }[] = [];

  constructor(private readonly options: NovaFakeOptions) {
    for (const h of options.hosts) {
      this.hostStates.set(h.name, { zone: h.zone ?? 'nova', up: true, enabled: true, forcedDown: false });
    }
  }

  async start(): Promise<this> {
    if (this.options.amqpUrl) {
      this.conn = await amqp.connect(this.options.amqpUrl, { timeout: 10_000 });
      this.conn.on('error', () => {});
      this.channel = await this.conn.createChannel();
      const ex = this.options.exchange ?? 'nova';
      // As oslo.messaging's rabbit driver does: a non-durable topic exchange, and the
      // notification queue declared and bound by the notifier so nothing is lost before a
      // consumer exists.
      await this.channel.assertExchange(ex, 'topic', { durable: false, autoDelete: false });
      await this.channel.assertQueue('versioned_notifications.info', { durable: false });
      await this.channel.bindQueue('versioned_notifications.info', ex, 'versioned_notifications.info');
    }
    const http = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.http = http;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = http.address() as { port: number };
    this.url = `http://127.0.0.1:${port}/v2.1`;
    return this;
  }

  /** Registers this fake as the `compute` service in Keystone's catalog (public/internal/admin). */
  async register(region: string): Promise<void> {
    const ks = this.options.keystone;
    const token = (await ks.token()).id;
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${ks.authUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': token },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      if (r.status !== 201) throw new Error(`keystone ${path}: HTTP ${r.status} ${await r.text()}`);
      return (await r.json()) as Record<string, { id: string }>;
    };
    const svc = await post('/services', { service: { type: 'compute', name: 'nova', enabled: true } });
    for (const iface of ['public', 'internal', 'admin']) {
      await post('/endpoints', {
        endpoint: {
          service_id: svc.service!.id,
          interface: iface,
          url: this.url,
          region_id: region,
          enabled: true,
        },
      });
    }
  }

  /** Test control: a compute host goes down/up or is disabled (os-hypervisors and zones show it). */
  setHost(name: string, state: Partial<Pick<HostState, 'up' | 'enabled' | 'forcedDown'>>): void {
    const h = this.hostStates.get(name);
    if (!h) throw new Error(`no compute host ${name}`);
    Object.assign(h, state);
  }

  /** Test control: `PUT /os-services/force-down` for a host: publishes service.update. */
  forceDown(name: string): void {
    const h = this.hostStates.get(name);
    if (!h) throw new Error(`no compute host ${name}`);
    h.forcedDown = true;
    h.up = false;
    this.publish(`nova-compute:${name}`, 'service.update', 'INFO', {
      'nova_object.name': 'ServiceStatusPayload',
      'nova_object.namespace': 'nova',
      'nova_object.version': '1.1',
      'nova_object.data': {
        host: name,
        binary: 'nova-compute',
        topic: 'compute',
        report_count: 1,
        disabled: !h.enabled,
        disabled_reason: null,
        availability_zone: null,
        last_seen_up: new Date().toISOString(),
        forced_down: true,
        version: 61,
        uuid: randomUUID(),
      },
    });
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const http = this.http;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    }
    await this.conn?.close().catch(() => {});
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let version = '2.1';
    try {
      version = microversion(req);
      const token = await this.authenticate(req);
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace(/^\/v2\.1/, '').replace(/\/+$/, '') || '/';
      const { status, json } = this.route(req.method ?? 'GET', path, url.searchParams, body, token, version);
      send(res, status, json, version);
    } catch (err) {
      if (err instanceof HttpError) send(res, err.status, err.body, version);
      else send(res, 500, { computeFault: { code: 500, message: (err as Error).message } }, version);
    }
  }

  /** keystonemiddleware's job: a valid token or 401; valid tokens cached for `tokenCacheMs`. */
  private async authenticate(req: IncomingMessage): Promise<KeystoneToken> {
    const id = req.headers['x-auth-token'];
    const unauth = new HttpError(401, {
      error: {
        code: 401,
        title: 'Unauthorized',
        message: 'The request you have made requires authentication.',
      },
    });
    if (typeof id !== 'string' || id.length === 0) throw unauth;
    const cached = this.tokens.get(id);
    if (cached && cached.until > Date.now()) return cached.token;
    const token = await validateToken(this.options.keystone, id);
    if (!token || token.expiresAt.getTime() <= Date.now()) throw unauth;
    this.tokens.set(id, {
      token,
      until: Math.min(token.expiresAt.getTime(), Date.now() + (this.options.tokenCacheMs ?? 120_000)),
    });
    return token;
  }

  private route(
    method: string,
    path: string,
    q: URLSearchParams,
    body: unknown,
    token: KeystoneToken,
    version: string,
  ): { status: number; json?: unknown } {
    const admin = token.roles.includes('admin');
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    const needAdmin = (rule: string) => {
      if (!admin) throw forbidden(rule);
    };
    if (seg[0] === 'servers') {
      if (seg.length === 1 && method === 'POST')
        return { status: 202, json: this.createServer(body, token, version) };
      if (seg.length === 1 && method === 'GET')
        return { status: 200, json: this.listServers(q, token, version, false) };
      if (seg[1] === 'detail' && seg.length === 2 && method === 'GET')
        return { status: 200, json: this.listServers(q, token, version, true) };
      const s = this.visibleServer(seg[1]!, token);
      if (seg.length === 2 && method === 'GET')
        return { status: 200, json: { server: this.view(s, admin, version) } };
      if (seg.length === 2 && method === 'DELETE') {
        this.deleteServer(s);
        return { status: 204 };
      }
      if (seg[2] === 'metadata') return this.metadata(method, s, seg[3], body);
    }
    if (seg[0] === 'flavors') {
      if (seg[1] === 'detail' && seg.length === 2 && method === 'GET')
        return { status: 200, json: { flavors: [...this.flavors.values()].map((f) => this.flavorView(f)) } };
      if (seg.length === 1 && method === 'POST') {
        needAdmin('os_compute_api:os-flavor-manage:create');
        return { status: 200, json: { flavor: this.flavorView(this.createFlavor(body)) } };
      }
      const f = this.flavors.get(seg[1] ?? '');
      if (!f) throw notFound(`Flavor ${seg[1]} could not be found.`);
      if (seg.length === 2 && method === 'GET') return { status: 200, json: { flavor: this.flavorView(f) } };
      if (seg.length === 2 && method === 'DELETE') {
        needAdmin('os_compute_api:os-flavor-manage:delete');
        this.flavors.delete(f.id);
        return { status: 202 };
      }
      if (seg[2] === 'os-extra_specs' && seg.length === 3) {
        if (method === 'GET') return { status: 200, json: { extra_specs: f.extraSpecs } };
        if (method === 'POST') {
          needAdmin('os_compute_api:os-flavor-extra-specs:create');
          const specs = field(body, 'extra_specs');
          f.extraSpecs = { ...f.extraSpecs, ...stringRecord(specs, 'extra_specs') };
          return { status: 200, json: { extra_specs: specs } };
        }
      }
    }
    if (seg[0] === 'os-hypervisors' && seg[1] === 'detail' && method === 'GET') {
      needAdmin('os_compute_api:os-hypervisors:list-detail');
      return { status: 200, json: { hypervisors: this.hypervisors(version) } };
    }
    if (seg[0] === 'os-availability-zone' && seg[1] === 'detail' && method === 'GET') {
      needAdmin('os_compute_api:os-availability-zone:detail');
      return { status: 200, json: { availabilityZoneInfo: this.zones() } };
    }
    throw notFound('The resource could not be found.');
  }

  private createFlavor(body: unknown): Flavor {
    const f = field(body, 'flavor') as Record<string, unknown>;
    const name = f.name;
    if (typeof name !== 'string' || name.length < 1 || name.length > 255)
      throw badRequest('Invalid input for field/attribute name.');
    for (const k of ['ram', 'vcpus', 'disk'] as const) {
      if (!Number.isInteger(f[k]) || (f[k] as number) < (k === 'disk' ? 0 : 1))
        throw badRequest(`Invalid input for field/attribute ${k}.`);
    }
    if ([...this.flavors.values()].some((x) => x.name === name))
      throw fault(409, 'conflictingRequest', `Flavor with name ${name} already exists.`);
    const id = typeof f.id === 'string' && f.id ? f.id : randomUUID();
    const flavor: Flavor = {
      id,
      name,
      ram: f.ram as number,
      vcpus: f.vcpus as number,
      disk: f.disk as number,
      extraSpecs: {},
    };
    this.flavors.set(id, flavor);
    return flavor;
  }

  private flavorView(f: Flavor) {
    return {
      id: f.id,
      name: f.name,
      ram: f.ram,
      vcpus: f.vcpus,
      disk: f.disk,
      'OS-FLV-EXT-DATA:ephemeral': 0,
      swap: 0,
      rxtx_factor: 1.0,
      'os-flavor-access:is_public': true,
      'OS-FLV-DISABLED:disabled': false,
      description: null,
      extra_specs: f.extraSpecs,
      links: [{ rel: 'self', href: `${this.url}/flavors/${f.id}` }],
    };
  }

  private createServer(body: unknown, token: KeystoneToken, version: string) {
    const s = field(body, 'server') as Record<string, unknown>;
    const name = s.name;
    if (typeof name !== 'string' || name.length < 1 || name.length > 255)
      throw badRequest('Invalid input for field/attribute name.');
    if (typeof s.imageRef !== 'string' || s.imageRef.length === 0)
      throw badRequest('Invalid input for field/attribute imageRef.');
    const flavor = this.flavors.get(String(s.flavorRef ?? ''));
    if (!flavor) throw badRequest(`Flavor ${String(s.flavorRef)} could not be found.`);
    if (atLeast(version, '2.37') && s.networks === undefined)
      throw badRequest(
        "Invalid input for field/attribute server. Value: ... 'networks' is a required property",
      );
    const metadata = s.metadata === undefined ? {} : metadataRecord(s.metadata, 'metadata');
    let requestedHost: string | undefined;
    if (s.host !== undefined) {
      if (!atLeast(version, '2.74'))
        throw badRequest("Additional properties are not allowed ('host' was unexpected)");
      if (!token.roles.includes('admin')) throw forbidden('compute:servers:create:requested_destination');
      if (typeof s.host !== 'string' || !this.hostStates.has(s.host))
        throw badRequest(`Compute host ${String(s.host)} could not be found.`);
      requestedHost = s.host;
    }
    const zone = typeof s.availability_zone === 'string' ? s.availability_zone : undefined;
    if (zone !== undefined && ![...this.hostStates.values()].some((h) => h.zone === zone))
      throw badRequest(`The requested availability zone is not available`);
    const now = new Date().toISOString();
    const server: FakeServer = {
      id: randomUUID(),
      name,
      status: 'BUILD',
      projectId: token.projectId ?? '',
      userId: token.userId,
      metadata,
      flavor: { ...flavor, extraSpecs: { ...flavor.extraSpecs } },
      imageRef: s.imageRef,
      host: undefined,
      zone: zone ?? (requestedHost ? this.hostStates.get(requestedHost)!.zone : 'nova'),
      requestedHost,
      index: this.nextIndex++,
      created: now,
      updated: now,
    };
    this.servers.set(server.id, server);
    // The conductor/scheduler/compute path, in short: placed, then built, then ACTIVE.
    this.later(() => this.build(server));
    return {
      server: {
        id: server.id,
        links: [{ rel: 'self', href: `${this.url}/servers/${server.id}` }],
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: [{ name: 'default' }],
        adminPass: randomUUID().slice(0, 12),
      },
    };
  }

  private build(server: FakeServer): void {
    if (server.status === 'DELETED') return;
    const candidates = [...this.hostStates.entries()].filter(
      ([name, h]) =>
        h.zone === server.zone &&
        h.up &&
        h.enabled &&
        (!server.requestedHost || name === server.requestedHost),
    );
    if (candidates.length === 0) {
      // nova: "No valid host was found"; the server goes to ERROR.
      server.status = 'ERROR';
      return;
    }
    const load = (host: string) => [...this.servers.values()].filter((x) => x.host === host).length;
    candidates.sort((a, b) => load(a[0]) - load(b[0]) || a[0].localeCompare(b[0]));
    server.host = candidates[0]![0];
    this.notifyInstance(server, 'instance.create.start');
    server.status = 'ACTIVE';
    server.updated = new Date().toISOString();
    this.notifyInstance(server, 'instance.create.end');
  }

  private deleteServer(s: FakeServer): void {
    this.notifyInstance(s, 'instance.delete.start');
    s.status = 'DELETED';
    this.servers.delete(s.id);
    this.notifyInstance(s, 'instance.delete.end');
  }

  private metadata(
    method: string,
    s: FakeServer,
    key: string | undefined,
    body: unknown,
  ): { status: number; json?: unknown } {
    if (key === undefined) {
      if (method === 'GET') return { status: 200, json: { metadata: s.metadata } };
      if (method === 'POST') {
        s.metadata = { ...s.metadata, ...metadataRecord(field(body, 'metadata'), 'metadata') };
        s.updated = new Date().toISOString();
        return { status: 200, json: { metadata: s.metadata } };
      }
      if (method === 'PUT') {
        s.metadata = metadataRecord(field(body, 'metadata'), 'metadata');
        s.updated = new Date().toISOString();
        return { status: 200, json: { metadata: s.metadata } };
      }
    } else {
      if (method === 'GET') {
        if (!(key in s.metadata)) throw notFound('Metadata item was not found');
        return { status: 200, json: { meta: { [key]: s.metadata[key] } } };
      }
      if (method === 'PUT') {
        const meta = metadataRecord(field(body, 'meta'), 'meta');
        const keys = Object.keys(meta);
        if (keys.length !== 1) throw badRequest('Request body contains too many items');
        if (keys[0] !== key) throw badRequest('Request body and URI mismatch');
        s.metadata = { ...s.metadata, ...meta };
        return { status: 200, json: { meta } };
      }
      if (method === 'DELETE') {
        if (!(key in s.metadata)) throw notFound('Metadata item was not found');
        const { [key]: _gone, ...rest } = s.metadata;
        s.metadata = rest;
        return { status: 204 };
      }
    }
    throw fault(405, 'badMethod', 'The method is not allowed for this resource.');
  }

  private visibleServer(id: string, token: KeystoneToken): FakeServer {
    const s = this.servers.get(id);
    if (!s || (!token.roles.includes('admin') && s.projectId !== token.projectId))
      throw notFound(`Instance ${id} could not be found.`);
    return s;
  }

  private listServers(q: URLSearchParams, token: KeystoneToken, version: string, detail: boolean) {
    const admin = token.roles.includes('admin');
    const all = ['1', 'true', 'True'].includes(q.get('all_tenants') ?? '') && admin;
    let list = [...this.servers.values()]
      .filter((s) => all || s.projectId === token.projectId)
      .sort((a, b) => b.created.localeCompare(a.created) || b.index - a.index);
    const marker = q.get('marker');
    if (marker) {
      const i = list.findIndex((s) => s.id === marker);
      if (i < 0) throw badRequest(`marker [${marker}] not found`);
      list = list.slice(i + 1);
    }
    const limit = q.has('limit') ? Number(q.get('limit')) : 1000;
    if (!Number.isInteger(limit) || limit < 0) throw badRequest('limit param must be an integer');
    const page = list.slice(0, limit);
    const servers = page.map((s) =>
      detail
        ? this.view(s, admin, version)
        : { id: s.id, name: s.name, links: [{ rel: 'self', href: `${this.url}/servers/${s.id}` }] },
    );
    const out: Record<string, unknown> = { servers };
    if (list.length > limit && page.length > 0) {
      const next = new URLSearchParams(q);
      next.set('marker', page.at(-1)!.id);
      out.servers_links = [{ rel: 'next', href: `${this.url}/servers${detail ? '/detail' : ''}?${next}` }];
    }
    return out;
  }

  /** A server as `GET /servers/{id}` shows it at this microversion, to an admin or not. */
  private view(s: FakeServer, admin: boolean, version: string) {
    const flavor = atLeast(version, '2.47')
      ? {
          vcpus: s.flavor.vcpus,
          ram: s.flavor.ram,
          disk: s.flavor.disk,
          ephemeral: 0,
          swap: 0,
          original_name: s.flavor.name,
          ...(admin ? { extra_specs: s.flavor.extraSpecs } : {}),
        }
      : { id: s.flavor.id, links: [{ rel: 'bookmark', href: `${this.url}/flavors/${s.flavor.id}` }] };
    const vmState = {
      ACTIVE: 'active',
      BUILD: 'building',
      SHUTOFF: 'stopped',
      ERROR: 'error',
      DELETED: 'deleted',
    }[s.status];
    const v: Record<string, unknown> = {
      id: s.id,
      name: s.name,
      status: s.status,
      tenant_id: s.projectId,
      user_id: s.userId,
      metadata: s.metadata,
      hostId: s.host ? hash(s.projectId + s.host) : '',
      image: { id: s.imageRef, links: [] },
      flavor,
      created: s.created,
      updated: s.updated,
      addresses: {},
      accessIPv4: '',
      accessIPv6: '',
      links: [{ rel: 'self', href: `${this.url}/servers/${s.id}` }],
      'OS-DCF:diskConfig': 'MANUAL',
      progress: 0,
      'OS-EXT-AZ:availability_zone': s.host ? s.zone : '',
      config_drive: '',
      key_name: null,
      'OS-SRV-USG:launched_at': s.status === 'ACTIVE' ? s.updated : null,
      'OS-SRV-USG:terminated_at': null,
      'OS-EXT-STS:task_state': s.status === 'BUILD' ? 'scheduling' : null,
      'OS-EXT-STS:vm_state': vmState,
      'OS-EXT-STS:power_state': s.status === 'ACTIVE' ? 1 : 0,
      'os-extended-volumes:volumes_attached': [],
      security_groups: [{ name: 'default' }],
      locked: false,
      description: null,
      tags: [],
    };
    if (admin) {
      v['OS-EXT-SRV-ATTR:host'] = s.host ?? null;
      v['OS-EXT-SRV-ATTR:hypervisor_hostname'] = s.host ?? null;
      v['OS-EXT-SRV-ATTR:instance_name'] = `instance-${s.index.toString(16).padStart(8, '0')}`;
    }
    return v;
  }

  private hypervisors(version: string) {
    return [...this.hostStates.entries()].map(([name, h], i) => ({
      id: atLeast(version, '2.53') ? hash(`hv-${name}`) : i + 1,
      hypervisor_hostname: name,
      hypervisor_type: 'fake',
      state: h.up ? 'up' : 'down',
      status: h.enabled ? 'enabled' : 'disabled',
      host_ip: '127.0.0.1',
      service: {
        host: name,
        id: atLeast(version, '2.53') ? hash(`svc-${name}`) : i + 1,
        disabled_reason: null,
      },
    }));
  }

  private zones() {
    const byZone = new Map<
      string,
      Record<string, Record<string, { available: boolean; active: boolean; updated_at: string }>>
    >();
    for (const [name, h] of this.hostStates) {
      const hosts = byZone.get(h.zone) ?? {};
      hosts[name] = {
        'nova-compute': {
          available: h.up && !h.forcedDown,
          active: h.enabled,
          updated_at: new Date().toISOString(),
        },
      };
      byZone.set(h.zone, hosts);
    }
    return [...byZone.entries()].map(([zoneName, hosts]) => ({
      zoneName,
      zoneState: { available: Object.values(hosts).some((s) => s['nova-compute']!.available) },
      hosts,
    }));
  }

  /** nova-compute's versioned notification for a server (InstanceCreatePayload/InstanceActionPayload). */
  private notifyInstance(s: FakeServer, eventType: string): void {
    const create = eventType.startsWith('instance.create');
    const data: Record<string, unknown> = {
      uuid: s.id,
      display_name: s.name,
      display_description: '',
      host: s.host ?? null,
      host_name: s.name,
      node: s.host ?? null,
      reservation_id: `r-${s.id.slice(0, 8)}`,
      tenant_id: s.projectId,
      user_id: s.userId,
      image_uuid: s.imageRef,
      availability_zone: s.zone,
      state: s.status === 'ACTIVE' ? 'active' : s.status === 'DELETED' ? 'deleted' : 'building',
      power_state: s.status === 'ACTIVE' ? 'running' : 'pending',
      task_state: null,
      progress: 0,
      metadata: s.metadata,
      flavor: {
        'nova_object.name': 'FlavorPayload',
        'nova_object.namespace': 'nova',
        'nova_object.version': '1.4',
        'nova_object.data': {
          flavorid: s.flavor.id,
          name: s.flavor.name,
          memory_mb: s.flavor.ram,
          vcpus: s.flavor.vcpus,
          root_gb: s.flavor.disk,
          ephemeral_gb: 0,
          swap: 0,
          rxtx_factor: 1.0,
          vcpu_weight: 0,
          is_public: true,
          disabled: false,
          projects: null,
          description: null,
          extra_specs: s.flavor.extraSpecs,
        },
      },
      created_at: s.created,
      launched_at: s.status === 'ACTIVE' ? s.updated : null,
      terminated_at: null,
      deleted_at: null,
      updated_at: s.updated,
      ip_addresses: [],
      key_name: null,
      locked: false,
      auto_disk_config: 'MANUAL',
      action_initiator_user: s.userId,
      action_initiator_project: s.projectId,
      ...(create
        ? {
            tags: [],
            trusted_image_certificates: null,
            instance_name: `instance-${s.index.toString(16).padStart(8, '0')}`,
            keypairs: [],
            block_devices: [],
          }
        : {}),
    };
    this.publish(`nova-compute:${s.host ?? 'scheduler'}`, eventType, 'INFO', {
      'nova_object.name': create ? 'InstanceCreatePayload' : 'InstanceActionPayload',
      'nova_object.namespace': 'nova',
      'nova_object.version': create ? '1.12' : '1.8',
      'nova_object.data': data,
    });
    this.published.push({ eventType, serverId: s.id });
  }

  private publish(
    publisherId: string,
    eventType: string,
    priority: 'INFO' | 'ERROR',
    payload: unknown,
  ): void {
    if (eventType === 'service.update') this.published.push({ eventType });
    const ch = this.channel;
    if (!ch) return;
    const message = {
      message_id: randomUUID(),
      publisher_id: publisherId,
      event_type: eventType,
      priority,
      payload,
      timestamp: new Date().toISOString().replace('T', ' ').replace('Z', ''),
    };
    const wire = { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(message) };
    ch.publish(
      this.options.exchange ?? 'nova',
      `versioned_notifications.${priority.toLowerCase()}`,
      Buffer.from(JSON.stringify(wire)),
      {
        contentType: 'application/json',
        contentEncoding: 'utf-8',
      },
    );
  }

  private later(fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, 20);
    this.timers.add(t);
  }
}

function microversion(req: IncomingMessage): string {
  const h = req.headers['openstack-api-version'];
  const legacy = req.headers['x-openstack-nova-api-version'];
  let v = '2.1';
  if (typeof h === 'string') {
    const m = /compute\s+(\S+)/i.exec(h);
    if (m) v = m[1]!;
  } else if (typeof legacy === 'string') v = legacy.trim();
  if (v === 'latest') return FAKE_MAX_MICROVERSION;
  if (!/^2\.\d+$/.test(v) || !atLeast(v, '2.1'))
    throw fault(400, 'badRequest', `API Version String ${v} is of invalid format.`);
  if (!atLeast(FAKE_MAX_MICROVERSION, v))
    throw fault(
      406,
      'computeFault',
      `Version ${v} is not supported by the API. Minimum is 2.1 and maximum is ${FAKE_MAX_MICROVERSION}.`,
    );
  return v;
}

function atLeast(v: string, min: string): boolean {
  const [a, b] = v.split('.').map(Number);
  const [c, d] = min.split('.').map(Number);
  return a! > c! || (a === c && b! >= d!);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 1 << 20) throw fault(413, 'overLimit', 'Request is too large.');
    chunks.push(c as Buffer);
  }
  if (chunks.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badRequest('Malformed request body');
  }
}

function send(res: ServerResponse, status: number, json: unknown, version: string): void {
  const text = json === undefined ? '' : JSON.stringify(json);
  res.writeHead(status, {
    ...(text ? { 'content-type': 'application/json' } : {}),
    'openstack-api-version': `compute ${version}`,
    'x-openstack-nova-api-version': version,
    vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
    'x-compute-request-id': `req-${randomUUID()}`,
  });
  res.end(text);
}

function field(body: unknown, name: string): unknown {
  if (!body || typeof body !== 'object' || !(name in body))
    throw badRequest(`Invalid input: '${name}' is a required property`);
  return (body as Record<string, unknown>)[name];
}

function stringRecord(v: unknown, where: string): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw badRequest(`Invalid input for field/attribute ${where}.`);
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string' || x.length > 255)
      throw badRequest(`Invalid input for field/attribute ${where}. Value: ${k}`);
  }
  return v as Record<string, string>;
}

function metadataRecord(v: unknown, where: string): Record<string, string> {
  const r = stringRecord(v, where);
  for (const k of Object.keys(r))
    if (!META_KEY.test(k)) throw badRequest(`Invalid input for field/attribute ${where}. Value: ${k}`);
  if (Object.keys(r).length > 128) throw fault(403, 'forbidden', 'Quota exceeded for metadata_items');
  return r;
}

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(7);
}
