/**
 * planGroup: the group's start as data, with no I/O. Each step names its host, the
 * monitor it talks to, the exact command line or monitor line, what it waits for, and
 * its phase; a phase's steps run in parallel or in order (`parallel`). The order is the
 * protocol's: receivers, primaries, `gft_add_host` (or `gft_add_host2` when the backup's
 * join port is given) for every member on the leader in id order, the leader included,
 * `cuju-adjust-epoch` when asked, `migrate_set_capability cuju-ft on` on every member,
 * `gft_init` on the leader, then the confirmation of every member's protection from what
 * the groupft build shows (never GFT START, which it never reaches). For the seed
 * topology the monitor lines are add_host.sh's and gft_init.sh's.
 */
import { type CujuBuildProfile, type CujuVmSpec, cujuBuild, primaryArgv, receiverArgv } from '@cuju/sdk';
import { backupJoinPort, type GroupSpec, type MemberSpec, monitorPath, vmIp } from './spec.js';

/** The phases of a group's start, in order. */
export type GroupPhaseName =
  | 'receivers'
  | 'primaries'
  | 'add-hosts'
  | 'epoch'
  | 'capability'
  | 'init'
  | 'confirm';

/** The phases in their order. */
export const GROUP_PHASES: readonly GroupPhaseName[] = [
  'receivers',
  'primaries',
  'add-hosts',
  'epoch',
  'capability',
  'init',
  'confirm',
];

/** Which VM of a member. */
export type GroupRole = 'primary' | 'backup';

/** One VM the plan starts: where, with what, and its files. */
export interface GroupPlanVm {
  /** `m0.primary`, `m2.backup`: how steps and records name it. */
  key: string;
  member: number;
  role: GroupRole;
  /** The host's name in the spec. */
  host: string;
  /** The IP the group reaches it at. */
  ip: string;
  spec: CujuVmSpec;
  /** The whole command line, the binary first. */
  argv: string[];
  /** Its stdout log on its host. */
  logPath: string;
}

/** One step: a VM to start, a monitor line to send, or a member's protection to confirm. */
export interface GroupPlanStep {
  /** `launch-backup-0`, `add-host-1`, `capability-2`, `gft-init`, `confirm-0`, ... */
  id: string;
  phase: GroupPhaseName;
  action: 'launch' | 'send' | 'confirm';
  member: number;
  /** The VM the step acts on (its key in `vms`). */
  vm: string;
  /** Its host's name and address. */
  host: string;
  address: string;
  /** The monitor socket the line goes to (launch: the one that must answer). */
  monitor: string;
  /** launch: the command line. */
  argv?: string[];
  /** send: the exact monitor line. */
  line?: string;
  /** What the step waits for before it is done. */
  waitsFor: string;
}

/** One phase: its steps, and whether they may run at once. */
export interface GroupPlanPhase {
  name: GroupPhaseName;
  /** True: the steps run at once; false: one after the other, in order. */
  parallel: boolean;
  steps: GroupPlanStep[];
}

/** A group's start as data (see planGroup). */
export interface GroupPlan {
  spec: GroupSpec;
  build: CujuBuildProfile['name'];
  /** The leader's VM key (`m0.primary`). */
  leader: string;
  vms: GroupPlanVm[];
  phases: GroupPlanPhase[];
}

/** Cuju prints nothing on the monitor for these commands when they succeed. */
const QUIET = 'an empty answer (Cuju prints nothing on success) and no failure marker on stdout';

/** The plan of a checked spec (parseGroupSpec's result). Pure: no host is touched. */
export function planGroup(spec: GroupSpec): GroupPlan {
  const build = cujuBuild(spec.options.build as CujuBuildProfile['name'], 'options.build');
  const members = [...spec.members].sort((a, b) => a.id - b.id);
  const binary = [spec.options.binary.path, ...spec.options.binary.args];
  const vms: GroupPlanVm[] = [];
  for (const m of members) {
    const primary = vmSpec(spec, m, 'primary');
    const backup = vmSpec(spec, m, 'backup');
    vms.push({
      key: vmKey(m.id, 'backup'),
      member: m.id,
      role: 'backup',
      host: m.backup.host,
      ip: vmIp(spec, m.backup),
      spec: backup,
      argv: [...binary, ...receiverArgv(backup, { port: m.backup.ftPort }, build)],
      logPath: `${spec.options.workDir}/vm${m.id + 1}r.log`,
    });
    vms.push({
      key: vmKey(m.id, 'primary'),
      member: m.id,
      role: 'primary',
      host: m.primary.host,
      ip: vmIp(spec, m.primary),
      spec: primary,
      argv: [...binary, ...primaryArgv(primary, build)],
      logPath: `${spec.options.workDir}/vm${m.id + 1}.log`,
    });
  }
  const byKey = new Map(vms.map((v) => [v.key, v]));
  const address = (v: GroupPlanVm) => spec.hosts[v.host]?.address ?? v.ip;
  const at = (key: string) => {
    const v = byKey.get(key)!;
    return { vm: key, host: v.host, address: address(v), monitor: v.spec.monitorPath };
  };
  const leader = vmKey(0, 'primary');

  const launch = (role: GroupRole): GroupPlanStep[] =>
    members.map((m) => {
      const key = vmKey(m.id, role);
      return {
        id: `launch-${role}-${m.id}`,
        phase: role === 'backup' ? 'receivers' : 'primaries',
        action: 'launch',
        member: m.id,
        ...at(key),
        argv: byKey.get(key)!.argv,
        waitsFor: '`VM init finished` and its monitor answering',
      };
    });

  const addHosts: GroupPlanStep[] = members.map((m) => ({
    id: `add-host-${m.id}`,
    phase: 'add-hosts',
    action: 'send',
    member: m.id,
    ...at(leader),
    line: addHostLine(spec, m),
    waitsFor: QUIET,
  }));

  const phases: GroupPlanPhase[] = [
    { name: 'receivers', parallel: true, steps: launch('backup') },
    { name: 'primaries', parallel: true, steps: launch('primary') },
    { name: 'add-hosts', parallel: false, steps: addHosts },
  ];
  if (spec.options.epochUs !== undefined) {
    phases.push({
      name: 'epoch',
      parallel: true,
      steps: members.map((m) => ({
        id: `epoch-${m.id}`,
        phase: 'epoch',
        action: 'send',
        member: m.id,
        ...at(vmKey(m.id, 'primary')),
        line: `cuju-adjust-epoch ${spec.options.epochUs}`,
        waitsFor: QUIET,
      })),
    });
  }
  phases.push(
    {
      name: 'capability',
      parallel: true,
      steps: members.map((m) => ({
        id: `capability-${m.id}`,
        phase: 'capability',
        action: 'send',
        member: m.id,
        ...at(vmKey(m.id, 'primary')),
        line: 'migrate_set_capability cuju-ft on',
        waitsFor: QUIET,
      })),
    },
    {
      name: 'init',
      parallel: false,
      steps: [
        {
          id: 'gft-init',
          phase: 'init',
          action: 'send',
          member: 0,
          ...at(leader),
          line: 'gft_init',
          waitsFor: `${QUIET} (qmp_gft_leader_init error connect to ..., ... failed to receive MIG_JOIN_GFT_INIT_ACK ...)`,
        },
      ],
    },
    {
      name: 'confirm',
      parallel: true,
      steps: members.map((m) => ({
        id: `confirm-${m.id}`,
        phase: 'confirm',
        action: 'confirm',
        member: m.id,
        ...at(vmKey(m.id, 'primary')),
        waitsFor:
          "the backup's `first commit`, the primary's `migrate_timer tick 0`, and `info migrate` reading Cuju's FT state (never GFT START: groupft stays PRE)",
      })),
    },
  );
  return { spec, build: build.name, leader, vms, phases };
}

/** `gft_add_host ID IP JOINPORT MAC SLAVEIP FTPORT` (add_host.sh), or gft_add_host2 with the backup's join port. */
export function addHostLine(spec: GroupSpec, m: MemberSpec): string {
  const base = `${m.id} ${vmIp(spec, m.primary)} ${m.primary.joinPort} ${m.mac} ${vmIp(spec, m.backup)} ${m.backup.ftPort}`;
  return m.backup.joinPort === undefined
    ? `gft_add_host ${base}`
    : `gft_add_host2 ${base} ${m.backup.joinPort}`;
}

/** A VM's key: `m0.primary`. */
export function vmKey(member: number, role: GroupRole): string {
  return `m${member}.${role}`;
}

/** The VM spec of a member's primary or backup (run_ft / recv_b). */
export function vmSpec(spec: GroupSpec, m: MemberSpec, role: GroupRole): CujuVmSpec {
  const vm = m.vm ?? {};
  const tap = role === 'primary' ? (vm.tap ?? `tap${2 * m.id}`) : (vm.backupTap ?? `tap${2 * m.id + 1}`);
  return {
    ...(vm.image !== undefined ? { image: vm.image } : {}),
    ...(vm.memory !== undefined ? { memory: vm.memory } : {}),
    ...(vm.smp !== undefined ? { smp: vm.smp } : {}),
    // gft_script/run_ft has no -cpu.
    cpu: null,
    nic: { tap, mac: m.mac },
    monitorPath: monitorPath(spec, m, role),
    gftId: m.id,
    joinPort: role === 'primary' ? m.primary.joinPort : backupJoinPort(m),
  };
}

/**
 * The plan as text for `--dry-run`: a comment per step (`# [add-host-0] leader ... on
 * HOST`), then what is run or sent, verbatim: a command line joined with spaces (as the
 * seed scripts write it), or the monitor line.
 */
export function formatPlan(plan: GroupPlan): string {
  const out: string[] = [];
  const n = plan.spec.members.length;
  out.push(
    `# group${plan.spec.name ? ` ${plan.spec.name}` : ''}: ${n} members, Cuju ${plan.build}, leader ${plan.leader}`,
  );
  for (const phase of plan.phases) {
    out.push(`## ${phase.name} (${phase.parallel ? 'in parallel' : 'in order'})`);
    for (const s of phase.steps) {
      const where = `${s.host} (${s.address})`;
      if (s.action === 'launch') {
        out.push(`# [${s.id}] on ${where}, monitor ${s.monitor}; until ${s.waitsFor}`);
        out.push((s.argv ?? []).join(' '));
      } else if (s.action === 'send') {
        out.push(`# [${s.id}] to ${s.monitor} on ${where}; until ${s.waitsFor}`);
        out.push(s.line ?? '');
      } else {
        out.push(`# [${s.id}] member ${s.member}: until ${s.waitsFor}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}
