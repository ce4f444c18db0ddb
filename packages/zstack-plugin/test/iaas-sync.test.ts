/**
 * IaasSync's rules, with an adapter kept in memory and the deterministic fake fleet as the
 * driver (the ZStack flow on cuju-sim is zstack-e2e.test.ts): what is imported and what is
 * skipped, the backup limited to the adapter's candidates, hints making it look sooner,
 * publishing retried after failures, configuration refused, and everything closed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FtIntentInput,
  FtService,
  type FtStatus,
  type IaasAdapter,
  type IaasHint,
  type IaasSyncPass,
  type IaasVm,
  isFtServiceError,
} from '../src/index.js';
import { FakeFleet } from './helpers/fake-fleet.js';
import { eventually, quietLog, tempDir } from './helpers/tmp.js';

const HOSTS = ['sim-a', 'sim-b', 'sim-c'].map((name, i) => ({
  name,
  address: `127.0.0.${i + 2}`,
  capacity: { vms: 8, memoryMiB: 8192 },
}));

/** An IaaS in memory: its VMs, its candidates, and what it was asked to publish. */
class MemoryAdapter implements IaasAdapter {
  constructor(readonly name = 'mem') {}
  vms = new Map<string, IaasVm>();
  candidates: string[] = ['sim-b', 'sim-x'];
  published: Array<{ id: string; state: string }> = [];
  failPublishes = 0;
  closed = false;
  streams = 0;
  private push: ((h: IaasHint) => void) | undefined;

  add(iaasId: string, o: { host?: string; state?: IaasVm['state']; ft?: FtIntentInput }): IaasVm {
    const vm: IaasVm = {
      id: `${this.name}-${iaasId}`,
      iaasId,
      name: iaasId,
      host: o.host ?? 'sim-a',
      memoryMiB: 128,
      state: o.state ?? 'running',
      ft: 'ft' in o ? o.ft : { enabled: true },
    };
    this.vms.set(iaasId, vm);
    return vm;
  }
  hint(h: IaasHint): void {
    this.push?.(h);
  }
  lists = 0;
  async listVms(): Promise<IaasVm[]> {
    this.lists++;
    return [...this.vms.values()];
  }
  async getVm(iaasId: string): Promise<IaasVm | undefined> {
    return this.vms.get(iaasId);
  }
  async *hints(signal: AbortSignal): AsyncIterable<IaasHint> {
    this.streams++;
    const queue: IaasHint[] = [];
    let wake: (() => void) | undefined;
    this.push = (h) => {
      queue.push(h);
      wake?.();
    };
    signal.addEventListener('abort', () => wake?.(), { once: true });
    try {
      while (!signal.aborted) {
        const h = queue.shift();
        if (h) yield h;
        else await new Promise<void>((r) => (wake = r));
      }
    } finally {
      this.streams--;
    }
  }
  async candidateBackupHosts(vm: IaasVm): Promise<string[]> {
    return this.candidates.filter((c) => c !== vm.host);
  }
  async publishStatus(vm: IaasVm, status: FtStatus): Promise<void> {
    if (this.failPublishes > 0) {
      this.failPublishes--;
      throw new Error('the IaaS API is down');
    }
    this.published.push({ id: vm.id, state: status.state });
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const t = tempDir('fts-iaas-');
const mem = new MemoryAdapter();
const mem2 = new MemoryAdapter('mem2');
let service: FtService;
const passes: IaasSyncPass[] = [];

beforeAll(async () => {
  service = await FtService.start({
    store: { kind: 'sqlite', path: join(t.dir, 'fts.db') },
    driver: new FakeFleet({ path: join(t.dir, 'fleet.db') }),
    hosts: HOSTS,
    reconciler: { intervalMs: 50 },
    adapters: [mem, mem2],
    // Only hints (and the first pass) make it look: a test that passes proves the hint did it.
    iaas: { pollMs: 600_000, backoff: { baseMs: 20, maxMs: 200 } },
    logger: quietLog(),
    consoleDir: false,
  });
  service.iaas.onPass((p) => passes.push(p));
  await service.whenLeader();
});

afterAll(async () => {
  await service?.stop();
  t.cleanup();
  expect([mem.closed, mem2.closed]).toEqual([true, true]);
  expect([mem.streams, mem2.streams]).toEqual([0, 0]);
});

const view = (id: string) => service.api.getVm(id).catch(() => undefined);

describe('IaasSync', () => {
  it('refuses an adapter name that cannot prefix ids, a name given twice, a createVia not among the adapters', async () => {
    const bad = [
      { adapters: [new MemoryAdapter('Mem-1')] },
      { adapters: [mem, mem] },
      { adapters: [], createVia: { name: 'mem', createVm: async () => mem.add('x', {}) } },
    ];
    for (const extra of bad) {
      const err = await FtService.start({
        store: { kind: 'sqlite', path: join(t.dir, 'never.db') },
        driver: new FakeFleet({ path: join(t.dir, 'never-fleet.db') }),
        hosts: HOSTS,
        logger: quietLog(),
        consoleDir: false,
        ...extra,
      }).catch((e: unknown) => e);
      expect(isFtServiceError(err, 'FTS_CONFIG'), String(err)).toBe(true);
    }
  });

  it('imports a ticked running VM on a hint; the backup limited to the candidates the service knows', async () => {
    mem.add('vm1', {});
    mem.hint({ kind: 'vm-changed', iaasId: 'vm1' });
    const v = await eventually('mem-vm1 protected', async () => {
      const x = await view('mem-vm1');
      return x?.status.state === 'protected' ? x : undefined;
    });
    expect(v.intent.placement.allowedHosts).toEqual(['sim-b']);
    expect(v.status.secondaryHost).toBe('sim-b');
    await eventually('protected published', () =>
      mem.published.some((p) => p.id === 'mem-vm1' && p.state === 'protected'),
    );
  });

  it('skips a VM on a host the service lacks (and one with a bad option, naming it), a stopped one, an unticked one; no candidate: no backup host', async () => {
    mem.add('far', { host: 'elsewhere' });
    mem.add('off', { state: 'stopped' });
    mem.add('plain', { ft: undefined });
    mem.add('badopt', { ft: { enabled: true, epochUs: 5 } });
    mem.candidates = [];
    mem.add('lonely', { host: 'sim-c' });
    const before = passes.length;
    mem.hint({ kind: 'resync' });
    const pass = await eventually('a pass after the hint', () =>
      passes.slice(before).find((p) => p.imported.includes('mem-lonely')),
    );
    expect(pass.skipped).toEqual([
      { iaasId: 'far', why: "its host elsewhere is not one of the service's hosts" },
      { iaasId: 'badopt', why: expect.stringMatching(/^body\.ft\.epochUs: /) },
    ]);
    expect(await view('mem-off')).toBeUndefined();
    expect(await view('mem-plain')).toBeUndefined();
    const lonely = await eventually('mem-lonely not protected', async () => {
      const x = await view('mem-lonely');
      return x?.status.state === 'not-protected' ? x : undefined;
    });
    expect(lonely.status.reason).toBe('no-backup-host');
    expect(lonely.intent.placement.excludedHosts).toEqual(['sim-a', 'sim-b', 'sim-c']);
  });

  it('a failed publish is retried until it goes through; unticking turns FT off, unlisting deletes', async () => {
    mem.failPublishes = 2;
    const vm = mem.vms.get('vm1')!;
    vm.ft = undefined;
    mem.hint({ kind: 'vm-changed', iaasId: 'vm1' });
    await eventually('mem-vm1 disabled', async () => (await view('mem-vm1'))?.status.state === 'disabled');
    await eventually('disabled published after two failures', () =>
      mem.published.some((p) => p.id === 'mem-vm1' && p.state === 'disabled'),
    );
    expect(mem.failPublishes).toBe(0);
    mem.vms.delete('vm1');
    mem.hint({ kind: 'resync' });
    await eventually('mem-vm1 gone', async () => (await view('mem-vm1')) === undefined);
  });

  it('runs several adapters side by side: each imports its own VMs and gets its own statuses', async () => {
    mem2.add('two', {});
    mem2.hint({ kind: 'vm-changed', iaasId: 'two' });
    await eventually(
      'mem2-two protected',
      async () => (await view('mem2-two'))?.status.state === 'protected',
    );
    await eventually('published to mem2', () => mem2.published.some((p) => p.id === 'mem2-two'));
    expect(mem.published.some((p) => p.id === 'mem2-two')).toBe(false);
    expect(mem2.published.every((p) => p.id.startsWith('mem2-'))).toBe(true);
  });

  it('a follower does not sync: its adapters are neither listed nor streamed until it leads', async () => {
    const standby = new MemoryAdapter();
    standby.add('vm9', {});
    const follower = await FtService.start({
      store: { kind: 'sqlite', path: join(t.dir, 'fts.db') },
      driver: new FakeFleet({ path: join(t.dir, 'fleet.db') }),
      hosts: HOSTS,
      instanceId: 'standby',
      adapters: [standby],
      iaas: { pollMs: 50 },
      logger: quietLog(),
      consoleDir: false,
    });
    try {
      // The leader's passes go on meanwhile; the follower's adapter is never asked.
      const before = passes.length;
      mem.hint({ kind: 'resync' });
      await eventually('a leader pass', () => passes.length > before);
      expect(follower.isLeader).toBe(false);
      expect([standby.lists, standby.streams]).toEqual([0, 0]);
      expect(await view('mem-vm9')).toBeUndefined();
    } finally {
      await follower.stop();
    }
    expect(standby.closed).toBe(true);
  });

  it('a console VM never takes an adapter prefix', async () => {
    const r = await service.api.createVm({ name: 'mem-console', host: 'sim-a', memoryMiB: 64 });
    expect(r.vm.id).toBe('vm-mem-console');
  });
});
