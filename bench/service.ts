/**
 * The FT service suite (`npm run bench -- service`):
 *
 * - reconcile: one reconcile pass over 1,000 FT intents against a fake fleet (every VM
 *   already protected, so the pass is the store read plus planning, no step), SQLite
 *   store; per intent. Floors in the same run: the store read alone (loadWorld) and the
 *   planning alone (planVm over the 1,000 facts in memory).
 * - protect: from the checkbox (POST /api/v1/vms with ft.enabled) to Protected for 1, 8
 *   and 32 VMs on the simulated cluster (cuju-sim from its dist/, two hosts 127.0.0.2/.3,
 *   the real FtPair through the FtPairDriver), default concurrency 4. Floor: one FtPair
 *   up() on its own, no service.
 * - takeover: HA mode on a throwaway PostgreSQL, three real service processes, lease
 *   period 1,500 ms; SIGKILL the leader, time until a follower reports itself leader
 *   (5 runs). Floor: the lease period itself (a follower may take over only once the
 *   killed leader's lease has expired).
 *
 * Prints one JSON line per figure on stdout; progress on stderr. Leaves no process behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FtPair, LocalHost } from '../packages/cuju-sdk/src/index.js';
import {
  type FtDriver,
  FtPairDriver,
  FtService,
  FtStore,
  localFreePort,
  type PairObservation,
  type PairRecord,
  planVm,
  Reconciler,
  usageOf,
} from '../packages/zstack-plugin/src/index.js';
import { requirePostgres, startPostgres } from '../packages/zstack-plugin/test/helpers/postgres.js';
import { kill, type ServiceProc, startServiceProc } from '../packages/zstack-plugin/test/helpers/procs.js';

const print = (r: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ suite: 'service', ...r })}\n`);
const note = (m: string) => process.stderr.write(`# ${m}\n`);
const r1 = (v: number) => Math.round(v * 10) / 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const quiet = { level: 'silent' } as const;
const { pino } = await import('pino');
const silent = pino(quiet);
const SIM = fileURLToPath(new URL('../packages/cuju-sim/bin/cuju-sim.mjs', import.meta.url));

/** A fleet where every VM already runs protected: the pass plans nothing (store + planning only). */
class ProtectedFleet implements FtDriver {
  readonly name = 'bench-fleet';
  supports() {
    return true;
  }
  observe(vmId: string): PairObservation {
    return { record: protectedRecord(vmId) };
  }
  subscribe() {
    return () => {};
  }
  async close() {}
  launch = unused;
  protect = unused;
  turnOn = unused;
  turnOff = unused;
  restartSecondary = unused;
  testFailover = unused;
  down = unused;
  attach = unused;
}
async function unused(): Promise<never> {
  throw new Error('the reconcile benchmark plans no step');
}
function protectedRecord(vmId: string): PairRecord {
  const n = Number(vmId.slice(2));
  return {
    version: 1,
    driver: 'bench-fleet',
    vmId,
    engine: 'cuju',
    build: 'master',
    state: 'protected',
    primary: { host: `h${n % 10}` },
    secondary: { host: `h${(n + 1) % 10}` },
    extra: {},
  };
}

export async function reconcileCost(): Promise<void> {
  const N = 1000;
  const dir = mkdtempSync(join(tmpdir(), 'fts-bench-'));
  try {
    const store = await FtStore.open({ kind: 'sqlite', path: join(dir, 'fts.db') });
    const token = (await store.tryAcquire('bench', 'http://bench', 3_600_000))!;
    const now = new Date().toISOString();
    await store.write(token, async (w) => {
      for (let h = 0; h < 10; h++) {
        await w.upsertHost({
          name: `h${h}`,
          address: `127.0.0.${h + 2}`,
          capacity: { vms: 1000, memoryMiB: 1 << 20 },
          enabled: true,
        });
      }
      for (let i = 0; i < N; i++) {
        const id = `vm${i}`;
        const record = protectedRecord(id);
        await w.insertVm({
          id,
          name: id,
          host: record.primary.host,
          memoryMiB: 256,
          desired: 'running',
          createdAt: now,
        });
        await w.putIntent({
          vmId: id,
          enabled: true,
          engine: 'cuju',
          build: 'master',
          placement: { allowedHosts: [], excludedHosts: [] },
          reprotect: 'auto',
          generation: 1,
          updatedAt: now,
        });
        await w.putStatus(
          {
            vmId: id,
            state: 'protected',
            primaryHost: record.primary.host,
            secondaryHost: record.secondary!.host,
            figures: {},
            lastChangeAt: now,
            observedGeneration: 1,
          },
          record,
        );
      }
    });
    const fleet = new ProtectedFleet();
    const rec = new Reconciler(store, fleet, { current: token }, silent);
    const runs = 15;
    const pass: number[] = [];
    const read: number[] = [];
    const plan: number[] = [];
    for (let r = 0; r < runs + 2; r++) {
      let t0 = performance.now();
      await rec.pass();
      const p = performance.now() - t0;
      t0 = performance.now();
      const world = await store.loadWorld();
      const l = performance.now() - t0;
      t0 = performance.now();
      const usage = usageOf(world, []);
      for (const vm of world.vms) {
        planVm(
          {
            vm,
            intent: world.intents.get(vm.id)!,
            stored: world.statuses.get(vm.id),
            live: fleet.observe(vm.id),
            requests: [],
          },
          world.hosts,
          usage,
        );
      }
      const q = performance.now() - t0;
      if (r >= 2) {
        pass.push(p);
        read.push(l);
        plan.push(q);
      }
    }
    const steps = await store.listSteps({});
    if (steps.length !== 0) throw new Error('the pass planned steps: the benchmark would measure the fleet');
    for (const [contender, xs] of [
      ['reconcile-pass', pass],
      ['floor-store-read', read],
      ['floor-planning', plan],
    ] as const) {
      print({
        measure: 'reconcile-1000-intents',
        contender,
        store: 'sqlite',
        runs,
        median_ms: r1(median(xs)),
        per_intent_us: r1((median(xs) * 1000) / N),
      });
    }
    await rec.stop();
    await rec.detach();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function checkboxToProtected(): Promise<void> {
  const hosts = [
    { name: 'sim-a', address: '127.0.0.2', capacity: { vms: 64, memoryMiB: 65_536 } },
    { name: 'sim-b', address: '127.0.0.3', capacity: { vms: 64, memoryMiB: 65_536 } },
  ];
  // Floor: one pair brought up by FtPair itself.
  {
    const dir = mkdtempSync(join(tmpdir(), 'fts-bench-'));
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      const pair = new FtPair({
        build: 'master',
        primary: new LocalHost({ address: '127.0.0.2' }),
        backup: new LocalHost({ address: '127.0.0.3' }),
        vm: { name: `floor${i}`, memory: 128, monitorPath: join(dir, `f${i}.monitor`) },
        backupVm: { monitorPath: join(dir, `f${i}r.monitor`) },
        binary: { path: process.execPath, args: [SIM] },
        ftPort: await localFreePort(),
        logDir: dir,
      });
      const t0 = performance.now();
      try {
        await pair.up();
        samples.push(performance.now() - t0);
      } finally {
        await pair.down();
      }
    }
    rmSync(dir, { recursive: true, force: true });
    print({
      measure: 'checkbox-to-protected',
      contender: 'floor-ftpair-up',
      vms: 1,
      runs: 3,
      median_ms: r1(median(samples)),
    });
  }
  for (const n of [1, 8, 32]) {
    const dir = mkdtempSync(join(tmpdir(), 'fts-bench-'));
    const driver = new FtPairDriver({
      hosts: new Map(hosts.map((h) => [h.name, new LocalHost({ address: h.address })])),
      builds: { master: { path: process.execPath, args: [SIM] } },
      runDir: join(dir, 'run'),
      stopOnClose: true,
      timeouts: { launchMs: 120_000, syncMs: 120_000 },
    });
    const service = await FtService.start({
      store: { kind: 'sqlite', path: join(dir, 'fts.db') },
      driver,
      hosts,
      logger: silent,
      consoleDir: false,
      reconciler: { intervalMs: 500 },
    });
    try {
      await service.whenLeader();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const res = await fetch(`${service.url}/api/v1/vms`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            name: `vm${i}`,
            host: i % 2 ? 'sim-b' : 'sim-a',
            memoryMiB: 64,
            ft: { enabled: true },
          }),
        });
        if (res.status !== 201) throw new Error(`create answered ${res.status}`);
      }
      const deadline = Date.now() + 600_000;
      let firstMs: number | undefined;
      for (;;) {
        const statuses = await service.store.listStatuses();
        const done = statuses.filter((s) => s.status.state === 'protected').length;
        if (done > 0) firstMs ??= performance.now() - t0;
        if (done === n) break;
        if (Date.now() > deadline) throw new Error(`only ${done} of ${n} protected in time`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const allMs = performance.now() - t0;
      // A step that failed under load was retried by the reconciler (backoff): say how many.
      const retried = await service.store.listSteps({ states: ['failed'] });
      print({
        measure: 'checkbox-to-protected',
        contender: 'service-ftpair-sim',
        vms: n,
        concurrency: 4,
        first_protected_ms: r1(firstMs!),
        all_protected_ms: r1(allMs),
        per_vm_ms: r1(allMs / n),
        failed_steps_retried: retried.length,
      });
      note(`${n} VMs protected in ${Math.round(allMs)} ms`);
    } finally {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

export async function takeover(): Promise<void> {
  if (!requirePostgres()) {
    note('takeover: PostgreSQL missing, skipped');
    return;
  }
  const TTL = 1500;
  const pgServer = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'fts-bench-'));
  const procs: ServiceProc[] = [];
  const config = (instanceId: string) => ({
    store: { kind: 'postgres', connectionString: pgServer.url },
    fleetPath: join(dir, 'fleet.db'),
    instanceId,
    leaseTtlMs: TTL,
    hosts: [{ name: 'h1', address: '127.0.0.2', capacity: { vms: 1, memoryMiB: 1024 } }],
  });
  const role = async (p: ServiceProc) => {
    const res = await fetch(`${p.url}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    return res?.status === 200 ? ((await res.json()) as { role: string }).role : undefined;
  };
  try {
    for (const id of ['b1', 'b2', 'b3']) procs.push(await startServiceProc(config(id)));
    const samples: number[] = [];
    for (let run = 0; run < 5; run++) {
      let leader: ServiceProc | undefined;
      while (!leader) {
        for (const p of procs) if ((await role(p)) === 'leader') leader = p;
        await new Promise((r) => setTimeout(r, 20));
      }
      const t0 = performance.now();
      await kill(leader);
      const rest = procs.filter((p) => p !== leader);
      let next: ServiceProc | undefined;
      while (!next) {
        for (const p of rest) if ((await role(p)) === 'leader') next = p;
        if (!next) await new Promise((r) => setTimeout(r, 10));
      }
      samples.push(performance.now() - t0);
      procs.splice(procs.indexOf(leader), 1);
      procs.push(await startServiceProc(config(`b${4 + run}`)));
    }
    print({
      measure: 'leader-takeover',
      contender: 'service-postgres',
      runs: samples.length,
      lease_ms: TTL,
      median_ms: r1(median(samples)),
      max_ms: r1(Math.max(...samples)),
      max_over_lease: Math.round((Math.max(...samples) / TTL) * 100) / 100,
    });
    print({ measure: 'leader-takeover', contender: 'floor-lease-period', lease_ms: TTL, median_ms: TTL });
  } finally {
    for (const p of procs) await kill(p);
    await pgServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  note('service: reconcile cost, 1,000 intents');
  await reconcileCost();
  note('service: checkbox to Protected on cuju-sim (1, 8, 32 VMs)');
  await checkboxToProtected();
  note('service: leader takeover on PostgreSQL');
  await takeover();
}
