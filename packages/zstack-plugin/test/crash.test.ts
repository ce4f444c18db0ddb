/**
 * SIGKILL of the service process at random moments, in a loop (embedded SQLite store):
 * nothing acknowledged is lost (VMs, intents), no status goes back in time, no history
 * entry disappears, and in the end every VM reaches its intent with each launch done
 * exactly once. The FT back end is the DETERMINISTIC FAKE fleet (its world in a file, like
 * VMs that outlive the controller), slowed so that kills land inside steps.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FtEvent, FtStatus, VmView } from '../src/index.js';
import { ApiClient } from './helpers/api-client.js';
import { FakeFleet } from './helpers/fake-fleet.js';
import { kill, type ServiceProc, startServiceProc } from './helpers/procs.js';
import { eventually, tempDir } from './helpers/tmp.js';

const t = tempDir();
const procs: ServiceProc[] = [];
afterAll(async () => {
  for (const p of procs) await kill(p);
  t.cleanup();
});

const config = {
  store: { kind: 'sqlite', path: join(t.dir, 'fts.db') },
  fleetPath: join(t.dir, 'fleet.db'),
  delayMs: 60,
  hosts: ['a', 'b', 'c'].map((name, i) => ({
    name,
    address: `127.0.0.${i + 2}`,
    capacity: { vms: 64, memoryMiB: 65_536 },
  })),
};

const clients = new Map<string, ApiClient>();
/** The OpenAPI-validating client of a service process (one per URL: it compiles the document once). */
const clientOf = (origin: string) =>
  clients.get(origin) ?? clients.set(origin, new ApiClient(origin)).get(origin)!;

/** GET through the OpenAPI-validating client: a 200 with a body that matches the document. */
async function get<T>(url: string): Promise<T> {
  const { origin, pathname, search } = new URL(url);
  const res = await clientOf(origin).call<T>('GET', pathname + search);
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return res.body;
}

/** A small seeded generator: the same run every time (failures reproduce). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('crash safety (SIGKILL loop, SQLite)', () => {
  it('loses no intent, no status and no history over 6 random kills, and does each launch once', async () => {
    const random = rng(15);
    const acked = new Map<string, boolean>(); // VM id -> FT enabled, as last acknowledged
    // A Turn On/Off whose answer the kill cut off may or may not have been committed: either
    // value is right for it until a later process shows which one holds.
    const unanswered = new Map<string, boolean>();
    const settle = (id: string, enabled: boolean, ft: boolean) => {
      const maybe = unanswered.get(id);
      if (maybe !== undefined && enabled === maybe) acked.set(id, maybe);
      else expect(enabled, `FT intent of ${id}`).toBe(ft);
      unanswered.delete(id);
    };
    let seenStatuses = new Map<string, FtStatus>();
    const seenEvents = new Map<number, FtEvent>();
    let n = 0;
    for (let round = 0; round < 6; round++) {
      const p = await startServiceProc(config);
      procs.push(p);
      // What the last process acknowledged is all here, unchanged or newer.
      const views = await eventually('the VM list', () => get<VmView[]>(`${p.url}/api/v1/vms`));
      const ids = new Set(views.map((v) => v.vm.id));
      for (const [id, ft] of acked) {
        expect(ids.has(id), `VM ${id} acknowledged before the kill`).toBe(true);
        settle(id, views.find((v) => v.vm.id === id)!.intent.enabled, ft);
      }
      for (const v of views) {
        const before = seenStatuses.get(v.vm.id);
        if (!before) continue;
        expect(v.status.lastChangeAt >= before.lastChangeAt, `status of ${v.vm.id} went back in time`).toBe(
          true,
        );
        if (v.status.lastChangeAt === before.lastChangeAt) expect(v.status.state).toBe(before.state);
      }
      for (const id of ids) {
        const events = await get<FtEvent[]>(`${p.url}/api/v1/vms/${id}/events?limit=1000`);
        const byId = new Map(events.map((e) => [e.id, e]));
        for (const e of seenEvents.values()) {
          if (e.vmId === id) expect(byId.get(e.id), `history entry ${e.id} of ${id}`).toEqual(e);
        }
      }
      // Work, then a kill at a random moment (maybe in the middle of a request or a step).
      const killAt = Date.now() + 100 + random() * 1200;
      const api = clientOf(p.url);
      const work = (async () => {
        while (Date.now() < killAt) {
          const id = `vm-${n}`;
          const ft = random() < 0.7;
          const res = await api
            .call('POST', '/api/v1/vms', { body: { name: id, ft: { enabled: ft } } })
            .catch(() => undefined);
          n++;
          if (res?.status === 201) acked.set(id, ft);
          const known = [...acked.keys()];
          const flip = known[Math.floor(random() * known.length)];
          if (flip && random() < 0.3) {
            const want = !acked.get(flip);
            const r = await api
              .call('POST', `/api/v1/vms/${flip}/actions/${want ? 'turn-on' : 'turn-off'}`)
              .catch(() => undefined);
            if (r?.status === 202) {
              acked.set(flip, want);
              unanswered.delete(flip);
            } else if (r === undefined) unanswered.set(flip, want);
          }
          await new Promise((r) => setTimeout(r, 40));
          const snapshot = await get<VmView[]>(`${p.url}/api/v1/vms`).catch(() => undefined);
          if (snapshot) seenStatuses = new Map(snapshot.map((v) => [v.vm.id, v.status]));
          const sample = snapshot?.[Math.floor(random() * snapshot.length)];
          if (sample) {
            const ev = await get<FtEvent[]>(`${p.url}/api/v1/vms/${sample.vm.id}/events?limit=1000`).catch(
              () => [],
            );
            for (const e of ev) seenEvents.set(e.id, e);
          }
        }
      })();
      await new Promise((r) => setTimeout(r, Math.max(0, killAt - Date.now())));
      await kill(p);
      await work;
    }
    expect(acked.size).toBeGreaterThan(6);
    // A last process brings every VM to its intent.
    const last = await startServiceProc(config);
    procs.push(last);
    // 'FT disabled' is also what a VM without FT shows before its launch step ran, so "at its
    // intent" includes the fleet having launched (or protected) every VM.
    const launchedVms = async () => {
      const fleet = new FakeFleet({ path: config.fleetPath });
      try {
        return new Set(
          fleet
            .ops()
            .filter((o) => o.op === 'launch' || o.op === 'protect')
            .map((o) => o.vm_id),
        );
      } finally {
        await fleet.close();
      }
    };
    const final = await eventually(
      'every VM at its intent',
      async () => {
        const views = await get<VmView[]>(`${last.url}/api/v1/vms`);
        const done = views.every((v) =>
          v.intent.enabled ? v.status.state === 'protected' : v.status.state === 'disabled',
        );
        if (!done || views.length < acked.size) return undefined;
        const launched = await launchedVms();
        return views.every((v) => launched.has(v.vm.id)) ? views : undefined;
      },
      120_000,
    );
    for (const [id, ft] of acked) settle(id, final.find((v) => v.vm.id === id)!.intent.enabled, ft);
    // The journal is closed, and the fleet launched every VM exactly once.
    const fleet = new FakeFleet({ path: config.fleetPath });
    try {
      const launches = fleet.ops().filter((o) => o.op === 'launch' || o.op === 'protect');
      const perVm = new Map<string, number>();
      for (const o of launches) perVm.set(o.vm_id, (perVm.get(o.vm_id) ?? 0) + 1);
      expect([...perVm.entries()].filter(([, c]) => c !== 1)).toEqual([]);
      expect(perVm.size).toBe(final.length);
      const keys = fleet.ops().map((o) => `${o.vm_id}:${o.step}`);
      expect(new Set(keys).size).toBe(keys.length);
    } finally {
      await fleet.close();
    }
    for (const v of final) {
      const steps = await get<Array<{ state: string }>>(`${last.url}/api/v1/vms/${v.vm.id}/steps`);
      expect(steps.filter((s) => s.state === 'started')).toEqual([]);
    }
  });
});
