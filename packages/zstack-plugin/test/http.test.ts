/**
 * The REST API end to end over HTTP, every response validated against the OpenAPI
 * document. The FT back end is the DETERMINISTIC FAKE driver (test/helpers/fake-fleet.ts):
 * this file is about the API; the real FtPair on cuju-sim is driven in ftpair.test.ts.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FtEvent,
  FtService,
  FtServiceError,
  type FtStatus,
  FtStore,
  type HostInput,
  type VmView,
} from '../src/index.js';
import { ApiClient, readEvents } from './helpers/api-client.js';
import { FakeFleet } from './helpers/fake-fleet.js';
import { eventually, tempDir } from './helpers/tmp.js';

const TOKEN = 'test-token-0123456789abcdef';
const HOSTS: HostInput[] = [
  { name: 'h1', address: '127.0.0.2', capacity: { vms: 8, memoryMiB: 8192 } },
  { name: 'h2', address: '127.0.0.3', capacity: { vms: 8, memoryMiB: 8192 } },
];

let t: ReturnType<typeof tempDir>;
let fleet: FakeFleet;
let service: FtService;
let api: ApiClient;
const logLines: string[] = [];

beforeAll(async () => {
  t = tempDir();
  fleet = new FakeFleet({ path: join(t.dir, 'fleet.db'), delayMs: 20 });
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  service = await FtService.start({
    store: { kind: 'sqlite', path: join(t.dir, 'fts.db') },
    driver: fleet,
    hosts: HOSTS,
    token: TOKEN,
    reconciler: { intervalMs: 50 },
    logger: pino({ level: 'debug' }, sink),
    consoleDir: false,
  });
  api = new ApiClient(service.url, TOKEN);
  await service.whenLeader();
});

afterAll(async () => {
  await service?.stop();
  t?.cleanup();
});

const view = (id: string) => api.call<VmView>('GET', `/api/v1/vms/${id}`);
const waitState = (id: string, state: FtStatus['state']) =>
  eventually(`${id} ${state}`, async () => {
    const r = await view(id);
    return r.status === 200 && r.body.status.state === state ? r.body : undefined;
  });

describe('HTTP API', () => {
  it('refuses to listen beyond loopback without a token, before opening anything', async () => {
    const err = await FtService.start({
      store: { kind: 'sqlite', path: join(t.dir, 'never.db') },
      driver: fleet,
      hosts: HOSTS,
      listen: { host: '0.0.0.0' },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FtServiceError);
    expect((err as FtServiceError).code).toBe('FTS_CONFIG');
  });

  it('asks for the bearer token everywhere but health, the document and the console', async () => {
    const none = await api.call('GET', '/api/v1/vms', { token: null });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { code: 'FTS_UNAUTHORIZED' } });
    expect((await api.call('GET', '/api/v1/vms', { token: 'wrong' })).status).toBe(401);
    expect((await api.call('GET', '/metrics', { token: null })).status).toBe(401);
    expect((await api.call('GET', '/api/v1/stream', { token: null })).status).toBe(401);
    const health = await api.call<{ role: string; driver: string }>('GET', '/healthz', { token: null });
    expect(health.body).toMatchObject({ ok: true, role: 'leader', driver: 'fake-fleet' });
    const doc = await api.call<{ openapi: string }>('GET', '/api/v1/openapi.json', { token: null });
    expect(doc.body.openapi).toBe('3.1.0');
    expect((await api.call('GET', '/api/v1/vms')).status).toBe(200);
  });

  it('creates a VM with FT, reports it Protected, keeps its history and journal', async () => {
    const hosts = await api.call<Array<{ name: string }>>('GET', '/api/v1/hosts');
    expect(hosts.body.map((h) => h.name)).toEqual(['h1', 'h2']);
    const check = await api.call('GET', '/api/v1/placement?host=h1&memoryMiB=512');
    expect(check.body).toEqual({ qualifies: true, candidates: ['h2'] });
    const created = await api.call<VmView>('POST', '/api/v1/vms', {
      body: { name: 'Web 1', host: 'h1', memoryMiB: 512, ft: { enabled: true } },
    });
    expect(created.status).toBe(201);
    expect(created.body.vm).toMatchObject({ id: 'web-1', name: 'Web 1', host: 'h1' });
    const protectedView = await waitState('web-1', 'protected');
    expect(protectedView.status).toMatchObject({ primaryHost: 'h1', secondaryHost: 'h2' });
    const list = await api.call<VmView[]>('GET', '/api/v1/vms');
    expect(list.body.map((v) => v.vm.id)).toContain('web-1');
    const events = await api.call<FtEvent[]>('GET', '/api/v1/vms/web-1/events');
    expect(events.body.map((e) => e.kind)).toEqual(expect.arrayContaining(['vm', 'status', 'step']));
    const later = await api.call<FtEvent[]>(
      `GET`,
      `/api/v1/vms/web-1/events?after=${events.body.at(-2)!.id}`,
    );
    expect(later.body).toEqual(events.body.slice(-1));
    const steps = await api.call<Array<{ kind: string; state: string }>>('GET', '/api/v1/vms/web-1/steps');
    expect(steps.body.map((s) => [s.kind, s.state])).toEqual([['protect', 'done']]);
  });

  it('answers bad input with FTS_INVALID_INPUT naming the field; conflicts and missing VMs with their codes', async () => {
    const bad = await api.call<{ error: { code: string; field: string } }>('POST', '/api/v1/vms', {
      body: { name: 'x', ft: { enabled: 'yes' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'FTS_INVALID_INPUT', field: 'body.ft.enabled' });
    const json = await api.call('POST', '/api/v1/vms', { rawBody: '{"name": ' });
    expect(json.status).toBe(400);
    const missing = await api.call('GET', '/api/v1/vms/nope');
    expect(missing.status).toBe(404);
    expect((await api.call('GET', '/api/v1/vms/NOT_AN_ID')).status).toBe(400);
    const dup = await api.call('POST', '/api/v1/vms', { body: { name: 'Web 1' } });
    expect(dup.status).toBe(409);
    const noBackup = await api.call<{ error: { code: string; message: string } }>('POST', '/api/v1/vms', {
      body: { name: 'pinned', host: 'h1', ft: { enabled: true, placement: { allowedHosts: ['h1'] } } },
    });
    expect(noBackup.status).toBe(422);
    expect(noBackup.body.error.code).toBe('FTS_NO_BACKUP_HOST');
    const badAction = await api.call('POST', '/api/v1/vms/web-1/actions/explode');
    expect(badAction.status).toBe(400);
    const badQuery = await api.call('GET', '/api/v1/vms/web-1/events?after=-1');
    expect(badQuery.status).toBe(400);
    expect((await api.call('GET', '/api/v1/placement?memoryMiB=lots')).status).toBe(400);
    expect((await api.call('GET', '/api/v1/placement?host=nowhere')).status).toBe(400);
  });

  it('streams status changes and history as server-sent events', async () => {
    const seen = await readEvents(
      `${service.url}/api/v1/stream`,
      TOKEN,
      (name, data) =>
        name === 'status' && (data as FtStatus).vmId === 'db' && (data as FtStatus).state === 'protected',
      {
        onOpen: async () => {
          const r = await api.call('POST', '/api/v1/vms', {
            body: { name: 'db', host: 'h2', ft: { enabled: true } },
          });
          expect(r.status).toBe(201);
        },
      },
    );
    const names = new Set(seen.map((s) => s.name));
    expect(names).toEqual(new Set(['status', 'event', 'step']));
  });

  it('carries out Turn Off, Turn On, Test Failover and Restart Secondary; refuses what does not fit', async () => {
    await waitState('db', 'protected');
    const off = await api.call<{ view: VmView }>('POST', '/api/v1/vms/db/actions/turn-off');
    expect(off.status).toBe(202);
    expect(off.body.view.intent.enabled).toBe(false);
    await waitState('db', 'disabled');
    const tf = await api.call<{ error: { code: string } }>('POST', '/api/v1/vms/db/actions/test-failover');
    expect(tf.status).toBe(409);
    expect(tf.body.error.code).toBe('FTS_CONFLICT');
    await api.call('POST', '/api/v1/vms/db/actions/turn-on');
    await waitState('db', 'protected');
    const put = await api.call<VmView>('PUT', '/api/v1/vms/db/ft', {
      body: { enabled: true, reprotect: 'manual' },
    });
    expect(put.status).toBe(200);
    expect(put.body.intent).toMatchObject({ reprotect: 'manual', generation: 4 });
    const rs = await api.call('POST', '/api/v1/vms/db/actions/restart-secondary');
    expect(rs.status).toBe(409);
    const asked = await api.call<{ request: { action: string; state: string } }>(
      'POST',
      '/api/v1/vms/db/actions/test-failover',
    );
    expect(asked.status).toBe(202);
    expect(asked.body.request).toMatchObject({ action: 'test-failover', state: 'pending' });
    const failed = await eventually('db failed over, with its figures', async () => {
      const r = await view('db');
      return r.body.status.state === 'failed-over' && r.body.status.figures.failovers === 1
        ? r.body
        : undefined;
    });
    expect(failed.status).toMatchObject({ primaryHost: 'h1', figures: { failovers: 1, lastDetectionMs: 3 } });
    expect(failed.status.secondaryHost).toBeUndefined();
    await api.call('POST', '/api/v1/vms/db/actions/restart-secondary');
    const again = await waitState('db', 'protected');
    expect(again.status).toMatchObject({ primaryHost: 'h1', secondaryHost: 'h2' });
  });

  it('exposes Prometheus metrics: VMs by status, reconcile durations, failovers, detection times', async () => {
    const m = await api.call<string>('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.body).toMatch(/^fts_vms\{status="protected"\} 2$/m);
    expect(m.body).toMatch(/^fts_vms\{status="failed-over"\} 0$/m);
    expect(m.body).toMatch(/^fts_failovers_total 1$/m);
    expect(m.body).toMatch(/^fts_failover_detection_seconds_count 1$/m);
    expect(m.body).toMatch(/^fts_reconcile_duration_seconds_count [1-9]\d*$/m);
    expect(m.body).toMatch(/^fts_step_duration_seconds_count\{kind="protect",outcome="done"\} 2$/m);
    expect(m.body).toMatch(/^fts_leader 1$/m);
  });

  it('deletes a VM: stopped, then gone; its history stays readable in the store', async () => {
    const del = await api.call<VmView>('DELETE', '/api/v1/vms/web-1');
    expect(del.status).toBe(202);
    expect(del.body.vm.desired).toBe('deleting');
    await eventually('web-1 gone', async () => (await view('web-1')).status === 404);
    expect(fleet.world().map((w) => w.vm_id)).toEqual(['db']);
  });

  it('without IaaS adapters: /api/v1/iaas lists none and the IaaS create route is not found', async () => {
    const info = await api.call<{ adapters: string[]; create: string | null }>('GET', '/api/v1/iaas');
    expect(info.body).toEqual({ adapters: [], create: null });
    const r = await api.call<{ error: { code: string } }>('POST', '/api/v1/iaas/vms', {
      body: { name: 'nowhere', memoryMiB: 64 },
    });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('FTS_NOT_FOUND');
  });

  it('never logs the token, and documents every operation it serves', async () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.join('')).not.toContain(TOKEN);
    expect(logLines.join('')).not.toMatch(/Bearer/);
    expect(api.uncovered()).toEqual([]);
  });

  it('shuts down gracefully: streams ended, requests finished, the lease given up at once', async () => {
    const stream = fetch(`${service.url}/api/v1/stream`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const res = await stream;
    const body = res.text();
    await service.stop();
    expect(typeof (await body)).toBe('string'); // the stream ended instead of hanging
    const store = await FtStore.open({ kind: 'sqlite', path: join(t.dir, 'fts.db') });
    const lease = await store.readLease();
    expect(lease.expiresAt).toBe(0);
    await store.close();
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
  });
});
