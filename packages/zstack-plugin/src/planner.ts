/**
 * The planner: from what is asked (intent, desired VM state, pending requests) and what
 * is (the stored record, the driver's live view), the next step for each VM, as data.
 * Pure and level-triggered: the same facts give the same plan, whatever woke it up, and a
 * step already taken shows in the facts (so planning twice never means doing twice).
 */
import type { PairObservation, PairRecord } from './driver.js';
import type { ActionRequest, FtIntent, Host, NotProtectedReason, PlannedStep, Step, Vm } from './model.js';
import { reserve, secondaryCandidates, type Usage } from './placement.js';
import type { StoredStatus, World } from './store/store.js';

export interface VmFacts {
  vm: Vm;
  intent: FtIntent;
  stored: StoredStatus | undefined;
  /** The driver's live view: undefined when this process holds no handle on the pair. */
  live: PairObservation | undefined;
  requests: readonly ActionRequest[];
}

export type VmPlan =
  | { kind: 'step'; step: PlannedStep }
  /** Nothing can be done now; the status says why (no backup host qualifies). */
  | { kind: 'blocked'; reason: NotProtectedReason; detail: string }
  /** A request that makes no sense in this state: refuse it, with why. */
  | { kind: 'refuse-request'; request: ActionRequest; why: string }
  | { kind: 'idle' };

/** The states in which a step of the driver is still under way: wait for it. */
const SETTLING = new Set<PairRecord['state']>(['starting', 'stopping', 'failing-over']);

export function planVm(facts: VmFacts, hosts: readonly Host[], usage: Usage): VmPlan {
  const { vm, intent, stored, live, requests } = facts;
  const record = live?.record ?? stored?.record;
  const generation = intent.generation;
  const step = (
    kind: PlannedStep['kind'],
    why: string,
    extra: Partial<PlannedStep['params']> = {},
  ): VmPlan => ({
    kind: 'step',
    step: { vmId: vm.id, kind, params: { generation, why, ...extra } },
  });

  if (vm.desired === 'deleting') return step('stop', 'the VM was deleted');

  const running = record !== undefined && record.state !== 'stopped' && record.state !== 'error';
  if (running && live === undefined) {
    // A record from an earlier process (restart, takeover, crash mid-step): check the world
    // before anything else, never launch again over VMs that may still run.
    return step('attach', `find the VMs of the ${record.state} record again`);
  }

  const secondary = (primaryHost: string) => {
    const check = secondaryCandidates(hosts, usage, {
      primaryHost,
      memoryMiB: vm.memoryMiB,
      placement: intent.placement,
    });
    return check.qualifies ? { host: check.candidates[0]! } : { reason: check.reason! };
  };

  if (!running) {
    if (!intent.enabled) return step('launch', 'the VM should run', { primaryHost: vm.host });
    const s = secondary(vm.host);
    if ('host' in s) {
      reserve(usage, s.host, vm.memoryMiB);
      return step('protect', 'the VM should run with FT', { primaryHost: vm.host, secondaryHost: s.host });
    }
    // No secondary possible: run the VM anyway, unprotected (the status will say why).
    return step('launch', `the VM should run; FT must wait: ${s.reason}`, { primaryHost: vm.host });
  }

  const state = record.state;
  if (SETTLING.has(state) || state === 'launching') return { kind: 'idle' };
  const primaryHost = record.primary.host;
  const pendingFailover = requests.find((r) => r.action === 'test-failover');
  const pendingRestart = requests.find((r) => r.action === 'restart-secondary');

  if (pendingFailover && state !== 'protected') {
    return {
      kind: 'refuse-request',
      request: pendingFailover,
      why: `Test Failover needs a protected VM; it is ${state}`,
    };
  }
  if (pendingRestart && !(state === 'failed-over' || state === 'secondary-lost')) {
    return {
      kind: 'refuse-request',
      request: pendingRestart,
      why: `Restart Secondary needs a VM that has failed over or lost its secondary; it is ${state}`,
    };
  }

  switch (state) {
    case 'running': {
      if (!intent.enabled) return { kind: 'idle' };
      const s = secondary(primaryHost);
      if (!('host' in s)) return { kind: 'blocked', reason: 'no-backup-host', detail: s.reason };
      reserve(usage, s.host, vm.memoryMiB);
      return step('turn-on', 'FT was turned on for a running VM', { primaryHost, secondaryHost: s.host });
    }
    case 'protected':
      if (!intent.enabled) return step('turn-off', 'FT was turned off', { primaryHost });
      if (pendingFailover)
        return step('test-failover', 'Test Failover was asked', {
          primaryHost,
          requestId: pendingFailover.id,
        });
      return { kind: 'idle' };
    case 'failed-over':
    case 'secondary-lost': {
      if (!intent.enabled) return { kind: 'idle' };
      if (intent.reprotect === 'manual' && !pendingRestart) return { kind: 'idle' };
      const s = secondary(primaryHost);
      if (!('host' in s)) return { kind: 'blocked', reason: 'no-backup-host', detail: s.reason };
      reserve(usage, s.host, vm.memoryMiB);
      return step(
        'restart-secondary',
        pendingRestart ? 'Restart Secondary was asked' : `re-protect after ${state} (policy: auto)`,
        { primaryHost, secondaryHost: s.host, ...(pendingRestart ? { requestId: pendingRestart.id } : {}) },
      );
    }
  }
  return { kind: 'idle' };
}

/**
 * What every host holds or has been promised: each VM's primary and secondary, and the
 * hosts of steps under way (so two steps planned in one pass never share the last slot).
 */
export function usageOf(world: World, inFlight: readonly Step[]): Usage {
  const usage: Usage = new Map();
  const byId = new Map(world.vms.map((v) => [v.id, v]));
  for (const vm of world.vms) {
    if (vm.desired === 'deleting') continue;
    const rec = world.statuses.get(vm.id)?.record;
    const running = rec !== undefined && rec.state !== 'stopped' && rec.state !== 'error';
    // A VM not running yet will run on its asked host.
    reserve(usage, running ? rec.primary.host : vm.host, vm.memoryMiB);
    if (running) reserve(usage, rec.secondary?.host, vm.memoryMiB);
  }
  for (const s of inFlight) {
    const vm = byId.get(s.vmId);
    const shown = world.statuses.get(s.vmId)?.record?.secondary?.host;
    if (vm && s.params.secondaryHost && s.params.secondaryHost !== shown) {
      reserve(usage, s.params.secondaryHost, vm.memoryMiB);
    }
  }
  return usage;
}
