/**
 * The group spec: one file (YAML or JSON) that says everything add_host.sh, gft_init.sh
 * and the per-host run_ft / recv_b scripts spread over many files. `GroupSpec` is the zod
 * schema (field shapes and defaults); parseGroupSpec adds the group's cross-field rules
 * and reports every problem at once, each with its path (`members[2].mac`) and rule,
 * before any host is touched. groupSpecJsonSchema() is the JSON Schema for editors.
 */
import { cujuBuild, isCujuBuildName } from '@cuju/sdk';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { GroupSpecError, type GroupSpecProblem } from './errors.js';

/** GROUP_FT_MEMBER_MAX (group_ft.h@d2e55fe:5). */
export const GROUP_MEMBER_MAX = 100;

// Dotted IPv4 without leading zeros. Cuju copies these fields into char[16] (GroupFTMember):
// at most 15 characters, which any such address is; longer text is refused by its own rule.
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const ipv4 = z
  .string()
  .max(15, { message: 'at most 15 characters: Cuju copies it into a 16-byte field' })
  .regex(IPV4, { message: 'must be a dotted IPv4 address (a.b.c.d, no leading zeros)' });
const port = z.number().int().min(1).max(65_535);
const absPath = z.string().min(1).startsWith('/', { message: 'must be an absolute path' });
const hostName = z.string().regex(NAME, { message: 'must name a host of `hosts`' });

/** A host on this machine (cuju-sim on loopback, or Cuju run locally). */
const LocalHostSpec = z.strictObject({
  kind: z.literal('local'),
  /** The address the other hosts reach it at (default 127.0.0.1); also the default IP of its VMs. */
  address: ipv4
    .default('127.0.0.1')
    .describe('The address the other hosts reach it at (default 127.0.0.1); also the default IP of its VMs.'),
});

/** A host reached over SSH, with its host key checked. */
const SshHostSpec = z.strictObject({
  kind: z.literal('ssh'),
  /** The address the other hosts reach it at; also the default IP of its VMs. */
  address: ipv4.describe('The address the other hosts reach it at; also the default IP of its VMs.'),
  /** Where to connect for SSH (default: `address`). */
  sshHost: z.string().min(1).optional().describe('Where to connect for SSH (default: `address`).'),
  port: port.default(22),
  user: z.string().min(1),
  /** An OpenSSH private key file on this machine. */
  privateKeyPath: z.string().min(1).optional().describe('An OpenSSH private key file on this machine.'),
  /** An ssh-agent socket (e.g. $SSH_AUTH_SOCK). */
  agent: z.string().min(1).optional().describe('An ssh-agent socket (e.g. $SSH_AUTH_SOCK).'),
  hostKey: z.union([
    z.strictObject({ knownHostsPath: z.string().min(1) }),
    z.strictObject({ sha256: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/) }),
  ]),
});

/** A host of the spec (zod): `local` or `ssh`. */
export const HostSpec = z.discriminatedUnion('kind', [LocalHostSpec, SshHostSpec]);

/** A member's primary: the VM that runs the guest (run_ft). */
const PrimarySpec = z.strictObject({
  host: hostName,
  /** Its IP as the other members reach it (`gft_add_host`'s master_host_ip); default its host's address. */
  ip: ipv4
    .optional()
    .describe(
      "Its IP as the other members reach it (`gft_add_host`'s master_host_ip); default its host's address.",
    ),
  /** `-ft-join-port` (`gft_add_host`'s master_host_gft_port); Cuju's default 5000. */
  joinPort: port
    .default(5000)
    .describe("`-ft-join-port` (`gft_add_host`'s master_host_gft_port); Cuju's default 5000."),
  /** Its monitor socket (default WORKDIR/vmN.monitor, N = id + 1, as the seeds). */
  monitor: absPath
    .optional()
    .describe('Its monitor socket (default WORKDIR/vmN.monitor, N = id + 1, as the seeds).'),
});

/** A member's backup: the receiver (recv_b). */
const BackupSpec = z.strictObject({
  host: hostName,
  /** Its IP (`gft_add_host`'s slave_host_ip); default its host's address. */
  ip: ipv4.optional().describe("Its IP (`gft_add_host`'s slave_host_ip); default its host's address."),
  /** `-incoming tcp:0:PORT,ft_mode` (`slave_host_ft_port`). */
  ftPort: port.describe('`-incoming tcp:0:PORT,ft_mode` (`slave_host_ft_port`).'),
  /**
   * Its own `-ft-join-port` (every groupft VM binds one). Given: the member is added with
   * `gft_add_host2` (slave_host_join_port). Absent: `gft_add_host`, and the backup binds
   * the primary's join port + 1, as recv_b does.
   */
  joinPort: port
    .optional()
    .describe(
      "Its own `-ft-join-port` (every groupft VM binds one). Given: the member is added with `gft_add_host2` (slave_host_join_port). Absent: `gft_add_host`, and the backup binds the primary's join port + 1, as recv_b does.",
    ),
  /** Its monitor socket (default WORKDIR/vmNr.monitor). */
  monitor: absPath.optional().describe('Its monitor socket (default WORKDIR/vmNr.monitor).'),
});

/** What the member's VMs are started with besides the group's fields. */
const VmOptionsSpec = z.strictObject({
  /** The raw disk image (absent: no disk; cuju-sim runs none). */
  image: z.string().min(1).optional().describe('The raw disk image (absent: no disk; cuju-sim runs none).'),
  /** `-m` (`1G`, `2048M`, or MiB). */
  memory: z
    .union([z.string().min(1), z.number().int().positive()])
    .optional()
    .describe('`-m` (`1G`, `2048M`, or MiB).'),
  smp: z.number().int().min(1).max(255).optional(),
  /** The primary's tap (default tap(2*id)); the backup's is `backupTap` (default tap(2*id+1)). */
  tap: z
    .string()
    .min(1)
    .max(15)
    .optional()
    .describe("The primary's tap (default tap(2*id)); the backup's is `backupTap` (default tap(2*id+1))."),
  backupTap: z.string().min(1).max(15).optional(),
});

/** One group member: its id, its MAC, its primary and its backup. */
export const MemberSpec = z.strictObject({
  /** `-gft-id`: 0..n-1, the leader is 0. */
  id: z.number().int().min(0).describe('`-gft-id`: 0..n-1, the leader is 0.'),
  /** The guest's MAC (`gft_add_host`'s master_mac; both VMs use it). */
  mac: z
    .string()
    .regex(MAC, { message: 'must be a MAC address: six hex pairs, colon-separated' })
    .describe("The guest's MAC (`gft_add_host`'s master_mac; both VMs use it)."),
  primary: PrimarySpec,
  backup: BackupSpec,
  vm: VmOptionsSpec.optional(),
});

/** A slot for a new receiver when the group is re-protected (one per member to re-protect). */
export const SpareSpec = z.strictObject({
  host: hostName,
  ip: ipv4.optional(),
  ftPort: port,
  joinPort: port,
  /** Default WORKDIR/spareK.monitor (K = slot index + 1). */
  monitor: absPath.optional().describe('Default WORKDIR/spareK.monitor (K = slot index + 1).'),
});

/** Deadlines (ms). */
const TimeoutsSpec = z.strictObject({
  /** A VM's start until its monitor answers (default 30 000). */
  launchMs: z
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe("A VM's start until its monitor answers (default 30 000)."),
  /** From gft_init until every member is confirmed protected (default 60 000). */
  protectMs: z
    .number()
    .int()
    .positive()
    .default(60_000)
    .describe('From gft_init until every member is confirmed protected (default 60 000).'),
  /** A monitor command's answer (default 10 000). */
  commandMs: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe("A monitor command's answer (default 10 000)."),
  /** SIGTERM to SIGKILL when a VM is stopped (default 2 000). */
  stopGraceMs: z
    .number()
    .int()
    .min(0)
    .default(2_000)
    .describe('SIGTERM to SIGKILL when a VM is stopped (default 2 000).'),
});

const OptionsSpec = z.strictObject({
  /** The Cuju build: one with group FT (`groupft`). */
  build: z.string().default('groupft').describe('The Cuju build: one with group FT (`groupft`).'),
  /** `cuju-adjust-epoch`, in microseconds, sent to every primary before gft_init (absent: Cuju's default). */
  epochUs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      "`cuju-adjust-epoch`, in microseconds, sent to every primary before gft_init (absent: Cuju's default).",
    ),
  /** Where each host keeps monitor sockets and logs (default /tmp/cuju-gft). */
  workDir: absPath
    .default('/tmp/cuju-gft')
    .describe('Where each host keeps monitor sockets and logs (default /tmp/cuju-gft).'),
  /** The Cuju binary on every host, and arguments before Cuju's own (cuju-sim's script). */
  binary: z
    .strictObject({ path: z.string().min(1), args: z.array(z.string()).default([]) })
    .default({ path: './x86_64-softmmu/qemu-system-x86_64', args: [] }),
  /** Through sudo on every host. */
  sudo: z.boolean().default(false).describe('Through sudo on every host.'),
  timeouts: TimeoutsSpec.default({
    launchMs: 30_000,
    protectMs: 60_000,
    commandMs: 10_000,
    stopGraceMs: 2_000,
  }),
});

/**
 * The group spec's schema (zod): hosts by name, members in any order (ids 0..n-1), spare
 * receiver slots for re-protection, options. Field shapes and defaults only: the group's
 * cross-field rules are parseGroupSpec's.
 */
export const GroupSpec = z.strictObject({
  /** Optional label, shown in plans and records. */
  name: z.string().min(1).optional().describe('Optional label, shown in plans and records.'),
  hosts: z.record(z.string().regex(NAME, { message: 'a host name: letters, digits, _ . -' }), HostSpec),
  members: z.array(MemberSpec).min(2).max(GROUP_MEMBER_MAX),
  spares: z.array(SpareSpec).default([]),
  options: OptionsSpec.default({
    build: 'groupft',
    workDir: '/tmp/cuju-gft',
    binary: { path: './x86_64-softmmu/qemu-system-x86_64', args: [] },
    sudo: false,
    timeouts: { launchMs: 30_000, protectMs: 60_000, commandMs: 10_000, stopGraceMs: 2_000 },
  }),
});

/** A checked group spec with its defaults applied (what parseGroupSpec returns). */
export type GroupSpec = z.output<typeof GroupSpec>;
/** A group spec as written (YAML/JSON, or an object): defaults may be left out. */
export type GroupSpecInput = z.input<typeof GroupSpec>;
/** One host of the spec. */
export type HostSpec = z.output<typeof HostSpec>;
/** One member of the spec. */
export type MemberSpec = z.output<typeof MemberSpec>;
/** One spare receiver slot of the spec. */
export type SpareSpec = z.output<typeof SpareSpec>;

/** parseGroupSpec's options. */
export interface ParseGroupSpecOptions {
  /** How text is read: `yaml` (default; JSON is YAML too) or `json` (strict JSON). */
  format?: 'yaml' | 'json';
}

/**
 * Reads a group spec (text or an object), checks every field and the group's rules, and
 * returns it typed with its defaults; GroupSpecError lists every problem otherwise.
 */
export function parseGroupSpec(input: string | unknown, options: ParseGroupSpecOptions = {}): GroupSpec {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = options.format === 'json' ? JSON.parse(input) : parseYaml(input);
    } catch (err) {
      throw new GroupSpecError([
        { path: '', rule: 'syntax', message: `not ${options.format ?? 'yaml'}: ${(err as Error).message}` },
      ]);
    }
  }
  const parsed = GroupSpec.safeParse(value);
  if (!parsed.success) {
    throw new GroupSpecError(
      parsed.error.issues.map((i) => ({ path: formatPath(i.path), rule: i.code, message: i.message })),
    );
  }
  const problems = groupRules(parsed.data);
  if (problems.length > 0) throw new GroupSpecError(problems);
  return parsed.data;
}

/** The JSON Schema of a group spec (draft 2020-12), for editors: zod's z.toJSONSchema of `GroupSpec`. */
export function groupSpecJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(GroupSpec, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://github.com/cuju-ft/cuju-ft-sdk/blob/main/packages/gft/schema/group-spec.schema.json',
    title: 'Cuju group FT spec',
    description:
      'A Cuju group FT (groupft build): hosts, members (gft id, primary, backup, MAC, ports), spare receiver slots, options. Cross-field rules (ids 0..n-1, unique MACs and host:port pairs) are checked by parseGroupSpec.',
  };
}

/** `members[2].mac` from zod's path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** The IP the other members reach a VM at: its own, else its host's address. */
export function vmIp(spec: GroupSpec, role: { host: string; ip?: string | undefined }): string {
  return role.ip ?? spec.hosts[role.host]?.address ?? '';
}

/** The backup's join port: given, else the primary's + 1 (recv_b). */
export function backupJoinPort(member: MemberSpec): number {
  return member.backup.joinPort ?? member.primary.joinPort + 1;
}

/** The default monitor paths of the seeds: vmN.monitor and vmNr.monitor, N = id + 1. */
export function monitorPath(spec: GroupSpec, member: MemberSpec, role: 'primary' | 'backup'): string {
  const given = role === 'primary' ? member.primary.monitor : member.backup.monitor;
  return given ?? `${spec.options.workDir}/vm${member.id + 1}${role === 'backup' ? 'r' : ''}.monitor`;
}

/** A spare slot's monitor path. */
export function spareMonitorPath(spec: GroupSpec, index: number): string {
  return spec.spares[index]?.monitor ?? `${spec.options.workDir}/spare${index + 1}.monitor`;
}

/** The group's cross-field rules (the issue's list), every problem with its path. */
function groupRules(spec: GroupSpec): GroupSpecProblem[] {
  const problems: GroupSpecProblem[] = [];
  const add = (path: string, rule: string, message: string) => problems.push({ path, rule, message });

  // A build with group FT.
  const build = spec.options.build;
  if (!isCujuBuildName(build)) {
    add('options.build', 'build', `unknown Cuju build '${build}'`);
  } else if (cujuBuild(build).gft === undefined) {
    add('options.build', 'build-has-gft', `the ${build} build has no group FT (use groupft)`);
  }

  // Ids 0..n-1, each once; the leader is 0.
  const n = spec.members.length;
  const seen = new Map<number, number>();
  spec.members.forEach((m, i) => {
    if (m.id >= n)
      add(`members[${i}].id`, 'ids', `must be in 0..${n - 1} (ids are 0..n-1 for n = ${n} members)`);
    const first = seen.get(m.id);
    if (first !== undefined) add(`members[${i}].id`, 'ids', `id ${m.id} is also members[${first}]'s`);
    else seen.set(m.id, i);
  });
  if (!seen.has(0)) add('members', 'leader', 'no member has id 0: the leader is member 0');

  // Unique MACs (Cuju reads them with sscanf("%x:..."): compare as numbers).
  const macs = new Map<string, number>();
  spec.members.forEach((m, i) => {
    const key = m.mac
      .split(':')
      .map((h) => Number.parseInt(h, 16))
      .join(':');
    const first = macs.get(key);
    if (first !== undefined)
      add(`members[${i}].mac`, 'unique-mac', `${m.mac} is also members[${first}]'s MAC`);
    else macs.set(key, i);
  });

  // Host references.
  const hostOf = (path: string, name: string): string | undefined => {
    const h = spec.hosts[name];
    if (!h) {
      add(path, 'host-ref', `no host '${name}' in hosts`);
      return undefined;
    }
    return h.address;
  };

  // Every port a VM binds, per host address: join ports distinct per host, then any host:port once.
  const bound = new Map<string, { path: string; join: boolean }>();
  const bind = (address: string | undefined, p: number, path: string, join: boolean) => {
    if (address === undefined) return;
    if (p > 65_535) {
      add(path, 'port', `${p} is out of range (1..65535)`);
      return;
    }
    const key = `${address}:${p}`;
    const first = bound.get(key);
    if (first === undefined) {
      bound.set(key, { path, join });
      return;
    }
    if (join && first.join) {
      add(
        path,
        'distinct-join-ports',
        `join port ${p} is also ${first.path} on ${address}: every groupft VM binds its own -ft-join-port (default 5000) and aborts when it cannot`,
      );
    } else add(path, 'unique-host-port', `${key} is also ${first.path}`);
  };
  const monitors = new Map<string, string>();
  const monitor = (address: string | undefined, path: string, field: string) => {
    if (address === undefined) return;
    const key = `${address}:${path}`;
    const first = monitors.get(key);
    if (first !== undefined) add(field, 'unique-monitor', `${path} is also ${first}'s monitor on ${address}`);
    else monitors.set(key, field);
  };
  spec.members.forEach((m, i) => {
    const pa = hostOf(`members[${i}].primary.host`, m.primary.host);
    const ba = hostOf(`members[${i}].backup.host`, m.backup.host);
    bind(pa, m.primary.joinPort, `members[${i}].primary.joinPort`, true);
    bind(ba, m.backup.ftPort, `members[${i}].backup.ftPort`, false);
    bind(ba, backupJoinPort(m), `members[${i}].backup.joinPort`, true);
    monitor(pa, monitorPath(spec, m, 'primary'), `members[${i}].primary.monitor`);
    monitor(ba, monitorPath(spec, m, 'backup'), `members[${i}].backup.monitor`);
  });
  spec.spares.forEach((s, i) => {
    const a = hostOf(`spares[${i}].host`, s.host);
    bind(a, s.ftPort, `spares[${i}].ftPort`, false);
    bind(a, s.joinPort, `spares[${i}].joinPort`, true);
    monitor(a, spareMonitorPath(spec, i), `spares[${i}].monitor`);
  });
  return problems;
}
