/**
 * ZStackFake: an in-process stand-in for a ZStack management node's REST API, for tests
 * and the example (a real management node cannot run here: it needs Maven Central,
 * MariaDB and the CentOS installer). It serves the paths the adapter uses with the shapes
 * of `org.zstack.rest.RestServer` and the API classes' docs:
 *
 * - `PUT /zstack/v1/accounts/login` `{logInByAccount:{accountName,password}}` where the
 *   password is the SHA-512 hex digest; `{inventory: SessionInventory}`; a wrong one: 503
 *   `{error:{code:"ID.1000"}}`. `DELETE /zstack/v1/accounts/sessions/{uuid}` logs out.
 * - every other call needs `Authorization: OAuth <session>` (400 text without it, 503
 *   `ID.1001` for an unknown session, as ZStack's identity check answers);
 * - queries (`GET /v1/vm-instances[/{uuid}]`, `/v1/hosts[/{uuid}]`, `/v1/user-tags`,
 *   `/v1/web-hooks`) are sync: 200 `{inventories:[...]}`, with `q=` conditions in
 *   RestServer's operators (`!=`, `>=`, `<=`, `!?=`, `!~=`, `~=`, `?=`, `=`, `>`, `<`,
 *   `is null`, `not null`) and the `__userTag__` pseudo-field, `limit`, `start`,
 *   `replyWithCount` (adds `total`);
 * - creates, actions and deletes (`POST /v1/vm-instances`, `POST /v1/user-tags`,
 *   `DELETE /v1/tags/{uuid}`, `POST /v1/web-hooks`, `DELETE /v1/web-hooks/{uuid}`) answer
 *   202 `{location: ".../v1/api-jobs/<uuid>"}`; the job answers 202 (empty body) to its first
 *   `jobPolls` GETs, then 200 with the result (`{inventory}`, or an empty body when the
 *   event has no fields) or 503 `{error}`;
 * - canonical events (`/vm/state/change`, `/host/status/change`) are POSTed to the
 *   registered `CanonicalEvent` webhooks whose `opaque` path glob matches, as
 *   `{path, content, managementNodeId}` with `Content-Type: application/json; charset=utf-8`,
 *   retried on failure (ZStack tries 15 times).
 *
 * The fake runs no VMs: the FT pair runs on the service's driver (cuju-sim in tests).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  ZStackErrorCode,
  ZStackHost,
  ZStackTag,
  ZStackVm,
  ZStackVmState,
  ZStackWebhook,
} from '../shapes.js';

/** ZStackFake's options. */
export interface ZStackFakeOptions {
  accountName?: string;
  password?: string;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  port?: number;
  /** How many polls of a job answer 202 before its result (default 1). */
  jobPolls?: number;
}

/** One request the fake served (for tests: what the adapter sent). */
export interface ZStackFakeRequest {
  method: string;
  path: string;
  query: string;
  authorization: string | undefined;
  body: unknown;
  status: number;
}

/** A failure to inject: the next matching call answers this error (once per entry). */
export interface ZStackFakeFault {
  method: string;
  /** Matched against the path without `/zstack` and the query (`/v1/user-tags`). */
  path: string | RegExp;
  error?: ZStackErrorCode;
}

interface Job {
  polls: number;
  status: number;
  body: Record<string, unknown> | undefined;
}

const uuid = () => randomUUID().replaceAll('-', '');
const now = () =>
  new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');

const OPS = ['!=', '>=', '<=', '!?=', '!~=', '~=', '?=', '=', '>', '<', ' is null', ' not null'] as const;

export class ZStackFake {
  /** The management node's API root (`http://127.0.0.1:PORT/zstack`). */
  url = '';
  readonly managementNodeId = uuid();
  readonly vms = new Map<string, ZStackVm>();
  readonly hosts = new Map<string, ZStackHost>();
  readonly tags = new Map<string, ZStackTag>();
  readonly webhooks = new Map<string, ZStackWebhook>();
  readonly sessions = new Set<string>();
  readonly requests: ZStackFakeRequest[] = [];
  readonly faults: ZStackFakeFault[] = [];
  private readonly jobs = new Map<string, Job>();
  private readonly deliveries = new Set<Promise<void>>();
  private readonly zoneUuid = uuid();
  private server: Server | undefined;
  private readonly accountName: string;
  private readonly digest: string;
  private readonly jobPolls: number;
  private stopping = new AbortController();

  private constructor(options: ZStackFakeOptions) {
    this.accountName = options.accountName ?? 'admin';
    this.digest = createHash('sha512')
      .update(options.password ?? 'password')
      .digest('hex');
    this.jobPolls = options.jobPolls ?? 1;
  }

  /** Starts the fake on loopback. */
  static async start(options: ZStackFakeOptions = {}): Promise<ZStackFake> {
    const fake = new ZStackFake(options);
    const host = options.host ?? '127.0.0.1';
    const server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    fake.server = server;
    fake.url = `http://${host}:${(server.address() as AddressInfo).port}/zstack`;
    return fake;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.deliveries]);
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  // ---- the world (what an operator would have set up) ---------------------------------

  /** A cluster: its uuid (ZStack has more to a cluster; the adapter reads only the uuid). */
  addCluster(): string {
    return uuid();
  }

  addHost(h: { name: string; managementIp: string; clusterUuid: string; memoryMiB?: number }): ZStackHost {
    const inv: ZStackHost = {
      uuid: uuid(),
      name: h.name,
      zoneUuid: this.zoneUuid,
      clusterUuid: h.clusterUuid,
      managementIp: h.managementIp,
      hypervisorType: 'KVM',
      state: 'Enabled',
      status: 'Connected',
      totalMemoryCapacity: (h.memoryMiB ?? 8192) * 1024 * 1024,
      availableMemoryCapacity: (h.memoryMiB ?? 8192) * 1024 * 1024,
    };
    this.hosts.set(inv.uuid, inv);
    return inv;
  }

  /** A VM as if created and started by ZStack (state Running), with these user tags. */
  addVm(v: { name: string; hostUuid: string; memoryMiB: number; userTags?: string[] }): ZStackVm {
    const vm = this.makeVm(v.name, v.hostUuid, v.memoryMiB, 'Running');
    for (const t of v.userTags ?? []) this.addTag(vm.uuid, t);
    this.fire('/vm/state/change', {
      vmUuid: vm.uuid,
      oldState: 'Created',
      newState: 'Running',
      inventory: vm,
    });
    return vm;
  }

  /** Changes a VM's state and fires `/vm/state/change`. */
  setVmState(vmUuid: string, state: ZStackVmState): void {
    const vm = this.mustVm(vmUuid);
    const old = vm.state;
    vm.state = state;
    if (state === 'Stopped') {
      vm.lastHostUuid = vm.hostUuid;
      delete vm.hostUuid;
    }
    vm.lastOpDate = now();
    this.fire('/vm/state/change', { vmUuid, oldState: old, newState: state, inventory: vm });
  }

  /** Changes a host's connection status and fires `/host/status/change`. */
  setHostStatus(hostUuid: string, status: 'Connecting' | 'Connected' | 'Disconnected'): void {
    const host = this.hosts.get(hostUuid);
    if (!host) throw new Error(`the fake has no host ${hostUuid}`);
    const old = host.status;
    host.status = status;
    this.fire('/host/status/change', { hostUuid, oldStatus: old, newStatus: status, inventory: { ...host } });
  }

  /** DestroyVmInstance then expunge: the VM and its tags are gone. */
  expungeVm(vmUuid: string): void {
    this.setVmState(vmUuid, 'Destroyed');
    this.vms.delete(vmUuid);
    for (const [k, t] of this.tags) if (t.resourceUuid === vmUuid) this.tags.delete(k);
  }

  /** A user tag, as CreateUserTag would add it. */
  addTag(resourceUuid: string, tag: string): ZStackTag {
    const t: ZStackTag = {
      uuid: uuid(),
      resourceUuid,
      resourceType: 'VmInstanceVO',
      tag,
      type: 'User',
      createDate: now(),
      lastOpDate: now(),
    };
    this.tags.set(t.uuid, t);
    return t;
  }

  /** Removes the user tags of a resource that equal `tag`. */
  removeTag(resourceUuid: string, tag: string): void {
    for (const [k, t] of this.tags) if (t.resourceUuid === resourceUuid && t.tag === tag) this.tags.delete(k);
  }

  /** The user tags of a resource. */
  tagsOf(resourceUuid: string): string[] {
    return [...this.tags.values()].filter((t) => t.resourceUuid === resourceUuid).map((t) => t.tag);
  }

  /** Waits until every webhook delivery under way has been tried. */
  async settled(): Promise<void> {
    while (this.deliveries.size > 0) await Promise.allSettled([...this.deliveries]);
  }

  // ---- HTTP ---------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    let raw = '';
    for await (const c of req) raw += c;
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return this.reply(req, res, url, undefined, 400, 'the body is not JSON');
    }
    const path = url.pathname.replace(/^\/zstack/, '');
    const send = (status: number, payload?: unknown) => this.reply(req, res, url, body, status, payload);
    if (!url.pathname.startsWith('/zstack/v1/')) return send(404, `no api mapping to ${url.pathname}`);

    const jobMatch = /^\/v1\/api-jobs\/([^/]+)$/.exec(path);
    if (jobMatch) {
      if (req.method !== 'GET') return send(405, 'only GET method is allowed for querying job status');
      const job = this.jobs.get(jobMatch[1]!);
      if (!job) return send(404, 'the job has been expired');
      if (job.polls > 0) {
        job.polls--;
        return send(202);
      }
      return send(job.status, job.body);
    }

    if (req.method === 'PUT' && path === '/v1/accounts/login') return send(...this.login(body));

    const auth = req.headers.authorization?.trim();
    if (!auth) return send(400, "missing header 'Authorization'");
    if (!auth.startsWith('OAuth')) return send(400, "Authorization type must be 'OAuth'");
    const session = auth.replace(/^OAuth/, '').trim();
    if (!this.sessions.has(session)) {
      return send(503, {
        error: { code: 'ID.1001', description: 'Invalid session', details: `Session expired or invalid` },
      });
    }
    const fault = this.faults.findIndex(
      (f) =>
        f.method === req.method &&
        (typeof f.path === 'string' ? f.path === path : f.path.test(path + url.search)),
    );
    if (fault !== -1) {
      const [f] = this.faults.splice(fault, 1);
      return send(503, {
        error: f!.error ?? { code: 'SYS.1000', description: 'An internal error happened in system' },
      });
    }

    if (req.method === 'DELETE' && /^\/v1\/accounts\/sessions\/[^/]+$/.test(path)) {
      this.sessions.delete(decodeURIComponent(path.split('/').pop()!));
      return send(200, {});
    }
    if (req.method === 'GET') return send(...this.query(path, url.searchParams));
    if (req.method === 'POST' && path === '/v1/vm-instances')
      return send(...this.job(() => this.createVm(body)));
    if (req.method === 'POST' && path === '/v1/user-tags')
      return send(...this.job(() => this.createTag(body)));
    if (req.method === 'DELETE' && /^\/v1\/tags\/[^/]+$/.test(path)) {
      const id = decodeURIComponent(path.split('/').pop()!);
      return send(
        ...this.job(() => {
          this.tags.delete(id);
          return [200, undefined];
        }),
      );
    }
    if (req.method === 'POST' && path === '/v1/web-hooks')
      return send(...this.job(() => this.createWebhook(body)));
    if (req.method === 'DELETE' && /^\/v1\/web-hooks\/[^/]+$/.test(path)) {
      const id = decodeURIComponent(path.split('/').pop()!);
      return send(
        ...this.job(() => {
          this.webhooks.delete(id);
          return [200, undefined];
        }),
      );
    }
    return send(404, `no api mapping to ${url.pathname}`);
  }

  private reply(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: unknown,
    status: number,
    payload?: unknown,
  ): void {
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname.replace(/^\/zstack/, ''),
      query: url.search,
      authorization: req.headers.authorization,
      body,
      status,
    });
    if (payload === undefined) {
      res.writeHead(status).end();
      return;
    }
    if (typeof payload === 'string') {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(payload);
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(payload));
  }

  private login(body: unknown): [number, unknown] {
    const m = (body as { logInByAccount?: { accountName?: unknown; password?: unknown } } | undefined)
      ?.logInByAccount;
    if (!m) return [400, "the body doesn't contain action mapping to the URL[/v1/accounts/login]"];
    if (m.accountName !== this.accountName || m.password !== this.digest) {
      return [
        503,
        {
          error: {
            code: 'ID.1000',
            description: 'Authentication error',
            details: 'wrong account name or password',
          },
        },
      ];
    }
    const session = uuid();
    this.sessions.add(session);
    const created = new Date();
    return [
      200,
      {
        inventory: {
          uuid: session,
          accountUuid: '36c27e8ff05c4780bf6d2fa65700f22e',
          userUuid: '36c27e8ff05c4780bf6d2fa65700f22e',
          expiredDate: new Date(created.getTime() + 2 * 3600_000).toISOString(),
          createDate: created.toISOString(),
        },
      },
    ];
  }

  /** An async API: 202 + location now, the result after `jobPolls` polls. */
  private job(run: () => [number, Record<string, unknown> | undefined]): [number, unknown] {
    const id = uuid();
    let result: [number, Record<string, unknown> | undefined];
    try {
      result = run();
    } catch (err) {
      result = [503, { error: (err as { zstack?: ZStackErrorCode }).zstack ?? sysError(String(err)) }];
    }
    this.jobs.set(id, { polls: this.jobPolls, status: result[0], body: result[1] });
    return [202, { location: `${this.url}/v1/api-jobs/${id}` }];
  }

  private query(path: string, params: URLSearchParams): [number, unknown] {
    const m = /^\/v1\/(vm-instances|hosts|user-tags|web-hooks)(?:\/([^/]+))?$/.exec(path);
    if (!m) return [404, `no api mapping to /zstack${path}`];
    const rows: Record<string, unknown>[] =
      m[1] === 'vm-instances'
        ? [...this.vms.values()].map((v) => ({ ...v }))
        : m[1] === 'hosts'
          ? [...this.hosts.values()].map((h) => ({ ...h }))
          : m[1] === 'user-tags'
            ? [...this.tags.values()].map((t) => ({ ...t }))
            : [...this.webhooks.values()].map((w) => ({ ...w }));
    const conds: string[] = m[2] ? [`uuid=${decodeURIComponent(m[2])}`] : params.getAll('q');
    let out = rows;
    for (const c of conds) {
      const parsed = parseCondition(c);
      if (!parsed) {
        return [
          400,
          `Invalid query parameter. The '${c}' in the parameter[q] doesn't contain any query operator. Valid query operators are [${OPS.map((o) => o.trim()).join(', ')}]`,
        ];
      }
      const [name, op, value] = parsed;
      if (name === '__userTag__') {
        out = out.filter((r) => matchesAny(this.tagsOf(String(r.uuid)), op, value));
        continue;
      }
      if (!(name in (rows[0] ?? {})) && !KNOWN_FIELDS.has(name)) {
        return [503, { error: sysError(`the field[${name}] is not a queryable field`, 'SYS.1007') }];
      }
      out = out.filter((r) => matches(r[name], op, value));
    }
    const total = out.length;
    const start = Number(params.get('start') ?? 0);
    const limit = Number(params.get('limit') ?? 1000);
    const page = out.slice(start, start + limit);
    return [200, { inventories: page, ...(params.get('replyWithCount') === 'true' ? { total } : {}) }];
  }

  private createVm(body: unknown): [number, Record<string, unknown>] {
    const b = body as {
      params?: {
        name?: string;
        memorySize?: number;
        instanceOfferingUuid?: string;
        imageUuid?: string;
        l3NetworkUuids?: string[];
        hostUuid?: string;
        clusterUuid?: string;
      };
      userTags?: string[];
    };
    const p = b?.params;
    if (!p?.name || !p.imageUuid || !Array.isArray(p.l3NetworkUuids) || p.l3NetworkUuids.length === 0) {
      throw { zstack: sysError('name, imageUuid and l3NetworkUuids are mandatory', 'SYS.1007') };
    }
    if (!p.instanceOfferingUuid && typeof p.memorySize !== 'number') {
      throw { zstack: sysError('instanceOfferingUuid or cpuNum and memorySize are mandatory', 'SYS.1007') };
    }
    const host = p.hostUuid
      ? this.hosts.get(p.hostUuid)
      : [...this.hosts.values()].find(
          (h) =>
            h.state === 'Enabled' &&
            h.status === 'Connected' &&
            (!p.clusterUuid || h.clusterUuid === p.clusterUuid),
        );
    if (!host) throw { zstack: { code: 'HOST_ALLOCATION.1001', description: 'no available host found' } };
    const vm = this.makeVm(
      p.name,
      host.uuid,
      Math.round((p.memorySize ?? 256 * 1024 * 1024) / 1048576),
      'Created',
    );
    for (const t of b.userTags ?? []) this.addTag(vm.uuid, t);
    this.setVmState(vm.uuid, 'Starting');
    this.setVmState(vm.uuid, 'Running');
    return [200, { inventory: { ...vm } }];
  }

  private createTag(body: unknown): [number, Record<string, unknown>] {
    const p = (body as { params?: { resourceType?: string; resourceUuid?: string; tag?: string } })?.params;
    if (!p?.resourceType || !p.resourceUuid || !p.tag)
      throw { zstack: sysError('resourceType, resourceUuid and tag are mandatory', 'SYS.1007') };
    if (p.resourceType === 'VmInstanceVO' && !this.vms.has(p.resourceUuid))
      throw { zstack: sysError(`no VmInstanceVO[uuid:${p.resourceUuid}]`, 'SYS.1006') };
    const t = this.addTag(p.resourceUuid, p.tag);
    t.resourceType = p.resourceType;
    return [200, { inventory: { ...t } }];
  }

  private createWebhook(body: unknown): [number, Record<string, unknown>] {
    const p = (body as { params?: { name?: string; url?: string; type?: string; opaque?: string } })?.params;
    if (!p?.name || !p.url || !p.type)
      throw { zstack: sysError('name, url and type are mandatory', 'SYS.1007') };
    const w: ZStackWebhook = {
      uuid: uuid(),
      name: p.name,
      url: p.url,
      type: p.type,
      ...(p.opaque !== undefined ? { opaque: p.opaque } : {}),
      createDate: now(),
      lastOpDate: now(),
    };
    this.webhooks.set(w.uuid, w);
    return [200, { inventory: { ...w } }];
  }

  private makeVm(name: string, hostUuid: string, memoryMiB: number, state: ZStackVmState): ZStackVm {
    const host = this.hosts.get(hostUuid);
    if (!host) throw new Error(`the fake has no host ${hostUuid}`);
    const vm: ZStackVm = {
      uuid: uuid(),
      name,
      zoneUuid: this.zoneUuid,
      clusterUuid: host.clusterUuid,
      imageUuid: uuid(),
      hostUuid,
      lastHostUuid: hostUuid,
      type: 'UserVm',
      hypervisorType: 'KVM',
      memorySize: memoryMiB * 1024 * 1024,
      cpuNum: 1,
      state,
      createDate: now(),
      lastOpDate: now(),
    };
    this.vms.set(vm.uuid, vm);
    return vm;
  }

  private mustVm(vmUuid: string): ZStackVm {
    const vm = this.vms.get(vmUuid);
    if (!vm) throw new Error(`the fake has no VM ${vmUuid}`);
    return vm;
  }

  /** Fires a canonical event at every matching webhook (in the background, with retries). */
  fire(path: string, content: Record<string, unknown>): void {
    const body = JSON.stringify({ path, content, managementNodeId: this.managementNodeId });
    for (const w of this.webhooks.values()) {
      if (w.type !== 'CanonicalEvent' || !globMatches(w.opaque ?? '', path)) continue;
      const p = this.deliver(w.url, body).finally(() => this.deliveries.delete(p));
      this.deliveries.add(p);
    }
  }

  private async deliver(url: string, body: string): Promise<void> {
    for (let attempt = 0; attempt < 15 && !this.stopping.signal.aborted; attempt++) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body,
          signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(5000)]),
        });
        await res.arrayBuffer();
        if (res.status >= 200 && res.status < 300) return;
      } catch {
        // Retried below, as ZStack's WebhookCaller does.
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Fields of the inventories that may be queried even when no row has them. */
const KNOWN_FIELDS = new Set([
  'uuid',
  'name',
  'state',
  'status',
  'hostUuid',
  'lastHostUuid',
  'clusterUuid',
  'zoneUuid',
  'resourceUuid',
  'resourceType',
  'tag',
  'type',
  'url',
  'opaque',
  'managementIp',
]);

function sysError(details: string, code = 'SYS.1000'): ZStackErrorCode {
  return {
    code,
    description:
      code === 'SYS.1007' ? 'One or more API argument is invalid' : 'An internal error happened in system',
    details,
  };
}

function parseCondition(c: string): [string, string, string] | undefined {
  for (const op of OPS) {
    const i = c.indexOf(op);
    if (i === -1) continue;
    const name = c.slice(0, i).trim();
    const value = c.slice(i + op.length);
    return [name, op.trim(), value];
  }
  return undefined;
}

function matches(v: unknown, op: string, value: string): boolean {
  const s = v === undefined || v === null ? undefined : String(v);
  switch (op) {
    case '=':
      return s === value;
    case '!=':
      return s !== value;
    case '?=':
      return s !== undefined && value.split(',').includes(s);
    case '!?=':
      return s === undefined || !value.split(',').includes(s);
    case '~=':
      return s !== undefined && like(value).test(s);
    case '!~=':
      return s === undefined || !like(value).test(s);
    case '>':
      return Number(s) > Number(value);
    case '<':
      return Number(s) < Number(value);
    case '>=':
      return Number(s) >= Number(value);
    case '<=':
      return Number(s) <= Number(value);
    case 'is null':
      return s === undefined;
    case 'not null':
      return s !== undefined;
    default:
      return false;
  }
}

/** `__userTag__`: a resource matches when one of its tags does (`!=`: when none equals). */
function matchesAny(tags: string[], op: string, value: string): boolean {
  if (op === '!=') return !tags.includes(value);
  if (op === 'is null') return tags.length === 0;
  if (op === 'not null') return tags.length > 0;
  return tags.some((t) => matches(t, op, value));
}

/** SQL LIKE: `%` any run, `_` one character. */
function like(pattern: string): RegExp {
  const re = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replaceAll('%', '.*')
    .replaceAll('_', '.');
  return new RegExp(`^${re}$`, 's');
}

/** A webhook's opaque path glob: `{x}` placeholders match anything, as ZStack's EventFacade does. */
function globMatches(glob: string, path: string): boolean {
  const re = glob.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]*\}/g, '.*');
  return new RegExp(`^${re}$`).test(path);
}
