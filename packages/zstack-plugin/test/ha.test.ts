/**
 * HA mode: three real service processes on one real PostgreSQL (started here, one cluster
 * for this file). One leader at a time through the lease; every write fenced by the
 * database; kill the leader and another takes over with nothing lost and no step done
 * twice; a paused leader that wakes up after a takeover can write nothing. The FT back end
 * is the DETERMINISTIC FAKE fleet (a SQLite world shared by the processes, which also
 * refuses stale fencing tokens), slowed so that the kill lands inside steps.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError, FtStore, type VmView } from '../src/index.js';
import { ApiClient } from './helpers/api-client.js';
import { FakeFleet } from './helpers/fake-fleet.js';
import { type Postgres, requirePostgres, startPostgres } from './helpers/postgres.js';
import { kill, type ServiceProc, startServiceProc } from './helpers/procs.js';
import { eventually, tempDir } from './helpers/tmp.js';

const HAVE_PG = requirePostgres();
const TTL = 1500;
const t = tempDir();
let pgServer: Postgres;
const procs: ServiceProc[] = [];

beforeAll(async () => {
  if (HAVE_PG) pgServer = await startPostgres();
});
afterAll(async () => {
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGCONT');
    } catch {}
    await kill(p);
  }
  await pgServer?.stop();
  t.cleanup();
});

interface Health {
  role: 'leader' | 'follower';
  instance: string;
  leader?: string;
}

/** Every response of the service processes is checked against the OpenAPI document. */
const clients = new Map<ServiceProc, ApiClient>();
const client = (p: ServiceProc) => clients.get(p) ?? clients.set(p, new ApiClient(p.url)).get(p)!;

async function health(p: ServiceProc): Promise<Health | undefined> {
  const res = await client(p)
    .call<Health>('GET', '/healthz')
    .catch(() => undefined);
  return res?.status === 200 ? res.body : undefined;
}

const vms = async (p: ServiceProc) => (await client(p).call<VmView[]>('GET', '/api/v1/vms')).body;
const create = (p: ServiceProc, name: string) =>
  client(p).call<{ error?: { code: string; message: string } }>('POST', '/api/v1/vms', {
    body: { name, ft: { enabled: true } },
  });

async function leaderAmong(ps: ServiceProc[]): Promise<ServiceProc> {
  return eventually('one leader', async () => {
    const roles = await Promise.all(ps.map(async (p) => [p, await health(p)] as const));
    const leaders = roles.filter(([, h]) => h?.role === 'leader');
    expect(leaders.length).toBeLessThanOrEqual(1);
    return leaders[0]?.[0];
  });
}

const proc = (instanceId: string) =>
  startServiceProc({
    store: { kind: 'postgres', connectionString: pgServer.url },
    fleetPath: join(t.dir, 'fleet.db'),
    delayMs: 300,
    instanceId,
    leaseTtlMs: TTL,
    hosts: ['h1', 'h2', 'h3'].map((name, i) => ({
      name,
      address: `127.0.0.${i + 2}`,
      capacity: { vms: 32, memoryMiB: 32_768 },
    })),
  });

describe.runIf(HAVE_PG)('HA on PostgreSQL', () => {
  it('the database itself refuses a write fenced with a stale token, and one with none', async () => {
    const a = await FtStore.open({ kind: 'postgres', connectionString: pgServer.url });
    const b = await FtStore.open({ kind: 'postgres', connectionString: pgServer.url });
    try {
      const before = await a.readLease();
      // Another instance may hold it: wait it out, as any follower would.
      const t1 = await eventually('the lease for a', () => a.tryAcquire(`fence-a`, 'http://a', 60_000));
      expect(t1).toBeGreaterThan(before.token);
      await a.write(t1, (w) =>
        w.upsertHost({
          name: 'hx',
          address: '127.0.0.9',
          capacity: { vms: 1, memoryMiB: 1 },
          enabled: false,
        }),
      );
      await a.release('fence-a', t1);
      const t2 = (await b.tryAcquire('fence-b', 'http://b', 60_000))!;
      expect(t2).toBe(t1 + 1);
      const err = await a
        .write(t1, (w) => w.addEvent({ vmId: 'x', kind: 'vm', message: 'stale' }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FencedError);
      // A plain client, no fence at all: refused by the trigger too.
      const raw = new pg.Client({ connectionString: pgServer.url });
      await raw.connect();
      const rawErr = await raw
        .query("DELETE FROM hosts WHERE name = 'hx'")
        .catch((e: { code?: string }) => e);
      await raw.end();
      expect((rawErr as { code?: string }).code).toBe('FTS01');
      await b.write(t2, async (w) => {
        await w.addEvent({ vmId: 'x', kind: 'vm', message: 'fresh' });
      });
      expect((await b.eventsSince(0)).map((e) => e.message)).toEqual(['fresh']);
      await b.release('fence-b', t2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('one leader; killed, another takes over; nothing lost, no step done twice; a paused leader is fenced', async () => {
    const started = await Promise.all(['i1', 'i2', 'i3'].map(proc));
    procs.push(...started);
    const leader1 = await leaderAmong(started);
    const follower = started.find((p) => p !== leader1)!;

    // Followers send writers to the leader.
    const refused = await create(follower, 'nope');
    expect(refused.status).toBe(503);
    expect(refused.body.error?.code).toBe('FTS_NOT_LEADER');
    expect(refused.body.error?.message).toContain(leader1.url);

    const created: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await create(leader1, `ha-${i}`);
      expect(res.status).toBe(201);
      created.push(`ha-${i}`);
    }
    // Kill the leader while its steps are under way (10 protects of 300 ms, 4 at a time).
    await eventually('a first VM protected', async () => {
      const views = await vms(leader1);
      return views.some((v) => v.status.state === 'protected');
    });
    await kill(leader1);
    const leader2 = await leaderAmong(started.filter((p) => p !== leader1));
    const views = await eventually('all ten protected under the new leader', async () => {
      const v = await vms(leader2);
      return v.length === 10 && v.every((x) => x.status.state === 'protected') ? v : undefined;
    });
    expect(views.map((v) => v.vm.id).sort()).toEqual(created.sort());

    // Pause the new leader; a third takes over; wake the paused one: it must step down
    // and nothing it does after the takeover reaches the database or the fleet.
    const more = await create(leader2, 'late');
    expect(more.status).toBe(201);
    process.kill(leader2.pid, 'SIGSTOP');
    const leader3 = await leaderAmong(started.filter((p) => p !== leader1 && p !== leader2));
    const takeover = await FtStore.open({ kind: 'postgres', connectionString: pgServer.url });
    const lease3 = await takeover.readLease();
    process.kill(leader2.pid, 'SIGCONT');
    await eventually(
      'the paused leader steps down',
      async () => (await health(leader2))?.role === 'follower',
    );
    await eventually('late protected', async () => {
      const v = await client(leader3).call<VmView>('GET', '/api/v1/vms/late');
      return v.body.status.state === 'protected';
    });

    // The journal: every step closed; nothing written with an old token after the takeover.
    const steps = await takeover.listSteps({});
    expect(steps.filter((s) => s.state === 'started')).toEqual([]);
    const lateOld = steps.filter(
      (s) => s.fence < lease3.token && s.startedAt > new Date(lease3.now).toISOString(),
    );
    expect(lateOld).toEqual([]);
    await takeover.close();
    // The fleet: each VM protected exactly once, no (VM, step) twice, tokens never going back.
    const fleet = new FakeFleet({ path: join(t.dir, 'fleet.db') });
    try {
      const ops = fleet.ops();
      const protects = new Map<string, number>();
      for (const o of ops.filter((o) => o.op === 'protect'))
        protects.set(o.vm_id, (protects.get(o.vm_id) ?? 0) + 1);
      expect([...protects.values()].every((c) => c === 1)).toBe(true);
      expect(protects.size).toBe(11);
      const keys = ops.map((o) => `${o.vm_id}:${o.step}`);
      expect(new Set(keys).size).toBe(keys.length);
      const fences = ops.map((o) => o.fence);
      expect(fences).toEqual([...fences].sort((a, b) => a - b));
      expect(new Set(ops.map((o) => o.pid)).size).toBeGreaterThanOrEqual(2);
    } finally {
      await fleet.close();
    }
  });
});
