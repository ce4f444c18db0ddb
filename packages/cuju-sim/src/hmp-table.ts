import { QEMU_VERSION, type SimBuild } from './builds.js';

/**
 * The HMP command tables cuju-sim implements, one per Cuju build, as data: QEMU's
 * `mon_cmd_t` fields (`name`, `args_type`, `params`, `help`) copied from each build's
 * hmp-commands.hx, so that the argument parser (hmp-parse.ts) and `help` behave like
 * that build (a command another build has is an `unknown command` here).
 *
 * Sources (Cuju-ft/Cuju): hmp-commands.hx @21f9f0b (master), @d2e55fe (groupft),
 * @4b17b51 (blk-server); the upstream entries used here (help, quit, stop, cont,
 * migrate, migrate_set_capability, migrate_set_parameter, info) are byte-identical in the
 * three. hmp-commands-info.hx: `version`, `kvm`, `status`, `name`, `migrate`,
 * `migrate_capabilities` (identical in the three).
 *
 * Deliberate deviation: real QEMU has ~150 commands; cuju-sim lists only those it
 * implements, so `help` is shorter and e.g. `system_reset` is an unknown command here.
 */

export interface HmpCommandDef {
  /**
   * QEMU's `.name`: aliases joined by '|', exactly as in the .hx ("c|cont"). QEMU
   * prints this whole string in `help` and in argument errors ("c|cont: extraneous ...").
   */
  readonly name: string;
  /** The name cuju-sim reports in a parsed command (the long alias). */
  readonly canonical: string;
  readonly argsType: string;
  readonly params: string;
  readonly help: string;
  /** A second-level table (only `info` has one): `info X` is looked up there. */
  readonly subTable?: readonly HmpCommandDef[];
}

function cmd(name: string, argsType: string, params: string, help: string): HmpCommandDef {
  const aliases = name.split('|');
  const canonical = aliases.reduce((a, b) => (b.length > a.length ? b : a));
  return { name, canonical, argsType, params, help };
}

/** hmp-commands-info.hx: the `info` subcommands cuju-sim implements. */
export const HMP_INFO_COMMANDS: readonly HmpCommandDef[] = [
  cmd('version', '', '', 'show the version of QEMU'),
  cmd('kvm', '', '', 'show KVM information'),
  cmd('status', '', '', 'show the current VM status (running|paused)'),
  cmd('name', '', '', 'show the current VM name'),
  cmd('migrate', '', '', 'show migration status'),
  cmd('migrate_capabilities', '', '', 'show current migration capabilities'),
];

// Cuju's migrate help (hmp-commands.hx @0a5c5fd, @d7350ac): the "-c" line was pasted
// into the middle of the "-i" sentence, so "mode" runs into "shared". Kept verbatim.
const MIGRATE_HELP_TAIL =
  '\n\t\t\t -b for migration without shared storage with' +
  ' full copy of disk\n\t\t\t -i for migration without ' +
  '\n\t\t\t -c enter cuju ft mode' +
  'shared storage with incremental copy of disk ' +
  '(base image shared between src and destination)';

const GFT_HOST_ARGS =
  'gft_id:i,master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i';
const GFT_HOST_PARAMS =
  'gft_id master_host_ip master_host_gft_port master_mac slave_host_ip slave_host_ft_port';

const UPSTREAM_HEAD: readonly HmpCommandDef[] = [
  cmd('help|?', 'name:S?', '[cmd]', 'show the help'),
  cmd('q|quit', '', '', 'quit the emulator'),
  cmd('stop', '', '', 'stop emulation'),
  cmd('c|cont', '', '', 'resume emulation'),
];

const UPSTREAM_MIGRATION: readonly HmpCommandDef[] = [
  cmd(
    'migrate',
    'detach:-d,blk:-b,inc:-i,cuju:-c,uri:s',
    '[-d] [-b] [-i] [-c] uri',
    `migrate to URI (using -d to not wait for completion)${MIGRATE_HELP_TAIL}`,
  ),
  cmd(
    'migrate_set_capability',
    'capability:s,state:b',
    'capability state',
    'Enable/Disable the usage of a capability for migration',
  ),
  cmd('migrate_set_parameter', 'parameter:s,value:s', 'parameter value', 'Set the parameter for migration'),
  {
    ...cmd('info', 'item:s?', '[subcommand]', 'show various information about the system state'),
    subTable: HMP_INFO_COMMANDS,
  },
];

const failover = cmd('cuju-failover', '', '', 'call failover');
const adjustEpoch = cmd('cuju-adjust-epoch', 'epoch:i', 'epoch', 'adjust epoch size in cuju-ft');
const gftAddHost = cmd('gft_add_host', GFT_HOST_ARGS, GFT_HOST_PARAMS, 'add a master/slave pair to group ft');
// Cuju copied gft_add_host's help text into gft_init (hmp-commands.hx@d2e55fe:1885); kept verbatim.
const gftInit = cmd('gft_init', '', '', 'add a master/slave pair to group ft');

/** hmp-commands.hx@21f9f0b, in file order (QEMU sorts the table by name at start-up; see sortHmpTable). */
const MASTER_COMMANDS: readonly HmpCommandDef[] = [
  ...UPSTREAM_HEAD,
  ...UPSTREAM_MIGRATION,
  failover, // :1787
  adjustEpoch, // :1802
  cmd('cuju-get-ft-started', '', '', 'Get started of Cuju-ft'), // :1818
  cmd('cuju-get-ft-mode', '', '', 'Get current ft mode information of Cuju'), // :1834
  cmd('cuju-migrate-cancel', '', '', 'cancel the current VM fault tolerance'), // :1850
];

/** hmp-commands.hx@d2e55fe, in file order. */
const GROUPFT_COMMANDS: readonly HmpCommandDef[] = [
  ...UPSTREAM_HEAD,
  // The group-FT block, after `nmi` (:856-904).
  cmd('info_migrate', '', '', 'get migration info'),
  cmd('migrate_pause', '', '', 'pause migration'),
  cmd('migrate_resume', '', '', 'resume migration'),
  cmd(
    'gft_member_live_mig',
    'detach:-d,blk:-b,inc:-i,cuju:-c,uri:s',
    '[-d] [-b] [-i] [-c] uri',
    `do live migration memory backup and pause VM (using -d to not wait for completion)${MIGRATE_HELP_TAIL}`,
  ),
  cmd(
    'gft_add_member',
    'master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i',
    'master_host_ip master_host_gft_port master_mac slave_host_ip slave_host_ft_port',
    'add member which is already done live migration to GFT',
  ),
  cmd(
    'gft_add_backup',
    'slave_host_ip:s,slave_incoming_port:i',
    'slave_host_ip slave_incoming_port',
    'add backup VM to the pool. When GFT member failed, it will find a VM from the backup VMs pool to rebuild fault tolerance',
  ),
  ...UPSTREAM_MIGRATION,
  failover, // :1838
  adjustEpoch, // :1853
  gftAddHost, // :1868
  gftInit, // :1882
  cmd(
    'gft_add_host2',
    `${GFT_HOST_ARGS},slave_host_join_port:i`,
    `${GFT_HOST_PARAMS} slave_host_join_port`,
    'add a master/slave pair to group ft with slave ft join port',
  ), // :1896
];

/** hmp-commands.hx@4b17b51, in file order: no gft_add_host2/_member/_backup, no cuju-get-*. */
const BLK_SERVER_COMMANDS: readonly HmpCommandDef[] = [
  ...UPSTREAM_HEAD,
  ...UPSTREAM_MIGRATION,
  failover, // :1785
  adjustEpoch, // :1800
  gftAddHost, // :1815
  gftInit, // :1829
];

export const HMP_TABLES: Readonly<Record<SimBuild, readonly HmpCommandDef[]>> = {
  master: MASTER_COMMANDS,
  groupft: GROUPFT_COMMANDS,
  'blk-server': BLK_SERVER_COMMANDS,
};

/**
 * compare_cmd() in monitor.c (QEMU 2.8): `name` must equal one whole '|'-separated
 * alias of `list` (no prefix matching).
 */
export function compareCmd(name: string, list: string): boolean {
  return list.split('|').includes(name);
}

export function findHmpCommand(name: string, table: readonly HmpCommandDef[]): HmpCommandDef | undefined {
  return table.find((c) => compareCmd(name, c.name));
}

/**
 * sortcmdlist() in monitor.c (QEMU 2.8) qsorts both tables with strcmp on `.name` at
 * monitor init, which is why `help` lists commands alphabetically ("c|cont" sorts after
 * "cuju-*" because '|' > 'u'). Names are ASCII, so code-unit order equals strcmp.
 */
export function sortHmpTable(table: readonly HmpCommandDef[]): HmpCommandDef[] {
  return [...table].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** monitor_event() CHR_EVENT_OPENED, monitor.c (QEMU 2.8): printed before the first prompt. */
export const HMP_BANNER = `QEMU ${QEMU_VERSION} monitor - type 'help' for more information\n`;

/** monitor_read_command() in monitor.c (QEMU 2.8). */
export const HMP_PROMPT = '(qemu) ';
