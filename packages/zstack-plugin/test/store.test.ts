import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FencedError, FtStore, type Host, nowIso } from '../src/index.js';
import { tempDir } from './helpers/tmp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sqlite() {
  const t = tempDir();
  const path = join(t.dir, 'fts.db');
  const store = await FtStore.open({ kind: 'sqlite', path });
  cleanups.push(async () => {
    await store.close();
    t.cleanup();
  });
  return { store, path };
}

const host = (name: string): Host => ({
  name,
  address: '127.0.0.2',
  capacity: { vms: 4, memoryMiB: 4096 },
  enabled: true,
});

describe('store on SQLite', () => {
  it('migrates once: a reopened store keeps its data and its schema', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const path = join(t.dir, 'fts.db');
    const a = await FtStore.open({ kind: 'sqlite', path });
    const token = (await a.tryAcquire('me', 'http://x', 10_000))!;
    await a.write(token, (w) => w.upsertHost(host('h1')));
    await a.close();
    const b = await FtStore.open({ kind: 'sqlite', path });
    expect(await b.listHosts()).toEqual([host('h1')]);
    const migrations = await b.db
      .selectFrom('kysely_migration' as never)
      .selectAll()
      .execute();
    expect(migrations).toHaveLength(1);
    await b.close();
  });

  it('gives the lease to one holder at a time, with a higher token at every acquisition', async () => {
    const { store } = await sqlite();
    const t1 = await store.tryAcquire('a', 'http://a', 60_000);
    expect(t1).toBe(1);
    expect(await store.tryAcquire('b', 'http://b', 60_000)).toBeUndefined();
    expect(await store.renew('a', t1!, 60_000)).toBe(true);
    expect(await store.renew('b', t1!, 60_000)).toBe(false);
    await store.release('a', t1!);
    const t2 = await store.tryAcquire('b', 'http://b', 60_000);
    expect(t2).toBe(2);
    expect(await store.renew('a', t1!, 60_000)).toBe(false);
    const lease = await store.readLease();
    expect(lease).toMatchObject({ holder: 'b', token: 2, url: 'http://b' });
    expect(lease.expiresAt).toBeGreaterThan(lease.now);
  });

  it('refuses a write with a stale token in the database, and rolls the whole transaction back', async () => {
    const { store } = await sqlite();
    const t1 = (await store.tryAcquire('a', 'http://a', 60_000))!;
    await store.write(t1, (w) => w.upsertHost(host('h1')));
    await store.release('a', t1);
    const t2 = (await store.tryAcquire('b', 'http://b', 60_000))!;
    const err = await store
      .write(t1, async (w) => {
        await w.addEvent({ vmId: 'vm1', kind: 'vm', message: 'should not stay' });
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FencedError);
    expect((err as FencedError).code).toBe('FTS_FENCED');
    expect(await store.eventsSince(0)).toEqual([]);
    await store.write(t2, (w) => w.upsertHost(host('h2')));
    expect((await store.listHosts()).map((h) => h.name)).toEqual(['h1', 'h2']);
  });

  it('refuses writes that bypass the store (another connection without the fence)', async () => {
    const { store, path } = await sqlite();
    await store.tryAcquire('a', 'http://a', 60_000);
    const raw = new BetterSqlite3(path);
    cleanups.push(() => {
      raw.close();
    });
    expect(() => raw.prepare("INSERT INTO hosts VALUES ('x', '1.2.3.4', 1, 1, 1)").run()).toThrow(
      /fts_fence|FTS_FENCED/,
    );
    raw.function('fts_fence', () => 0);
    expect(() => raw.prepare("INSERT INTO hosts VALUES ('x', '1.2.3.4', 1, 1, 1)").run()).toThrow(
      /FTS_FENCED/,
    );
    expect(await store.listHosts()).toEqual([]);
  });

  it('keeps a VM with its intent, status, history, journal and requests, and tells listeners after commit', async () => {
    const { store } = await sqlite();
    const token = (await store.tryAcquire('a', 'http://a', 60_000))!;
    const seen: number[] = [];
    store.onChange((c) => seen.push(c.events.length));
    const now = nowIso();
    await store.write(token, async (w) => {
      await w.insertVm({
        id: 'vm1',
        name: 'vm 1',
        host: 'h1',
        memoryMiB: 256,
        desired: 'running',
        createdAt: now,
      });
      await w.putIntent({
        vmId: 'vm1',
        enabled: true,
        engine: 'cuju',
        build: 'master',
        placement: { allowedHosts: ['h2'], excludedHosts: [] },
        reprotect: 'manual',
        epochUs: 5000,
        generation: 1,
        updatedAt: now,
      });
      await w.putStatus(
        {
          vmId: 'vm1',
          state: 'starting',
          figures: {},
          lastChangeAt: now,
          observedGeneration: 1,
          primaryHost: 'h1',
        },
        undefined,
      );
      await w.addEvent({ vmId: 'vm1', kind: 'vm', message: 'created', data: { host: 'h1' } });
      const step = await w.startStep(
        { vmId: 'vm1', kind: 'protect', params: { generation: 1, why: 'test' } },
        token,
      );
      await w.finishStep(step, 'done');
      await w.addRequest('vm1', 'test-failover');
    });
    expect(seen).toEqual([1]);
    const world = await store.loadWorld();
    expect(world.vms.map((v) => v.id)).toEqual(['vm1']);
    expect(world.intents.get('vm1')).toMatchObject({
      reprotect: 'manual',
      epochUs: 5000,
      placement: { allowedHosts: ['h2'] },
    });
    expect(world.statuses.get('vm1')?.status.state).toBe('starting');
    expect(world.openSteps).toEqual([]);
    expect(world.pendingRequests.map((r) => r.action)).toEqual(['test-failover']);
    expect((await store.listSteps({ vmId: 'vm1' })).map((s) => [s.kind, s.state])).toEqual([
      ['protect', 'done'],
    ]);
    expect((await store.listEvents('vm1')).map((e) => e.message)).toEqual(['created']);
  });
});
