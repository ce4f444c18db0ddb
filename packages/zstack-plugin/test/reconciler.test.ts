/**
 * The reconciler against a DETERMINISTIC FAKE driver (test/helpers/fake-fleet.ts), for
 * fault injection: injected failures, unsupported operations, crashes mid-step. The
 * end-to-end tests (ftpair.test.ts, console.test.ts) drive the real FtPair on cuju-sim.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DriverOperationName,
  FtApi,
  type FtStatus,
  FtStore,
  type HostInput,
  type PairRecord,
  Reconciler,
} from '../src/index.js';
import { FakeFleet } from './helpers/fake-fleet.js';
import { eventually, quietLog, tempDir } from './helpers/tmp.js';

const HOSTS: HostInput[] = ['a', 'b', 'c'].map((name, i) => ({
  name,
  address: `127.0.0.${i + 2}`,
  capacity: { vms: 16, memoryMiB: 16_384 },
}));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  store: FtStore;
  fleet: FakeFleet;
  api: FtApi;
  rec: Reconciler;
  token: number;
  dir: string;
}

async function setup(
  options: {
    delayMs?: number;
    unsupported?: DriverOperationName[];
    concurrency?: number;
    dir?: string;
    start?: boolean;
  } = {},
): Promise<Setup> {
  let dir = options.dir;
  if (!dir) {
    const t = tempDir();
    cleanups.push(t.cleanup);
    dir = t.dir;
  }
  const store = await FtStore.open({ kind: 'sqlite', path: join(dir, 'fts.db') });
  const token = (await store.tryAcquire('embedded', 'http://test', 600_000))!;
  const fleet = new FakeFleet({
    path: join(dir, 'fleet.db'),
    ...(options.delayMs ? { delayMs: options.delayMs } : {}),
    ...(options.unsupported ? { unsupported: options.unsupported } : {}),
  });
  const lease = { current: token };
  const ref: { rec?: Reconciler } = {};
  const api = new FtApi(store, { current: token, leaderUrl: async () => undefined }, () => ref.rec?.wake());
  await api.upsertHosts(HOSTS);
  const rec = new Reconciler(store, fleet, lease, quietLog(), {
    intervalMs: 50,
    concurrency: options.concurrency ?? 4,
    backoff: { baseMs: 20, maxMs: 200 },
  });
  ref.rec = rec;
  if (options.start !== false) rec.start();
  cleanups.push(async () => {
    await rec.stop();
    await rec.detach();
    await fleet.close();
    await store.close();
  });
  return { store, fleet, api, rec, token, dir };
}

const statusIs = (s: Setup, vmId: string, want: (st: FtStatus) => boolean) =>
  eventually(`status of ${vmId}`, async () => {
    const st = (await s.store.getStatus(vmId))?.status;
    return st && want(st) ? st : undefined;
  });

describe('reconciler (fake driver)', () => {
  it('turns FT on at create: journals the step BEFORE it acts, then Protected with both hosts', async () => {
    const s = await setup({ delayMs: 150 });
    const view = await s.api.createVm({ name: 'web', host: 'a', ft: { enabled: true } });
    expect(view.status.state).toBe('starting');
    // While the fleet is still working on it, the journal already holds the step.
    const during = await eventually('the step under way', () =>
      s.fleet.active > 0 ? s.store.listSteps({ vmId: 'web' }) : undefined,
    );
    expect(during.map((x) => [x.kind, x.state])).toEqual([['protect', 'started']]);
    const st = await statusIs(s, 'web', (x) => x.state === 'protected');
    expect(st).toMatchObject({ primaryHost: 'a', secondaryHost: 'b', observedGeneration: 1 });
    const steps = await s.store.listSteps({ vmId: 'web' });
    expect(steps.map((x) => [x.kind, x.state])).toEqual([['protect', 'done']]);
    expect(s.fleet.ops().map((o) => [o.vm_id, o.op, o.step])).toEqual([['web', 'protect', steps[0]!.id]]);
    const history = (await s.store.listEvents('web')).map((e) => e.message);
    expect(history[0]).toBe('created on a with fault tolerance');
    expect(history).toContain('protect done');
    expect(history.at(-1)).toBe('Protected (primary a, secondary b)');
  });

  it('writes nothing when nothing changed (a pass over settled VMs is a read)', async () => {
    const s = await setup();
    await s.api.createVm({ name: 'calm', host: 'a', ft: { enabled: true } });
    await s.api.createVm({ name: 'plain', host: 'b', ft: { enabled: false } });
    await statusIs(s, 'calm', (x) => x.state === 'protected');
    await statusIs(s, 'plain', (x) => x.state === 'disabled');
    await s.rec.stop();
    let writes = 0;
    s.store.onChange(() => writes++);
    for (let i = 0; i < 5; i++) await s.rec.pass();
    expect(writes).toBe(0);
  });

  it('re-protects after a failover (policy auto), on a host other than the survivor', async () => {
    const s = await setup();
    await s.api.createVm({ name: 'db', host: 'a', ft: { enabled: true } });
    await statusIs(s, 'db', (x) => x.state === 'protected');
    s.fleet.killPrimary('db');
    const again = await statusIs(s, 'db', (x) => x.state === 'protected' && x.primaryHost === 'b');
    expect(again.secondaryHost).not.toBe('b');
    expect(again.figures).toMatchObject({ failovers: 1, lastDetectionMs: 7 });
    const history = (await s.store.listEvents('db')).map((e) => e.message);
    expect(history).toContain('failed over to b (detected in 7 ms)');
    expect(history).toContain('Failed over (on b)');
    expect(s.fleet.ops().map((o) => o.op)).toEqual(['protect', 'restartSecondary']);
  });

  it('with policy manual, stays Failed over until Restart Secondary is asked; Test Failover is carried out once', async () => {
    const s = await setup();
    await s.api.createVm({ name: 'app', host: 'a', ft: { enabled: true, reprotect: 'manual' } });
    await statusIs(s, 'app', (x) => x.state === 'protected');
    const { request } = await s.api.action('app', 'test-failover');
    expect(request?.state).toBe('pending');
    await statusIs(s, 'app', (x) => x.state === 'failed-over');
    for (let i = 0; i < 5; i++) await s.rec.pass();
    expect((await s.store.getStatus('app'))?.status.state).toBe('failed-over');
    expect(s.fleet.ops().map((o) => o.op)).toEqual(['protect', 'testFailover']);
    await s.api.action('app', 'restart-secondary');
    await statusIs(s, 'app', (x) => x.state === 'protected');
    expect(s.fleet.ops().map((o) => o.op)).toEqual(['protect', 'testFailover', 'restartSecondary']);
    expect((await s.store.listRequests({ vmId: 'app' })).map((r) => [r.action, r.state])).toEqual([
      ['test-failover', 'done'],
      ['restart-secondary', 'done'],
    ]);
  });

  it('turns FT off (the VM keeps running) and on again', async () => {
    const s = await setup();
    await s.api.createVm({ name: 'v', host: 'a', ft: { enabled: true } });
    await statusIs(s, 'v', (x) => x.state === 'protected');
    await s.api.action('v', 'turn-off');
    const off = await statusIs(s, 'v', (x) => x.state === 'disabled');
    expect(off.secondaryHost).toBeUndefined();
    await s.api.action('v', 'turn-on');
    await statusIs(s, 'v', (x) => x.state === 'protected');
    expect(s.fleet.ops().map((o) => o.op)).toEqual(['protect', 'turnOff', 'turnOn']);
  });

  it('never runs more steps at once than its concurrency limit', async () => {
    const s = await setup({ delayMs: 80, concurrency: 3 });
    for (let i = 0; i < 9; i++) await s.api.createVm({ name: `vm${i}`, ft: { enabled: i % 2 === 0 } });
    await eventually('all nine running', async () => {
      const st = await s.store.listStatuses();
      return (
        st.length === 9 && st.every((x) => x.status.state === 'protected' || x.status.state === 'disabled')
      );
    });
    expect(s.fleet.peakActive).toBeGreaterThan(0);
    expect(s.fleet.peakActive).toBeLessThanOrEqual(3);
    expect(s.fleet.ops()).toHaveLength(9);
  });

  it('backs off after a failure and succeeds later; each try is journaled', async () => {
    const s = await setup();
    s.fleet.failNext('flaky', 'protect', 2);
    await s.api.createVm({ name: 'flaky', host: 'a', ft: { enabled: true } });
    await statusIs(s, 'flaky', (x) => x.state === 'protected');
    const steps = await s.store.listSteps({ vmId: 'flaky' });
    expect(steps.map((x) => [x.kind, x.state])).toEqual([
      ['protect', 'failed'],
      ['protect', 'failed'],
      ['protect', 'done'],
    ]);
    expect(steps[0]!.error).toMatch(/injected protect failure/);
  });

  it('records an unsupported operation as Not protected with the driver words, and does not retry it in a loop', async () => {
    const s = await setup({ unsupported: ['restartSecondary'] });
    await s.api.createVm({ name: 'u', host: 'a', ft: { enabled: true } });
    await statusIs(s, 'u', (x) => x.state === 'protected');
    s.fleet.killPrimary('u');
    const st = await statusIs(s, 'u', (x) => x.reason === 'driver-unsupported');
    expect(st.state).toBe('not-protected');
    expect(st.detail).toMatch(/restartSecondary is not supported by the fake-fleet driver yet/);
    for (let i = 0; i < 5; i++) await s.rec.pass();
    const tries = (await s.store.listSteps({ vmId: 'u' })).filter((x) => x.kind === 'restart-secondary');
    expect(tries.map((x) => x.state)).toEqual(['failed']);
    expect((await s.store.getStatus('u'))?.status.reason).toBe('driver-unsupported');
  });

  it('after a crash mid-step, checks the world: a step that took effect is recovered, not repeated', async () => {
    const first = await setup({ start: false });
    await first.api.createVm({ name: 'c1', host: 'a', ft: { enabled: true } });
    await first.api.createVm({ name: 'c2', host: 'a', ft: { enabled: true } });
    // A leader journaled two protect steps and died: c1 after the fleet had done it, c2 before.
    const world = await first.store.loadWorld();
    for (const vmId of ['c1', 'c2']) {
      const step = await first.store.write(first.token, async (w) => {
        const st = await w.startStep(
          {
            vmId,
            kind: 'protect',
            params: { generation: 1, why: 'test', primaryHost: 'a', secondaryHost: 'b' },
          },
          first.token,
        );
        const launching: PairRecord = {
          version: 1,
          driver: 'fake-fleet',
          vmId,
          engine: 'cuju',
          build: 'master',
          state: 'launching',
          primary: { host: 'a' },
          secondary: { host: 'b' },
          extra: {},
        };
        await w.putStatus({ ...world.statuses.get(vmId)!.status }, launching);
        return st;
      });
      if (vmId === 'c1') {
        await first.fleet.protect(
          {
            vmId,
            name: vmId,
            memoryMiB: 256,
            engine: 'cuju',
            build: 'master',
            primary: { name: 'a', address: '127.0.0.2' },
            stepId: step.id,
          },
          { host: { name: 'b', address: '127.0.0.3' } },
          { signal: new AbortController().signal, fence: first.token, stepId: step.id },
        );
      }
    }
    await first.fleet.close();
    await first.store.close();
    cleanups.splice(0); // closed by hand above (the "crash")
    // A new process on the same store and fleet.
    const second = await setup({ dir: first.dir });
    await statusIs(second, 'c1', (x) => x.state === 'protected');
    await statusIs(second, 'c2', (x) => x.state === 'protected');
    const c1 = await second.store.listSteps({ vmId: 'c1' });
    expect(c1.map((x) => [x.kind, x.state])).toEqual([['protect', 'recovered']]);
    const c2 = await second.store.listSteps({ vmId: 'c2' });
    expect(c2.map((x) => [x.kind, x.state])).toEqual([
      ['protect', 'interrupted'],
      ['protect', 'done'],
    ]);
    // One protect per VM in the fleet, whatever the crash.
    const ops = second.fleet.ops().map((o) => `${o.vm_id}:${o.op}`);
    expect(ops.sort()).toEqual(['c1:protect', 'c2:protect']);
    const history = (await second.store.listEvents('c1')).map((e) => e.message);
    expect(history.some((m) => /left unfinished by an earlier leader: recovered/.test(m))).toBe(true);
  });

  it('when the world cannot be checked (attach unsupported), says so and launches nothing over the old VMs', async () => {
    const first = await setup();
    await first.api.createVm({ name: 'r', host: 'a', ft: { enabled: true } });
    await statusIs(first, 'r', (x) => x.state === 'protected');
    await first.rec.stop();
    await first.rec.detach();
    await first.fleet.close();
    await first.store.close();
    cleanups.splice(0);
    const second = await setup({ dir: first.dir, unsupported: ['attach'] });
    const st = await statusIs(second, 'r', (x) => x.reason === 'controller-restarted');
    expect(st.state).toBe('not-protected');
    expect(st.detail).toMatch(/attach is not supported/);
    for (let i = 0; i < 5; i++) await second.rec.pass();
    expect(second.fleet.ops().map((o) => o.op)).toEqual(['protect']);
  });
});
