/**
 * The public operations over a group: runPlan (start it from a plan), upGroup (parse,
 * plan, run), attachGroup (find a recorded group's VMs again), groupStatus, watchGroup,
 * reprotect and downGroup, each taking a live FtGroup or a GroupRecord from an earlier
 * process.
 */
import { type CujuVmSpec, type Host, receiverArgv, VmSession } from '@cuju/sdk';
import { GftError } from './errors.js';
import type { GroupFailoverReport, GroupStatus } from './events.js';
import { type DownOptions, FtGroup, type RunOptions, type WatchOptions } from './group.js';
import { openHosts } from './hosts.js';
import {
  type GroupPlan,
  type GroupPlanPhase,
  type GroupPlanStep,
  type GroupPlanVm,
  planGroup,
  vmKey,
} from './plan.js';
import type { GroupRecord } from './record.js';
import { type GroupSpec, spareMonitorPath, vmIp } from './spec.js';

/** A group that runPlan started: the FtGroup it resolves with. */
export type GroupRun = FtGroup;

/** runPlan's options: a run's, and hosts opened by the caller. */
export interface RunPlanOptions extends RunOptions {
  /** The spec's hosts by name, opened by the caller (kept open). Absent: opened from the spec, closed by down(). */
  hosts?: Map<string, Host>;
}

/**
 * Runs a plan (planGroup's): every phase in order, the steps of a parallel phase at once,
 * with progress events. Resolves with the group once every member is protected. A failure
 * rejects with GroupRunError (GFT_STEP_FAILED: which step, why, and the stdout marker
 * that explains it); `signal` rejects with GFT_ABORTED. Either way every VM it started
 * has been stopped and its files removed before it rejects.
 */
export async function runPlan(plan: GroupPlan, options: RunPlanOptions = {}): Promise<GroupRun> {
  if (options.signal?.aborted) {
    throw new GftError('GFT_ABORTED', 'runPlan() was cancelled before it started', {
      cause: options.signal.reason,
    });
  }
  const hosts =
    options.hosts ??
    (await openHosts(
      plan.spec,
      plan.vms.map((v) => v.host),
    ));
  const group = new FtGroup(plan, hosts, options.hosts === undefined);
  await group.execute(plan, options, 'stop-all');
  return group;
}

/** parseGroupSpec's result, planned and run (planGroup, then runPlan). */
export function upGroup(spec: GroupSpec, options: RunPlanOptions = {}): Promise<GroupRun> {
  return runPlan(planGroup(spec), options);
}

/** attachGroup's options. */
export interface AttachGroupOptions {
  /** The spec's hosts by name (kept open). Absent: opened from the spec and closed by down() or release(). */
  hosts?: Map<string, Host>;
}

/**
 * The group a record names, in this process: each VM adopted from its pid and log (its
 * lines read from the start, so its markers count), no monitor opened (a new monitor
 * connection during FT can crash Cuju: issue #13). VMs that are gone show as gone.
 */
export async function attachGroup(record: GroupRecord, options: AttachGroupOptions = {}): Promise<FtGroup> {
  const plan = planGroup(record.spec);
  const vms: GroupPlanVm[] = record.vms.map((v) => ({
    key: v.key,
    member: v.member,
    role: v.role,
    host: v.host,
    ip: v.ip,
    spec: v.spec,
    argv: v.argv,
    logPath: v.logPath,
  }));
  const hosts =
    options.hosts ??
    (await openHosts(
      record.spec,
      vms.map((v) => v.host),
    ));
  const group = new FtGroup({ ...plan, vms }, hosts, options.hosts === undefined, record.generation);
  for (const [i, v] of vms.entries()) {
    const r = record.vms[i]!;
    const host = group.host(v.host);
    // The log's size now: its lines up to there are read before the group is handed out.
    const size = await host
      .run(['stat', '-c', '%s', '--', r.logPath])
      .then((x) => Number.parseInt(x.stdout.trim(), 10) || 0)
      .catch(() => 0);
    const session = await VmSession.adopt({
      host,
      name: `member ${v.member} ${v.role}`,
      spec: v.spec,
      ref: { pid: r.pid, logPath: r.logPath, ...(r.sudo ? { sudo: true } : {}) },
      owner: group.owner,
      files: [v.spec.monitorPath],
      offset: 0,
    });
    group.adopt(v, session);
    await group.caughtUp(v.key, size, record.spec.options.timeouts.commandMs);
  }
  return group;
}

/** A live group or a record of one. */
export type GroupTarget = FtGroup | GroupRecord;

/** The group's state: from the live group, or from a record (its VMs adopted, read, then let go). */
export async function groupStatus(
  target: GroupTarget,
  options: AttachGroupOptions = {},
): Promise<GroupStatus> {
  if (target instanceof FtGroup) return target.status();
  const group = await attachGroup(target, options);
  try {
    return group.status();
  } finally {
    await group.release();
  }
}

/**
 * Watches a group until it fails over (FtGroup.watch): member deaths, the surviving
 * primaries' exits, which backups took over and when, and the state after.
 */
export async function watchGroup(
  target: GroupTarget,
  options: WatchOptions & AttachGroupOptions = {},
): Promise<GroupFailoverReport> {
  if (target instanceof FtGroup) return target.watch(options);
  const group = await attachGroup(target, options);
  try {
    return await group.watch(options);
  } finally {
    await group.release();
  }
}

/** Stops every VM of the group and removes their files. */
export async function downGroup(
  target: GroupTarget,
  options: DownOptions & AttachGroupOptions = {},
): Promise<void> {
  const group = target instanceof FtGroup ? target : await attachGroup(target, options);
  await group.down(options);
}

/** reprotect's options: a run's, and the hosts when a record is given. */
export type ReprotectOptions = RunOptions & AttachGroupOptions;

/**
 * A new group from the VMs that run now, after a group failover: each member's backup,
 * which took over, becomes its primary; a new receiver for each is started on the spec's
 * spare slots (`spares`, n per re-protection: Cuju's own backup pool has no effect at the
 * groupft tip, so this pool is ours); then gft_add_host for every member on the new
 * leader, cuju-ft on every member, gft_init, and the same confirmation as up. Needs the
 * group in `failed-over`. Resolves with the group (the given one, or the one attached
 * from a record); on failure the new receivers are stopped and the survivors run on.
 *
 * What Cuju cannot do (cuju-builds.md, the seed manual): add a member to a running group
 * (gft_add_member tears the group down at the tip; the manual needs a commit before it),
 * or re-protect a single member while the others stay protected: without GFT_RESYNC one
 * failure fails the whole group over, so re-protection forms the whole group anew.
 */
export async function reprotect(target: GroupTarget, options: ReprotectOptions = {}): Promise<FtGroup> {
  if (target instanceof FtGroup) return reprotectGroup(target, options);
  const group = await attachGroup(target, options);
  try {
    return await reprotectGroup(group, options);
  } catch (err) {
    // The VMs run on; this process lets go of them (the record still names them).
    await group.release();
    throw err;
  }
}

async function reprotectGroup(group: FtGroup, options: ReprotectOptions): Promise<FtGroup> {
  const status = group.status();
  if (status.state !== 'failed-over') {
    throw new GftError(
      'GFT_STATE',
      `reprotect() needs a group that failed over (every backup running the guest); this one is ${status.state}: ${status.summary}`,
    );
  }
  const spec = group.spec;
  const members = [...spec.members].sort((a, b) => a.id - b.id);
  const n = members.length;
  const first = (group.generation - 1) * n;
  if (spec.spares.length < first + n) {
    throw new GftError(
      'GFT_NO_SPARES',
      `re-protection #${group.generation} needs spare slots ${first}..${first + n - 1} (one new receiver per member); spares has ${spec.spares.length}`,
    );
  }
  const build = group.engine.build;
  const timeouts = spec.options.timeouts;
  await group.openHosts(spec.spares.slice(first, first + n).map((s) => s.host));
  // The dead primaries go (their files too); each survivor becomes its member's primary.
  await group.stopVms(members.map((m) => vmKey(m.id, 'primary')));
  const vms: GroupPlanVm[] = [];
  for (const [i, m] of members.entries()) {
    const survivor = group.vm(vmKey(m.id, 'backup'));
    if (!survivor) throw new GftError('GFT_STATE', `member ${m.id} has no surviving backup`);
    const primary: GroupPlanVm = { ...survivor.plan, key: vmKey(m.id, 'primary'), role: 'primary' };
    group.rekey(vmKey(m.id, 'backup'), primary);
    const session = group.vm(primary.key)!.session;
    // It runs on its own since its takeover: its monitor is safe to open (attachGroup opened none).
    group.engine.setInFt(session, false);
    if (!session.monitor) {
      session.monitor = await group.engine.openMonitor(group.host(primary.host), primary.spec, {
        timeoutMs: timeouts.launchMs,
        signal: options.signal,
      });
    }
    vms.push(primary);
    const slot = spec.spares[first + i]!;
    const recv: CujuVmSpec = {
      ...(m.vm?.image !== undefined ? { image: m.vm.image } : {}),
      ...(m.vm?.memory !== undefined ? { memory: m.vm.memory } : {}),
      ...(m.vm?.smp !== undefined ? { smp: m.vm.smp } : {}),
      cpu: null,
      nic: { tap: `tap${2 * n + first + i}`, mac: m.mac },
      monitorPath: spareMonitorPath(spec, first + i),
      gftId: m.id,
      joinPort: slot.joinPort,
    };
    vms.push({
      key: vmKey(m.id, 'backup'),
      member: m.id,
      role: 'backup',
      host: slot.host,
      ip: vmIp(spec, slot),
      spec: recv,
      argv: [
        spec.options.binary.path,
        ...spec.options.binary.args,
        ...receiverArgv(recv, { port: slot.ftPort }, build),
      ],
      logPath: `${spec.options.workDir}/spare${first + i + 1}.log`,
    });
  }
  const byKey = new Map(vms.map((v) => [v.key, v]));
  const at = (key: string) => {
    const v = byKey.get(key)!;
    return {
      vm: key,
      host: v.host,
      address: spec.hosts[v.host]?.address ?? v.ip,
      monitor: v.spec.monitorPath,
    };
  };
  const leader = vmKey(0, 'primary');
  const quiet = 'an empty answer and no failure marker on stdout';
  const step = (
    s: Omit<GroupPlanStep, 'vm' | 'host' | 'address' | 'monitor'>,
    key: string,
  ): GroupPlanStep => ({
    ...s,
    ...at(key),
  });
  const phases: GroupPlanPhase[] = [
    {
      name: 'receivers',
      parallel: true,
      steps: members.map((m) =>
        step(
          {
            id: `launch-backup-${m.id}`,
            phase: 'receivers',
            action: 'launch',
            member: m.id,
            argv: byKey.get(vmKey(m.id, 'backup'))!.argv,
            waitsFor: '`VM init finished` and its monitor answering',
          },
          vmKey(m.id, 'backup'),
        ),
      ),
    },
    {
      name: 'add-hosts',
      parallel: false,
      steps: members.map((m) => {
        const p = byKey.get(vmKey(m.id, 'primary'))!;
        const b = byKey.get(vmKey(m.id, 'backup'))!;
        const slot = spec.spares[first + members.indexOf(m)]!;
        return step(
          {
            id: `add-host-${m.id}`,
            phase: 'add-hosts',
            action: 'send',
            member: m.id,
            line: `gft_add_host ${m.id} ${p.ip} ${p.spec.joinPort} ${m.mac} ${b.ip} ${slot.ftPort}`,
            waitsFor: quiet,
          },
          leader,
        );
      }),
    },
    {
      name: 'capability',
      parallel: true,
      steps: members.map((m) =>
        step(
          {
            id: `capability-${m.id}`,
            phase: 'capability',
            action: 'send',
            member: m.id,
            line: 'migrate_set_capability cuju-ft on',
            waitsFor: quiet,
          },
          vmKey(m.id, 'primary'),
        ),
      ),
    },
    {
      name: 'init',
      parallel: false,
      steps: [
        step(
          { id: 'gft-init', phase: 'init', action: 'send', member: 0, line: 'gft_init', waitsFor: quiet },
          leader,
        ),
      ],
    },
    {
      name: 'confirm',
      parallel: true,
      steps: members.map((m) =>
        step(
          {
            id: `confirm-${m.id}`,
            phase: 'confirm',
            action: 'confirm',
            member: m.id,
            waitsFor:
              "the new backup's `first commit`, the primary's `migrate_timer tick`, `info migrate` in FT",
          },
          vmKey(m.id, 'primary'),
        ),
      ),
    },
  ];
  const plan: GroupPlan = { spec, build: build.name, leader, vms, phases };
  await group.execute(plan, options, 'stop-started');
  return group;
}
