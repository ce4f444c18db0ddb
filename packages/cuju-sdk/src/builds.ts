/**
 * Cuju is not one binary (reference cuju-builds.md §1): its default branch, the unmerged
 * group-FT branch and the unmerged block-server branch each have their own monitor
 * commands, command-line options and stdout texts. A profile is what one of them has,
 * as data, with the commit it was read at; the SDK never sends a line the build lacks.
 *
 * Every fact below was read in Cuju-ft/Cuju at the named commit (file@commit:line).
 */

import {
  CUJU_BUILD_NAMES,
  type CujuBuildName,
  type CujuCommandName,
  type CujuOption,
  type GftStatus,
} from './build-names.js';
import { CujuArgumentError } from './errors.js';
import type { CujuMarkerKind } from './marker-types.js';
import { checkText } from './validate.js';

export type { CujuBuildName, CujuCommandName, CujuOption, GftStatus } from './build-names.js';
export { CUJU_BUILD_NAMES, CUJU_OPTIONS } from './build-names.js';

/** One `mon_cmd_t` entry: `.args_type`, `.params` and `.help` exactly as in the .hx file. */
export interface CujuCommandSpec {
  readonly argsType: string;
  readonly params: string;
  readonly help: string;
  /** Where it was read: `hmp-commands.hx@COMMIT:LINE`. */
  readonly source: string;
}

/** What one Cuju build has, as data: its commands, options, markers and behaviour, with the commit it follows. */
export interface CujuBuildProfile {
  readonly name: CujuBuildName;
  /** The commit this profile follows (short hash) and what it is. */
  readonly commit: string;
  readonly summary: string;
  /** VERSION (2.8.0 in every build); the monitor banner reads `QEMU 2.8.0 monitor - ...`. */
  readonly qemuVersion: string;
  readonly commands: Readonly<Partial<Record<CujuCommandName, CujuCommandSpec>>>;
  /** The Cuju options its vl.c accepts; any other Cuju option is `invalid option`. */
  readonly options: readonly CujuOption[];
  /** The stdout markers its sources print (markers.ts kinds). */
  readonly markers: readonly CujuMarkerKind[];
  /** `new epoch size is N us.` or the older `... N ms.`; N is microseconds either way. */
  readonly epochMarkerUnit: 'us' | 'ms';
  readonly infoMigrate: {
    /** `GFT STATUS PRE|WAIT` precedes the upstream lines. */
    readonly gftStatusLine: boolean;
    /** qmp_query_migrate prints `in func qmp_query_migrate ` (trailing space) on stdout. */
    readonly queryMigrateOnStdout: boolean;
  };
  /** Group FT, when the build has it. */
  readonly gft:
    | {
        /** The values `gft_status` takes at this commit (never START at the groupft tip). */
        readonly statuses: readonly GftStatus[];
        readonly initialStatus: GftStatus;
        /** `int ft_join_port = 5000;` */
        readonly defaultJoinPort: number;
        /** Every VM binds 0:join-port at start and aborts when it cannot (`assert(!gft_init(...))`). */
        readonly joinPortAlwaysBound: boolean;
        /** GFT_RESYNC compiled in: a member failure re-forms the group instead of failing it over. */
        readonly resync: boolean;
      }
    | undefined;
  /**
   * `sets-capability`: `migrate -c` turns `cuju-ft` on by itself and a plain `migrate`
   * turns it off (PR #85). `needs-capability`: `-c` without `cuju-ft on` is an ordinary
   * live migration.
   */
  readonly migrateCuju: 'sets-capability' | 'needs-capability';
  /** `takeover` on a receiver in FT (a crash anywhere else), or a `stub` that only prints. */
  readonly failover: 'takeover' | 'stub';
  /**
   * How a primary shows that its epochs run: `cuju-get-ft-started` (`ft_started: 1`), or,
   * without that command, `info migrate` reading `cancelled` (Cuju writes its private
   * MIG_STATE_ACTIVE, 3, into the upstream status field when FT starts).
   */
  readonly ftRunningCheck: 'ft-started' | 'info-migrate';
  /**
   * What the primary does when its backup dies: `back-to-non-ft` (master: `...receive
   * ACK1 failed.`, FT off, migration status unchanged) or `ft-error` (cuju_ft_mode -1,
   * migration `failed`).
   */
  readonly backupDeath: 'back-to-non-ft' | 'ft-error';
}

// ---------------------------------------------------------------------------------------
// Command entries. Upstream QEMU 2.8's are identical in the three trees.

const cmd = (argsType: string, params: string, help: string, source: string): CujuCommandSpec => ({
  argsType,
  params,
  help,
  source,
});

/** Cuju's migrate help: the `-c` line was pasted into the middle of the `-i` sentence (kept verbatim). */
const MIGRATE_HELP_TAIL =
  '\n\t\t\t -b for migration without shared storage with' +
  ' full copy of disk\n\t\t\t -i for migration without ' +
  '\n\t\t\t -c enter cuju ft mode' +
  'shared storage with incremental copy of disk ' +
  '(base image shared between src and destination)';

const MIGRATE_ARGS = 'detach:-d,blk:-b,inc:-i,cuju:-c,uri:s';
const MIGRATE_PARAMS = '[-d] [-b] [-i] [-c] uri';
const GFT_HOST_ARGS =
  'gft_id:i,master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i';
const GFT_HOST_PARAMS =
  'gft_id master_host_ip master_host_gft_port master_mac slave_host_ip slave_host_ft_port';

const upstream = (commit: string, migrateLine: number, capabilityLine: number) => ({
  help: cmd('name:S?', '[cmd]', 'show the help', `hmp-commands.hx@${commit}`),
  info: cmd(
    'item:s?',
    '[subcommand]',
    'show various information about the system state',
    `hmp-commands.hx@${commit}`,
  ),
  migrate: cmd(
    MIGRATE_ARGS,
    MIGRATE_PARAMS,
    `migrate to URI (using -d to not wait for completion)${MIGRATE_HELP_TAIL}`,
    `hmp-commands.hx@${commit}:${migrateLine}`,
  ),
  migrate_set_capability: cmd(
    'capability:s,state:b',
    'capability state',
    'Enable/Disable the usage of a capability for migration',
    `hmp-commands.hx@${commit}:${capabilityLine}`,
  ),
});

const failoverCmd = (commit: string, line: number) =>
  cmd('', '', 'call failover', `hmp-commands.hx@${commit}:${line}`);
const epochCmd = (commit: string, line: number) =>
  cmd('epoch:i', 'epoch', 'adjust epoch size in cuju-ft', `hmp-commands.hx@${commit}:${line}`);
const gftAddHostCmd = (commit: string, line: number) =>
  cmd(
    GFT_HOST_ARGS,
    GFT_HOST_PARAMS,
    'add a master/slave pair to group ft',
    `hmp-commands.hx@${commit}:${line}`,
  );
// Cuju copied gft_add_host's help text into gft_init.
const gftInitCmd = (commit: string, line: number) =>
  cmd('', '', 'add a master/slave pair to group ft', `hmp-commands.hx@${commit}:${line}`);

// Markers every build prints (migration.c, cuju-ft-trans-file.c, vl.c of each tree).
const COMMON_MARKERS: readonly CujuMarkerKind[] = [
  'vm-init-finished',
  'epoch-size',
  'enter-ft-mode',
  'start-memory-backup',
  'timer-tick',
  'migrate-fd-close-skip',
  'ft-ack-failed',
  'ft-incoming',
  'first-commit',
  'ft-trans-close',
  'failover-vm-started',
  'read-pages-disconn',
  'read-headers-disconn',
  'failover-called',
  'migration-load-failed',
  'qemu-warning',
  'qemu-error',
];

// ---------------------------------------------------------------------------------------
// The three builds.

const MASTER: CujuBuildProfile = {
  name: 'master',
  commit: '21f9f0b',
  summary:
    'the default branch (2022): plain FT pairs, cuju-migrate-cancel and cuju-get-*; no group FT, no block server',
  qemuVersion: '2.8.0',
  commands: {
    ...upstream('21f9f0b', 896, 998),
    'cuju-failover': failoverCmd('21f9f0b', 1787),
    'cuju-adjust-epoch': epochCmd('21f9f0b', 1802),
    'cuju-get-ft-started': cmd('', '', 'Get started of Cuju-ft', 'hmp-commands.hx@21f9f0b:1818'),
    'cuju-get-ft-mode': cmd(
      '',
      '',
      'Get current ft mode information of Cuju',
      'hmp-commands.hx@21f9f0b:1834',
    ),
    'cuju-migrate-cancel': cmd(
      '',
      '',
      'cancel the current VM fault tolerance',
      'hmp-commands.hx@21f9f0b:1850',
    ),
  },
  // vl.c@21f9f0b has no QEMU_OPTION_ft_join_port / gft_id / blk_server*: lookup_opt refuses them.
  options: [],
  markers: [
    ...COMMON_MARKERS,
    // migration.c@21f9f0b:2695, 2414, 3071 (the last only with ASYNC_INIT_MIGRATION, off by default)
    'start-cuju-process',
    'ft-ack-received',
    'async-transfer',
  ],
  // cuju-kvm-share-mem.c@21f9f0b:136
  epochMarkerUnit: 'us',
  infoMigrate: { gftStatusLine: false, queryMigrateOnStdout: false },
  gft: undefined,
  // migration.c@21f9f0b:1513-1519, before the "in progress" check.
  migrateCuju: 'sets-capability',
  // cuju-ft-trans-file.c@21f9f0b:1315-1318: cuju_ft_trans_close(last_cuju_ft_trans).
  failover: 'takeover',
  ftRunningCheck: 'ft-started',
  // migration.c@21f9f0b:2441-2482 (backup_close), 2190-2196 (cuju_migrate_cancel_con).
  backupDeath: 'back-to-non-ft',
};

const GROUPFT: CujuBuildProfile = {
  name: 'groupft',
  commit: 'd2e55fe',
  summary:
    'group FT (PR #42/#43, 2019, never merged): gft_* commands, -ft-join-port and -gft-id, on an older FT core',
  qemuVersion: '2.8.0',
  commands: {
    ...upstream('d2e55fe', 949, 1051),
    info_migrate: cmd('', '', 'get migration info', 'hmp-commands.hx@d2e55fe:856'),
    migrate_pause: cmd('', '', 'pause migration', 'hmp-commands.hx@d2e55fe:864'),
    migrate_resume: cmd('', '', 'resume migration', 'hmp-commands.hx@d2e55fe:872'),
    gft_member_live_mig: cmd(
      MIGRATE_ARGS,
      MIGRATE_PARAMS,
      `do live migration memory backup and pause VM (using -d to not wait for completion)${MIGRATE_HELP_TAIL}`,
      'hmp-commands.hx@d2e55fe:880',
    ),
    gft_add_member: cmd(
      'master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i',
      'master_host_ip master_host_gft_port master_mac slave_host_ip slave_host_ft_port',
      'add member which is already done live migration to GFT',
      'hmp-commands.hx@d2e55fe:893',
    ),
    gft_add_backup: cmd(
      'slave_host_ip:s,slave_incoming_port:i',
      'slave_host_ip slave_incoming_port',
      'add backup VM to the pool. When GFT member failed, it will find a VM from the backup VMs pool to rebuild fault tolerance',
      'hmp-commands.hx@d2e55fe:901',
    ),
    'cuju-failover': failoverCmd('d2e55fe', 1838),
    'cuju-adjust-epoch': epochCmd('d2e55fe', 1853),
    gft_add_host: gftAddHostCmd('d2e55fe', 1868),
    gft_init: gftInitCmd('d2e55fe', 1882),
    gft_add_host2: cmd(
      `${GFT_HOST_ARGS},slave_host_join_port:i`,
      `${GFT_HOST_PARAMS} slave_host_join_port`,
      'add a master/slave pair to group ft with slave ft join port',
      'hmp-commands.hx@d2e55fe:1896',
    ),
  },
  // qemu-options.hx@d2e55fe:3283-3287
  options: ['-ft-join-port', '-gft-id'],
  markers: [
    ...COMMON_MARKERS,
    // migration.c@d2e55fe:985 (`in func %s \n`), 2918, 3612, 4271, 4344, 4453/4486, 4464/4497, 4547, 2689/2713, 4577
    'query-migrate',
    'gft-wait-others',
    'migration-paused',
    'gft-reset-all',
    'gft-reset-all-join-port',
    'gft-add-host-started',
    'gft-add-host-bad-mac',
    'gft-leader-connect-error',
    'gft-member-connect-error',
    'gft-init-ack-missing',
    // iohandler.c@d2e55fe:83, only when built with ft_debug_mode_enable
    'set-fd',
  ],
  // cuju-kvm-share-mem.c of the groupft tree prints `us` as master does (cuju-builds.md §5).
  epochMarkerUnit: 'us',
  // hmp.c@d2e55fe:177-186 and migration.c@d2e55fe:985
  infoMigrate: { gftStatusLine: true, queryMigrateOnStdout: true },
  gft: {
    // migration.c@d2e55fe:236 (GFT_PRE), 4291 (WAIT in gft_reset_all), 3618 (back to PRE in migrate_run);
    // nothing assigns GFT_START.
    statuses: ['PRE', 'WAIT'],
    initialStatus: 'PRE',
    defaultJoinPort: 5000, // vl.c@d2e55fe:214
    joinPortAlwaysBound: true, // vl.c@d2e55fe:4728
    resync: false, // `//#define GFT_RESYNC`, migration.c@d2e55fe:52
  },
  // migration.c@d2e55fe:1582-1584: -c only prints; migrate_cuju_enabled() decides (3130).
  migrateCuju: 'needs-capability',
  failover: 'takeover', // cuju-ft-trans-file.c@d2e55fe:1324-1327
  ftRunningCheck: 'info-migrate',
  backupDeath: 'ft-error', // migration.c@d2e55fe:2985-2988, 3025-3030
};

const BLK_SERVER: CujuBuildProfile = {
  name: 'blk-server',
  commit: '4b17b51',
  summary:
    'the block server (PR #27, never merged): -blk-server, -blk-server-listen, and the group-FT era core without gft_status',
  qemuVersion: '2.8.0',
  commands: {
    ...upstream('4b17b51', 896, 998),
    'cuju-failover': failoverCmd('4b17b51', 1785),
    'cuju-adjust-epoch': epochCmd('4b17b51', 1800),
    gft_add_host: gftAddHostCmd('4b17b51', 1815),
    gft_init: gftInitCmd('4b17b51', 1829),
  },
  // qemu-options.hx@4b17b51:3283-3287, 4077-4088
  options: ['-ft-join-port', '-gft-id', '-blk-server', '-blk-server-listen'],
  markers: [
    ...COMMON_MARKERS,
    // migration.c@4b17b51:2970, 2701, 2665; vl.c@4b17b51:4542, 4757; kvm_blk.c@4b17b51:237
    'start-cuju-process',
    'ft-ack-received',
    'gft-wait-others',
    'gft-add-host-started',
    'gft-add-host-bad-mac',
    'gft-leader-connect-error',
    'gft-member-connect-error',
    'gft-init-ack-missing',
    'blk-server-init',
    'blk-client-ret',
    'blk-client-accepted',
  ],
  // cuju-kvm-share-mem.c@4b17b51:142
  epochMarkerUnit: 'ms',
  // hmp.c@4b17b51 hmp_info_migrate is upstream's; qmp_query_migrate prints nothing.
  infoMigrate: { gftStatusLine: false, queryMigrateOnStdout: false },
  // gft_init is commented out in vl.c@4b17b51:4750: no join port is bound; there is no gft_status.
  gft: undefined,
  migrateCuju: 'needs-capability', // migration.c@4b17b51:1519-1520
  // cuju-kvm-share-mem.c@4b17b51:135-139: prints `qmp_cuju_failover`, then `//TODO`.
  failover: 'stub',
  ftRunningCheck: 'info-migrate',
  backupDeath: 'ft-error', // migration.c@4b17b51:2722-2724, 2753-2757
};

/** The profile of each build, by name. */
export const CUJU_BUILDS: Readonly<Record<CujuBuildName, CujuBuildProfile>> = {
  master: MASTER,
  groupft: GROUPFT,
  'blk-server': BLK_SERVER,
};

/** Whether a value is the name of a profiled build. */
export function isCujuBuildName(value: unknown): value is CujuBuildName {
  return typeof value === 'string' && (CUJU_BUILD_NAMES as readonly string[]).includes(value);
}

/** A profile from its name, or the profile itself. Throws CujuArgumentError naming `field` otherwise. */
export function cujuBuild(build: CujuBuildName | CujuBuildProfile, field = 'build'): CujuBuildProfile {
  checkText('field', field);
  if (isCujuBuildName(build)) return CUJU_BUILDS[build];
  if (typeof build === 'object' && build !== null && isCujuBuildName((build as CujuBuildProfile).name)) {
    return build;
  }
  throw new CujuArgumentError(field, `must be one of ${CUJU_BUILD_NAMES.join(', ')}`);
}

/** The builds that have a command (for "use X instead" in errors). */
export function buildsWithCommand(command: CujuCommandName): CujuBuildName[] {
  checkText('command', command);
  return CUJU_BUILD_NAMES.filter((name) => Object.hasOwn(CUJU_BUILDS[name].commands, command));
}

/** The builds that accept an option. */
export function buildsWithOption(option: CujuOption): CujuBuildName[] {
  checkText('option', option);
  return CUJU_BUILD_NAMES.filter((name) => CUJU_BUILDS[name].options.includes(option));
}

/**
 * Which build a monitor's `help` output is from. `help` changes nothing in the VM, so it
 * is the one line the SDK sends before it knows the build. Each build's table has a
 * command the others lack: cuju-get-ft-mode (master), gft_add_host2 (groupft); blk-server
 * has gft_add_host without gft_add_host2. Undefined for anything else (an upstream QEMU,
 * a watchdog build, a truncated answer).
 */
export function detectBuildFromHelp(helpText: string): CujuBuildName | undefined {
  checkText('helpText', helpText);
  const names = new Set<string>();
  for (const line of helpText.split(/\r?\n/)) {
    // help_cmd_dump: `NAME PARAMS -- HELP`, NAME being the '|'-joined aliases.
    const first = line.split(' ', 1)[0];
    if (first) for (const alias of first.split('|')) names.add(alias);
  }
  if (!names.has('cuju-failover')) return undefined;
  const has = (c: string) => names.has(c);
  if (has('cuju-get-ft-mode') && has('cuju-migrate-cancel') && !has('gft_add_host')) return 'master';
  if (has('gft_add_host2') && has('gft_add_host') && !has('cuju-migrate-cancel')) return 'groupft';
  if (has('gft_add_host') && !has('gft_add_host2') && !has('cuju-migrate-cancel')) return 'blk-server';
  return undefined;
}
