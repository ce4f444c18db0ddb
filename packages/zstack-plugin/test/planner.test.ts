import { describe, expect, it } from 'vitest';
import {
  type FtIntent,
  type Host,
  type PairRecord,
  planVm,
  secondaryCandidates,
  type Usage,
  usageOf,
  type Vm,
  type VmFacts,
} from '../src/index.js';
import type { World } from '../src/store/store.js';

const now = new Date().toISOString();
const host = (name: string, vms = 4, memoryMiB = 4096, enabled = true): Host => ({
  name,
  address: '127.0.0.2',
  capacity: { vms, memoryMiB },
  enabled,
});
const vm = (id: string, h = 'a', over: Partial<Vm> = {}): Vm => ({
  id,
  name: id,
  host: h,
  memoryMiB: 512,
  desired: 'running',
  createdAt: now,
  ...over,
});
const intent = (vmId: string, over: Partial<FtIntent> = {}): FtIntent => ({
  vmId,
  enabled: true,
  engine: 'cuju',
  build: 'master',
  placement: { allowedHosts: [], excludedHosts: [] },
  reprotect: 'auto',
  generation: 1,
  updatedAt: now,
  ...over,
});
const record = (vmId: string, state: PairRecord['state'], primary = 'a', secondary?: string): PairRecord => ({
  version: 1,
  driver: 'test',
  vmId,
  engine: 'cuju',
  build: 'master',
  state,
  primary: { host: primary },
  ...(secondary ? { secondary: { host: secondary } } : {}),
  extra: {},
});
const facts = (
  v: Vm,
  i: FtIntent,
  rec?: PairRecord,
  live = true,
  requests: VmFacts['requests'] = [],
): VmFacts => ({
  vm: v,
  intent: i,
  stored: rec
    ? {
        status: { vmId: v.id, state: 'starting', figures: {}, lastChangeAt: now, observedGeneration: 1 },
        record: rec,
      }
    : undefined,
  live: rec && live ? { record: rec } : undefined,
  requests,
});
const noUsage = (): Usage => new Map();
const request = (vmId: string, action: 'test-failover' | 'restart-secondary') => ({
  id: 7,
  vmId,
  action,
  state: 'pending' as const,
  createdAt: now,
});

describe('placement', () => {
  const hosts = [host('a'), host('b', 1), host('c', 4, 1024), host('d', 4, 4096, false)];

  it("never places the secondary on the primary's host; prefers the least loaded, then the preferred host", () => {
    const r = secondaryCandidates(hosts, noUsage(), {
      primaryHost: 'a',
      memoryMiB: 512,
      placement: { allowedHosts: [], excludedHosts: [] },
    });
    expect(r).toEqual({ qualifies: true, candidates: ['b', 'c'] });
    const usage: Usage = new Map([
      ['b', { vms: 0, memoryMiB: 0 }],
      ['c', { vms: 2, memoryMiB: 0 }],
    ]);
    expect(
      secondaryCandidates(hosts, usage, {
        primaryHost: 'a',
        memoryMiB: 512,
        placement: { allowedHosts: [], excludedHosts: [], preferredHost: 'c' },
      }).candidates,
    ).toEqual(['c', 'b']);
  });

  it('respects capacity (VM count and memory), constraints and disabled hosts, and says why nothing qualifies', () => {
    const usage: Usage = new Map([
      ['b', { vms: 1, memoryMiB: 512 }],
      ['c', { vms: 1, memoryMiB: 768 }],
    ]);
    const r = secondaryCandidates(hosts, usage, {
      primaryHost: 'a',
      memoryMiB: 512,
      placement: { allowedHosts: [], excludedHosts: [] },
    });
    expect(r.qualifies).toBe(false);
    expect(r.reason).toContain('b is full (1 of 1 VMs)');
    expect(r.reason).toContain('c lacks memory (256 MiB free, 512 needed)');
    expect(r.reason).toContain('d is disabled');
    const only = secondaryCandidates(hosts, noUsage(), {
      primaryHost: 'a',
      memoryMiB: 512,
      placement: { allowedHosts: ['c'], excludedHosts: [] },
    });
    expect(only.candidates).toEqual(['c']);
    const excl = secondaryCandidates(hosts, noUsage(), {
      primaryHost: 'a',
      memoryMiB: 512,
      placement: { allowedHosts: [], excludedHosts: ['b', 'c'] },
    });
    expect(excl.qualifies).toBe(false);
    const alone = secondaryCandidates([host('a')], noUsage(), {
      primaryHost: 'a',
      memoryMiB: 1,
      placement: { allowedHosts: [], excludedHosts: [] },
    });
    expect(alone.reason).toMatch(/never runs on the primary's host/);
  });

  it('counts primaries, secondaries and steps under way', () => {
    const world: World = {
      hosts: [host('a'), host('b')],
      vms: [vm('v1', 'a'), vm('v2', 'a'), vm('v3', 'b', { desired: 'deleting' })],
      intents: new Map(),
      statuses: new Map([
        [
          'v1',
          {
            status: { vmId: 'v1', state: 'protected', figures: {}, lastChangeAt: now, observedGeneration: 1 },
            record: record('v1', 'protected', 'a', 'b'),
          },
        ],
      ]),
      openSteps: [],
      pendingRequests: [],
    };
    const inFlight = [
      {
        id: 1,
        vmId: 'v2',
        kind: 'protect' as const,
        params: { generation: 1, why: '', secondaryHost: 'b' },
        state: 'started' as const,
        fence: 1,
        startedAt: now,
      },
    ];
    const usage = usageOf(world, inFlight);
    expect(usage.get('a')).toEqual({ vms: 2, memoryMiB: 1024 });
    expect(usage.get('b')).toEqual({ vms: 2, memoryMiB: 1024 });
  });
});

describe('planner', () => {
  const hosts = [host('a'), host('b'), host('c')];

  it('launches with FT when asked (protect, secondary elsewhere), without when not', () => {
    const p = planVm(facts(vm('v1'), intent('v1')), hosts, noUsage());
    expect(p).toMatchObject({
      kind: 'step',
      step: { kind: 'protect', params: { primaryHost: 'a', secondaryHost: 'b' } },
    });
    const q = planVm(facts(vm('v1'), intent('v1', { enabled: false })), hosts, noUsage());
    expect(q).toMatchObject({ kind: 'step', step: { kind: 'launch', params: { primaryHost: 'a' } } });
    expect(q.kind === 'step' ? q.step.params.secondaryHost : 'not a step').toBeUndefined();
  });

  it('two VMs planned in one pass never take the same last slot', () => {
    const small = [host('a', 8), host('b', 1), host('c', 1)];
    const usage = noUsage();
    const p1 = planVm(facts(vm('v1'), intent('v1')), small, usage);
    const p2 = planVm(facts(vm('v2'), intent('v2')), small, usage);
    const p3 = planVm(facts(vm('v3'), intent('v3')), small, usage);
    const secondaries = [p1, p2].map((p) => (p.kind === 'step' ? p.step.params.secondaryHost : undefined));
    expect(new Set(secondaries)).toEqual(new Set(['b', 'c']));
    // No room left for a third secondary: it runs unprotected, and says why.
    expect(p3).toMatchObject({ kind: 'step', step: { kind: 'launch' } });
    expect(p3.kind === 'step' && p3.step.params.why).toMatch(/FT must wait: no host qualifies/);
  });

  it('attaches first to a record it holds no handle on (after a restart), never launches over it', () => {
    for (const state of ['launching', 'running', 'protected', 'failed-over'] as const) {
      const p = planVm(facts(vm('v1'), intent('v1'), record('v1', state, 'a', 'b'), false), hosts, noUsage());
      expect(p).toMatchObject({ kind: 'step', step: { kind: 'attach' } });
    }
    const stopped = planVm(facts(vm('v1'), intent('v1'), record('v1', 'stopped'), false), hosts, noUsage());
    expect(stopped).toMatchObject({ kind: 'step', step: { kind: 'protect' } });
  });

  it('turns FT on for a running VM, off for a protected one, and waits while a pair settles', () => {
    expect(planVm(facts(vm('v1'), intent('v1'), record('v1', 'running')), hosts, noUsage())).toMatchObject({
      kind: 'step',
      step: { kind: 'turn-on', params: { secondaryHost: 'b' } },
    });
    expect(
      planVm(
        facts(vm('v1'), intent('v1', { enabled: false }), record('v1', 'protected', 'a', 'b')),
        hosts,
        noUsage(),
      ),
    ).toMatchObject({
      kind: 'step',
      step: { kind: 'turn-off' },
    });
    for (const state of ['starting', 'failing-over', 'stopping'] as const) {
      expect(planVm(facts(vm('v1'), intent('v1'), record('v1', state, 'a', 'b')), hosts, noUsage())).toEqual({
        kind: 'idle',
      });
    }
    expect(
      planVm(facts(vm('v1'), intent('v1'), record('v1', 'protected', 'a', 'b')), hosts, noUsage()),
    ).toEqual({ kind: 'idle' });
  });

  it('restarts the secondary after a failover by policy (never on the survivor), or on request', () => {
    const failed = record('v1', 'failed-over', 'b');
    const auto = planVm(facts(vm('v1'), intent('v1'), failed), hosts, noUsage());
    expect(auto).toMatchObject({
      kind: 'step',
      step: { kind: 'restart-secondary', params: { primaryHost: 'b', secondaryHost: 'a' } },
    });
    expect(planVm(facts(vm('v1'), intent('v1', { reprotect: 'manual' }), failed), hosts, noUsage())).toEqual({
      kind: 'idle',
    });
    const asked = planVm(
      facts(vm('v1'), intent('v1', { reprotect: 'manual' }), failed, true, [
        request('v1', 'restart-secondary'),
      ]),
      hosts,
      noUsage(),
    );
    expect(asked).toMatchObject({
      kind: 'step',
      step: { kind: 'restart-secondary', params: { requestId: 7 } },
    });
    const lost = planVm(facts(vm('v1'), intent('v1'), record('v1', 'secondary-lost', 'a')), hosts, noUsage());
    expect(lost).toMatchObject({ kind: 'step', step: { kind: 'restart-secondary' } });
    const blocked = planVm(
      facts(vm('v1'), intent('v1', { placement: { allowedHosts: ['b'], excludedHosts: [] } }), failed),
      hosts,
      noUsage(),
    );
    expect(blocked).toMatchObject({ kind: 'blocked', reason: 'no-backup-host' });
  });

  it('carries out Test Failover only on a protected VM; refuses it otherwise', () => {
    const p = planVm(
      facts(vm('v1'), intent('v1'), record('v1', 'protected', 'a', 'b'), true, [
        request('v1', 'test-failover'),
      ]),
      hosts,
      noUsage(),
    );
    expect(p).toMatchObject({ kind: 'step', step: { kind: 'test-failover', params: { requestId: 7 } } });
    const r = planVm(
      facts(vm('v1'), intent('v1'), record('v1', 'running'), true, [request('v1', 'test-failover')]),
      hosts,
      noUsage(),
    );
    expect(r).toMatchObject({ kind: 'refuse-request' });
  });

  it('stops a deleted VM', () => {
    expect(
      planVm(
        facts(vm('v1', 'a', { desired: 'deleting' }), intent('v1'), record('v1', 'protected', 'a', 'b')),
        hosts,
        noUsage(),
      ),
    ).toMatchObject({
      kind: 'step',
      step: { kind: 'stop' },
    });
  });
});
