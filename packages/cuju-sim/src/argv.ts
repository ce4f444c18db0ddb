/**
 * A Cuju (QEMU 2.8.0 fork) qemu-system-x86_64 command line -> SimConfig, for one Cuju
 * build (`-sim-build master|groupft|blk-server`, default master: builds.ts). The build
 * decides which of Cuju's own options exist: master's vl.c has none of them, so
 * `-ft-join-port 5000` there is `-ft-join-port: invalid option`, exactly as an unknown
 * option (vl.c@21f9f0b lookup_opt); groupft knows -ft-join-port and -gft-id
 * (qemu-options.hx@d2e55fe:3283-3287); blk-server knows those and -blk-server,
 * -blk-server-listen (qemu-options.hx@4b17b51:4077-4088). -sim-build is read before
 * anything else, wherever it stands.
 *
 * It follows vl.c's order, because that order decides which error a user sees first:
 *   1. a first pass only looks every option name up (vl.c lookup_opt): an unknown
 *      option or a missing argument anywhere wins over everything else, even -h;
 *   2. a second pass handles the options in order; what QEMU checks right there
 *      (QemuOpts syntax, sizes, numbers, -display, Cuju's own options) fails there,
 *      and -h / -version stop there;
 *   3. what QEMU checks after the loop is checked afterwards, in vl.c's order:
 *      memory, -pidfile, -smp, -nographic/-daemonize, chardevs, nets, drives,
 *      monitors, -vga, devices, -incoming.
 *
 * Every message is `qemu-system-x86_64: LOCATION: TEXT` (QEMU's error_report), where
 * LOCATION is the option and its argument as typed (loc_set_cmdline), or absent for
 * checks QEMU makes with no location. Message fidelity:
 *
 * EXACT, read in Cuju's own 2.8 sources (Cuju-ft/Cuju vl.c @0a5c5fd, migration/migration.c,
 * migration/socket.c, util/qemu-sockets.c):
 *   `-foo: invalid option`, `-m: requires an argument` (lookup_opt);
 *   `unknown monitor mode "x"`, `chardev "x" not found` (mon_init_func);
 *   `parse error: X` (monitor_parse);
 *   `missing 'size' option value`, `too large 'size' option value`, the maxmem/slots
 *   texts (set_memory_options); `-nographic cannot be used with -daemonize`;
 *   `Number of SMP CPUs requested (N) exceeds max CPUs supported by machine 'M' (K)`
 *   (the text; the machine name and 255 are from memory of pc-i440fx-2.8);
 *   `-incoming URI: unknown migration protocol: URI` (error_reportf_err prefix + migration.c);
 *   `error parsing port in address 'S'`, `error parsing IPv6 address 'S'`,
 *   `error parsing address 'S'`, `error parsing to= argument` (inet_parse);
 *   `address resolution failed for H:P: Servname not supported for ai_socktype`
 *   (inet_listen_saddr + glibc's gai_strerror(EAI_SERVICE)); `could not acquire pid file: ...`.
 * EXACT, upstream 2.7/2.8 util/qemu-option.c and qerror.h (read in stored copies):
 *   `Parameter 'size' expects a size` + the k/M/G/T hint line,
 *   `Parameter 'X' expects a non-negative number below 2^64`.
 * BELIEVED EXACT (upstream 2.8 texts from memory, not re-read here):
 *   `Invalid parameter 'X'`, `Parameter 'X' expects 'on' or 'off'`, `Parameter 'X' expects a number`,
 *   `Parameter 'X' is missing`, `Parameter 'id' expects an identifier` + hint,
 *   `Duplicate ID 'X' for LIST`, `chardev: no id specified`, `chardev: "X" missing backend`,
 *   `chardev: socket: no host given` / `no port given`, `TLS can only be used over TCP socket`,
 *   `'X' is not a valid char driver`, `invalid syntax for ethernet address`,
 *   `NIC cannot have multicast MAC address (odd 1st byte)`, `netdev 'X' not found`,
 *   `Parameter 'type' expects a netdev backend type`, `unsupported bus type 'X'`,
 *   `'X' invalid media`, `invalid cache option`, `invalid aio option`,
 *   `aio=native was specified, but it requires cache.direct=on, which was not specified.`,
 *   `unknown vga type: X`, `VNC requires a display argument vnc=<display>`, the -smp topology texts.
 * APPROXIMATE (QEMU says something else, crashes, or has no such check) or cuju-sim's own,
 * all in the same shape: `chardev: backend "X" not found`, `Unknown display type`,
 * `Unknown driver 'X'`, `Parameter 'vlan' expects an int64 value`, `port P out of range`,
 * `Property 'T.P' can't find value 'X'` / `doesn't take value 'X'`, `Device 'X' is in use`
 * (QEMU aborts), `Parameter 'chardev' is missing` (QEMU dereferences NULL), an empty key,
 * -ft-join-port / -gft-id / -blk-server / -blk-server-listen (Cuju uses atoi or no check),
 * every -sim-* message, and every `cuju-sim ...` refusal of something QEMU would do but
 * cuju-sim does not simulate (client chardevs, non-socket/telnet/mux/TLS monitors, unix:/exec:/
 * fd:/defer migration, a unix monitor without a path).
 */
import { CUJU_OPTIONS_BY_BUILD, DEFAULT_SIM_BUILD, SIM_BUILDS, type SimBuild } from './builds.js';
import {
  ArgvError,
  CRASH_STEPS,
  type CrashStep,
  type IncomingSpec,
  type MonitorListen,
  type MonitorSpec,
  type NicSpec,
  type SimConfig,
} from './config.js';

/** The binary cuju-sim impersonates: QEMU prefixes every error with it (error_set_progname). */
export const PROG_NAME = 'qemu-system-x86_64';

/**
 * What parseArgv found: a configuration to run, or a request to print help (-h, -help,
 * --help) or the version (-version, --version) and exit 0, as QEMU does at that point of
 * the command line.
 */
export type ArgvResult = { config: SimConfig } | { help: true } | { version: true };

/**
 * Parses the arguments after the program name (`process.argv.slice(2)`), QEMU 2.8 style
 * (`-opt` and `--opt` alike). Throws ArgvError (message = QEMU's stderr text, exit code 1)
 * on anything QEMU would refuse at start, or that cuju-sim cannot simulate.
 */
export function parseArgv(argv: readonly string[]): ArgvResult {
  const build = findBuild(argv);
  checkOptionNames(argv, build);
  const state = newState(build);
  const stop = handleOptions(argv, state);
  if (stop === 'help') return { help: true };
  if (stop === 'version') return { version: true };
  return { config: finish(state) };
}

// ---------------------------------------------------------------------------------------
// Errors

/** One error_report line: `prog: LOCATION: text` (no LOCATION when QEMU has none). */
function report(where: string | undefined, text: string): string {
  return where === undefined ? `${PROG_NAME}: ${text}` : `${PROG_NAME}: ${where}: ${text}`;
}

function fail(where: string | undefined, text: string): never {
  throw new ArgvError(report(where, text));
}

/**
 * A QemuOpts problem found before its location is known: QEMU's Error object, which the
 * caller reports at the option it was parsing (error_report_err under loc_set_cmdline).
 */
class OptsProblem extends Error {}

function problem(text: string): never {
  throw new OptsProblem(text);
}

/** Runs a QemuOpts step and reports its problem, if any, at `where`. */
function at<T>(where: string | undefined, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof OptsProblem) fail(where, err.message);
    throw err;
  }
}

/** `'a b c'` -> ['a', 'b', 'c']: long name lists stay readable. */
function words(text: string): string[] {
  return text.split(' ');
}

// ---------------------------------------------------------------------------------------
// State built by the option handlers, checked and turned into a SimConfig by finish()

/** A parsed QemuOpts: its id (never stored as a value, as in QEMU), its values, where it came from. */
interface Opts {
  readonly id: string | undefined;
  readonly values: Map<string, string>;
  readonly where: string;
}

interface State {
  readonly config: SimConfig;
  /** ids taken per QemuOptsList name, for QEMU's `Duplicate ID` check. */
  readonly ids: Map<string, Set<string>>;
  readonly chardevs: Opts[];
  readonly mons: Opts[];
  readonly drives: Opts[];
  readonly devices: Opts[];
  readonly nets: Opts[];
  readonly netdevs: Opts[];
  memory: Opts | undefined;
  smp: Opts | undefined;
  vga: string | undefined;
  incoming: string | undefined;
  /** monitor_parse's counter: -qmp/-monitor chardevs are named compat_monitor0, 1, ... */
  compatMonitors: number;
  nographic: boolean;
  nodefaults: boolean;
}

const DEFAULT_FT_JOIN_PORT = 5000; // vl.c: int ft_join_port = 5000;
const DEFAULT_RAM_MIB = 128; // pc machines' default_ram_size
const MIB = 2 ** 20;

function newState(build: SimBuild): State {
  return {
    config: {
      build,
      progName: PROG_NAME,
      monitors: [],
      incoming: undefined,
      ftJoinPort: DEFAULT_FT_JOIN_PORT,
      gftId: -1,
      blkServer: undefined,
      blkServerListen: undefined,
      memoryMiB: DEFAULT_RAM_MIB,
      smp: 1,
      nics: [],
      name: undefined,
      daemonize: false,
      pidfile: undefined,
      startPaused: false,
      enableKvm: false,
      sim: {
        monitorDelayMs: 0,
        stallGreeting: false,
        dropFtLinksAfterMs: undefined,
        usr2DropsFtLinks: false,
        crashAt: undefined,
        slowEpochMs: 0,
        stdoutBuffered: false,
      },
    },
    ids: new Map(),
    chardevs: [],
    mons: [],
    drives: [],
    devices: [],
    nets: [],
    netdevs: [],
    memory: undefined,
    smp: undefined,
    vga: undefined,
    incoming: undefined,
    compatMonitors: 0,
    nographic: false,
    nodefaults: false,
  };
}

// ---------------------------------------------------------------------------------------
// QemuOpts: `[implied,]key=value,flag,noflag,...` as util/qemu-option.c opts_do_parse reads it

type OptType = 'string' | 'bool' | 'number' | 'size';

interface OptsList {
  /** The QemuOptsList name, as QEMU prints it in `Duplicate ID 'x' for NAME`. */
  readonly name: string;
  /** implied_opt_name: a first element without `=` is this key's value. */
  readonly implied?: string;
  /** The keys the list accepts; absent = any key (QEMU checks those later, or cuju-sim does). */
  readonly desc?: Readonly<Record<string, OptType>>;
  /** merge_lists: repeated options merge into one (-m, -smp, -name, -boot, -machine). */
  readonly merge?: boolean;
}

const CHARDEV_LIST: OptsList = {
  name: 'chardev',
  implied: 'backend',
  desc: {
    backend: 'string',
    path: 'string',
    host: 'string',
    port: 'string',
    localaddr: 'string',
    localport: 'string',
    to: 'number',
    ipv4: 'bool',
    ipv6: 'bool',
    wait: 'bool',
    server: 'bool',
    delay: 'bool',
    reconnect: 'number',
    telnet: 'bool',
    'tls-creds': 'string',
    width: 'number',
    height: 'number',
    cols: 'number',
    rows: 'number',
    mux: 'bool',
    signal: 'bool',
    name: 'string',
    debug: 'number',
    size: 'size',
    chardev: 'string',
    append: 'bool',
    logfile: 'string',
    logappend: 'bool',
  },
};
const MON_LIST: OptsList = {
  name: 'mon',
  implied: 'chardev',
  desc: { mode: 'string', chardev: 'string', default: 'bool', pretty: 'bool' },
};
const MEMORY_LIST: OptsList = {
  name: 'memory',
  implied: 'size',
  merge: true,
  desc: { size: 'size', slots: 'number', maxmem: 'size' },
};
const SMP_LIST: OptsList = {
  name: 'smp-opts',
  implied: 'cpus',
  merge: true,
  desc: { cpus: 'number', sockets: 'number', cores: 'number', threads: 'number', maxcpus: 'number' },
};
const NAME_LIST: OptsList = {
  name: 'name',
  implied: 'guest',
  merge: true,
  desc: { guest: 'string', process: 'string', 'debug-threads': 'bool' },
};
const BOOT_LIST: OptsList = {
  name: 'boot-opts',
  implied: 'order',
  merge: true,
  desc: {
    order: 'string',
    once: 'string',
    menu: 'bool',
    splash: 'string',
    'splash-time': 'string',
    'reboot-timeout': 'string',
    strict: 'bool',
  },
};
const MACHINE_LIST: OptsList = { name: 'machine', implied: 'type', merge: true };
const DRIVE_LIST: OptsList = { name: 'drive' }; // drive_def parses without an implied key
const DEVICE_LIST: OptsList = { name: 'device', implied: 'driver' };
const NET_LIST: OptsList = { name: 'net', implied: 'type' };
const NETDEV_LIST: OptsList = { name: 'netdev', implied: 'type' };

/** get_opt_value: up to the next lone `,`; `,,` is an escaped comma. */
function readOptValue(text: string, from: number): [value: string, end: number] {
  let value = '';
  let p = from;
  while (p < text.length) {
    if (text[p] === ',') {
      if (text[p + 1] !== ',') break;
      p++;
    }
    value += text[p];
    p++;
  }
  return [value, p];
}

/**
 * opts_do_parse: `key=value`, or a bare `flag` meaning flag=on and `noflag` meaning
 * flag=off (so `nowait` is wait=off), or a first bare element that is the implied key.
 */
function splitOpts(text: string, implied: string | undefined): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let p = 0;
  while (p < text.length) {
    const eq = text.indexOf('=', p);
    const comma = text.indexOf(',', p);
    let key: string;
    let value: string;
    if (eq < 0 || (comma >= 0 && comma < eq)) {
      if (p === 0 && implied !== undefined) {
        key = implied;
        [value, p] = readOptValue(text, p);
      } else {
        const end = comma < 0 ? text.length : comma;
        const flag = text.slice(p, end);
        p = end;
        [key, value] = flag.startsWith('no') ? [flag.slice(2), 'off'] : [flag, 'on'];
      }
    } else {
      key = text.slice(p, eq);
      [value, p] = readOptValue(text, eq + 1);
    }
    pairs.push([key, value]);
    if (text[p] !== ',') break;
    p++;
  }
  return pairs;
}

/** qemu_opts_create: id_wellformed (a letter, then letters, digits, '-', '.', '_'), then unique per list. */
function checkId(list: OptsList, id: string, state: State): void {
  if (!/^[A-Za-z][A-Za-z0-9._-]*$/.test(id)) {
    problem(
      "Parameter 'id' expects an identifier\nIdentifiers consist of letters, digits, '-', '.', '_', starting with a letter.",
    );
  }
  const taken = state.ids.get(list.name) ?? new Set<string>();
  if (taken.has(id) && !list.merge) problem(`Duplicate ID '${id}' for ${list.name}`);
  taken.add(id);
  state.ids.set(list.name, taken);
}

/** opt_set: the key must be in the list's desc (if it has one) and the value must parse as its type. */
function checkOptValue(list: OptsList, key: string, value: string): void {
  if (list.desc === undefined) {
    // QEMU would only fail later (the block layer, qdev, ...); an empty key is never valid there.
    if (key === '') problem("Invalid parameter ''");
    return;
  }
  const type = Object.hasOwn(list.desc, key) ? list.desc[key] : undefined;
  if (type === undefined) problem(`Invalid parameter '${key}'`);
  if (type === 'bool') parseQemuBool(key, value);
  if (type === 'number') parseQemuNumber(key, value);
  if (type === 'size') parseQemuSize(key, value);
}

/** qemu_opts_parse_noisily: the id first (as qemu_opts_create does), then every value. */
function parseOpts(state: State, list: OptsList, text: string, where: string): Opts {
  return at(where, () => {
    const pairs = splitOpts(text, list.implied);
    const id = pairs.find(([key]) => key === 'id')?.[1];
    if (id !== undefined) checkId(list, id, state);
    const values = new Map<string, string>();
    for (const [key, value] of pairs) {
      if (key === 'id') continue;
      checkOptValue(list, key, value);
      values.set(key, value);
    }
    return { id, values, where };
  });
}

/** merge_lists: later options override earlier keys; the location stays the first one's. */
function mergeOpts(into: Opts | undefined, from: Opts): Opts {
  if (into === undefined) return from;
  for (const [key, value] of from.values) into.values.set(key, value);
  return into;
}

function parseQemuBool(key: string, value: string): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  return problem(`Parameter '${key}' expects 'on' or 'off'`);
}

/** parse_option_number: strtoull(value, &end, 0) that must consume it all ("" reads as 0). */
function parseQemuNumber(key: string, value: string): number {
  if (value === '') return 0;
  const m = /^(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(value);
  if (!m) problem(`Parameter '${key}' expects a number`);
  if (m[1] !== undefined) return Number.parseInt(m[1], 16);
  if (m[2] !== undefined) return Number.parseInt(m[2], 8);
  return Number(m[3]);
}

const STRTOD_PREFIX = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const SIZE_SUFFIXES = new Map<string, number>([
  ['T', 2 ** 40],
  ['G', 2 ** 30],
  ['M', 2 ** 20],
  ['K', 2 ** 10],
  ['k', 2 ** 10],
  ['b', 1],
  ['', 1],
]);

/**
 * parse_option_size (2.8): strtod, then only the first character after the number
 * counts as a suffix (so `1GB` is 1G, as in QEMU). Returns bytes.
 */
function parseQemuSize(key: string, value: string): number {
  const m = STRTOD_PREFIX.exec(value);
  const sizef = m ? Number(m[0]) : 0;
  if (sizef < 0 || sizef > 2 ** 64) problem(`Parameter '${key}' expects a non-negative number below 2^64`);
  const multiplier = SIZE_SUFFIXES.get(value.charAt(m ? m[0].length : 0));
  if (multiplier === undefined) {
    problem(
      `Parameter '${key}' expects a size\nYou may use k, M, G or T suffixes for kilobytes, megabytes, gigabytes and terabytes.`,
    );
  }
  return Math.trunc(sizef * multiplier);
}

// ---------------------------------------------------------------------------------------
// The option table (qemu-options.hx as cuju-sim knows it)

type OptionDef =
  | { readonly kind: 'flag'; readonly run: (state: State) => void }
  | { readonly kind: 'arg'; readonly run: (state: State, arg: string, where: string) => void }
  | { readonly kind: 'stop'; readonly result: 'help' | 'version' };

const flag = (run: (state: State) => void): OptionDef => ({ kind: 'flag', run });
const withArg = (run: (state: State, arg: string, where: string) => void): OptionDef => ({
  kind: 'arg',
  run,
});
/** Accepted and ignored: cuju-sim runs no guest, so there is nothing for it to configure. */
const ignoredArg: OptionDef = withArg(() => {});

const OPTIONS: ReadonlyMap<string, OptionDef> = new Map<string, OptionDef>([
  ['h', { kind: 'stop', result: 'help' }],
  ['help', { kind: 'stop', result: 'help' }],
  ['version', { kind: 'stop', result: 'version' }],
  // Guest hardware: parsed and checked as QEMU does; nothing is created.
  [
    'drive',
    withArg((s, arg, where) => {
      s.drives.push(parseOpts(s, DRIVE_LIST, arg, where));
    }),
  ],
  [
    'device',
    withArg((s, arg, where) => {
      s.devices.push(parseOpts(s, DEVICE_LIST, arg, where));
    }),
  ],
  [
    'net',
    withArg((s, arg, where) => {
      s.nets.push(parseOpts(s, NET_LIST, arg, where));
    }),
  ],
  [
    'netdev',
    withArg((s, arg, where) => {
      s.netdevs.push(parseOpts(s, NETDEV_LIST, arg, where));
    }),
  ],
  [
    'm',
    withArg((s, arg, where) => {
      s.memory = mergeOpts(s.memory, parseOpts(s, MEMORY_LIST, arg, where));
    }),
  ],
  [
    'smp',
    withArg((s, arg, where) => {
      s.smp = mergeOpts(s.smp, parseOpts(s, SMP_LIST, arg, where));
    }),
  ],
  ['cpu', ignoredArg], // vl.c: "hw initialization will check this"; cuju-sim has no CPU models
  [
    'vga',
    withArg((s, arg) => {
      s.vga = arg;
    }),
  ],
  ['display', withArg((_s, arg, where) => checkDisplay(arg, where))],
  [
    'enable-kvm',
    flag((s) => {
      s.config.enableKvm = true;
    }),
  ],
  ['machine', withArg(handleMachine)],
  ['M', withArg(handleMachine)],
  [
    'boot',
    withArg((s, arg, where) => {
      parseOpts(s, BOOT_LIST, arg, where);
    }),
  ],
  ['name', withArg(handleName)],
  // Monitors.
  [
    'chardev',
    withArg((s, arg, where) => {
      s.chardevs.push(parseOpts(s, CHARDEV_LIST, arg, where));
    }),
  ],
  [
    'mon',
    withArg((s, arg, where) => {
      s.mons.push(parseOpts(s, MON_LIST, arg, where));
    }),
  ],
  ['qmp', withArg((s, arg, where) => monitorParse(s, arg, where, 'control'))],
  [
    'monitor',
    withArg((s, arg, where) => {
      // vl.c: strncmp(optarg, "none", 4), so anything starting with "none" means no monitor.
      if (!arg.startsWith('none')) monitorParse(s, arg, where, 'readline');
    }),
  ],
  // Cuju's FT/GFT options.
  [
    'incoming',
    withArg((s, arg) => {
      s.incoming = arg; // the last one wins; vl.c starts it after everything else
    }),
  ],
  [
    'ft-join-port',
    withArg((s, arg, where) => {
      s.config.ftJoinPort = parsePortOption('ft-join-port', arg, where);
    }),
  ],
  [
    'gft-id',
    withArg((s, arg, where) => {
      s.config.gftId = parseGftId(arg, where);
    }),
  ],
  [
    'blk-server',
    withArg((s, arg, where) => {
      s.config.blkServer = parseBlkServer(arg, where);
    }),
  ],
  [
    'blk-server-listen',
    withArg((s, arg, where) => {
      s.config.blkServerListen = parseBlkServerListen(arg, where);
    }),
  ],
  // Process.
  [
    'daemonize',
    flag((s) => {
      s.config.daemonize = true;
    }),
  ],
  [
    'pidfile',
    withArg((s, arg) => {
      s.config.pidfile = arg;
    }),
  ],
  [
    'S',
    flag((s) => {
      s.config.startPaused = true;
    }),
  ],
  [
    'nodefaults',
    flag((s) => {
      s.nodefaults = true;
    }),
  ],
  [
    'nographic',
    flag((s) => {
      s.nographic = true;
    }),
  ],
  // Harmless extras QEMU users pass: nothing to simulate.
  ['serial', ignoredArg],
  ['vnc', ignoredArg],
  ['k', ignoredArg],
  // cuju-sim only: which build to be (read first by findBuild; checked there).
  ['sim-build', ignoredArg],
  // Fault injection: cuju-sim only, real Cuju has none of these.
  [
    'sim-monitor-delay',
    withArg((s, arg, where) => {
      s.config.sim.monitorDelayMs = parseMs('sim-monitor-delay', arg, where);
    }),
  ],
  [
    'sim-stall-greeting',
    flag((s) => {
      s.config.sim.stallGreeting = true;
    }),
  ],
  [
    'sim-drop-ft-links-after',
    withArg((s, arg, where) => {
      s.config.sim.dropFtLinksAfterMs = parseMs('sim-drop-ft-links-after', arg, where);
    }),
  ],
  [
    'sim-crash-at',
    withArg((s, arg, where) => {
      s.config.sim.crashAt = parseCrashStep(arg, where);
    }),
  ],
  [
    'sim-slow-epoch',
    withArg((s, arg, where) => {
      s.config.sim.slowEpochMs = parseMs('sim-slow-epoch', arg, where);
    }),
  ],
  [
    'sim-usr2-drops-ft-links',
    flag((s) => {
      s.config.sim.usr2DropsFtLinks = true;
    }),
  ],
  [
    'sim-stdout-buffered',
    flag((s) => {
      s.config.sim.stdoutBuffered = true;
    }),
  ],
]);

/** Cuju's own options: they exist only in the builds whose vl.c has them. */
const CUJU_OPTIONS: ReadonlySet<string> = new Set([
  'ft-join-port',
  'gft-id',
  'blk-server',
  'blk-server-listen',
]);

/** lookup_opt: `--foo` is `-foo`; a Cuju option the build lacks is as unknown as any other. */
function lookupOption(token: string, build: SimBuild): OptionDef | undefined {
  const name = token.startsWith('--') ? token.slice(2) : token.slice(1);
  if (CUJU_OPTIONS.has(name) && !CUJU_OPTIONS_BY_BUILD[build].includes(name)) return undefined;
  return OPTIONS.get(name);
}

/**
 * -sim-build NAME, found before vl.c's passes since it decides what they accept (the last
 * one wins, as for most QEMU options). Its own errors come first for the same reason.
 */
function findBuild(argv: readonly string[]): SimBuild {
  let build: SimBuild = DEFAULT_SIM_BUILD;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token !== '-sim-build' && token !== '--sim-build') continue;
    const value = argv[i + 1];
    if (value === undefined) fail(token, 'requires an argument');
    if (!(SIM_BUILDS as readonly string[]).includes(value)) {
      fail(`${token} ${value}`, `Parameter 'sim-build' expects one of ${SIM_BUILDS.join(', ')}`);
    }
    build = value as SimBuild;
    i++;
  }
  return build;
}

/** vl.c's first pass: names and argument presence only. A word not starting with '-' is a disk image. */
function checkOptionNames(argv: readonly string[], build: SimBuild): void {
  let i = 0;
  while (i < argv.length) {
    const token = argv[i] ?? '';
    i++;
    if (!token.startsWith('-')) continue;
    const def = lookupOption(token, build);
    if (def === undefined) fail(token, 'invalid option');
    if (def.kind !== 'arg') continue;
    if (i >= argv.length) fail(token, 'requires an argument');
    i++;
  }
}

/**
 * vl.c's second pass. Disk images (words without '-') are accepted and ignored: cuju-sim
 * runs no guest, as with -drive files that need not exist.
 */
function handleOptions(argv: readonly string[], state: State): 'help' | 'version' | undefined {
  let i = 0;
  while (i < argv.length) {
    const token = argv[i] ?? '';
    i++;
    const def = token.startsWith('-') ? lookupOption(token, state.config.build) : undefined;
    if (def === undefined) continue;
    if (def.kind === 'stop') return def.result;
    if (def.kind === 'flag') {
      def.run(state);
      continue;
    }
    const arg = argv[i] ?? '';
    i++;
    def.run(state, arg, `${token} ${arg}`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Handlers of single options

function handleMachine(state: State, arg: string, where: string): void {
  const opts = parseOpts(state, MACHINE_LIST, arg, where);
  // -machine accel=kvm (or kvm:tcg) is what -enable-kvm expands to in vl.c.
  const accel = opts.values.get('accel');
  if (accel?.split(':').includes('kvm')) state.config.enableKvm = true;
}

function handleName(state: State, arg: string, where: string): void {
  const guest = parseOpts(state, NAME_LIST, arg, where).values.get('guest');
  if (guest !== undefined) state.config.name = guest;
}

/** select_display (2.8): a prefix match; sub-options are not checked since nothing is displayed. */
function checkDisplay(arg: string, where: string): void {
  if (/^(?:sdl|gtk|curses|none)/.test(arg)) return;
  if (arg.startsWith('vnc')) {
    if (arg[3] !== '=') fail(where, 'VNC requires a display argument vnc=<display>');
    return;
  }
  fail(where, 'Unknown display type');
}

/**
 * Cuju reads it with atoi() (vl.c@d2e55fe:3951), which turns garbage into 0 (and then
 * binds 0:0, any free port); cuju-sim refuses instead, so that a test never binds blind.
 */
function parsePortOption(option: string, arg: string, where: string): number {
  const port = /^\d{1,5}$/.test(arg) ? Number(arg) : 0;
  if (port < 1 || port > 65535) fail(where, `Parameter '${option}' expects a port number (1-65535)`);
  return port;
}

/** Cuju reads -gft-id with atoi() into an int; ids index C arrays, so only 0..INT_MAX make sense. */
function parseGftId(arg: string, where: string): number {
  const id = /^\d{1,10}$/.test(arg) ? Number(arg) : -1;
  if (id < 0 || id > 2 ** 31 - 1) fail(where, "Parameter 'gft-id' expects a non-negative integer");
  return id;
}

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;
}

/** -blk-server IP:PORT: the block server a VM connects to (kept as typed). */
function parseBlkServer(arg: string, where: string): string {
  const m = /^([^:\s]+):([^:]*)$/.exec(arg);
  if (!m || !isPort(m[2] ?? '')) fail(where, "Parameter 'blk-server' expects IP:PORT");
  return arg;
}

/** -blk-server-listen [IP]:PORT (the scripts write `:5001`; kept as typed). */
function parseBlkServerListen(arg: string, where: string): string {
  const m = /^([^:\s]*):([^:]*)$/.exec(arg);
  if (!m || !isPort(m[2] ?? '')) fail(where, "Parameter 'blk-server-listen' expects [IP]:PORT");
  return arg;
}

/** Node's timers overflow above 2^31-1 ms (they fire after 1 ms), so that is the limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function parseMs(option: string, arg: string, where: string): number {
  const ms = /^\d{1,10}$/.test(arg) ? Number(arg) : -1;
  if (ms < 0 || ms > MAX_TIMER_MS) {
    fail(where, `Parameter '${option}' expects milliseconds (0-${MAX_TIMER_MS})`);
  }
  return ms;
}

function isCrashStep(text: string): text is CrashStep {
  return (CRASH_STEPS as readonly string[]).includes(text);
}

function parseCrashStep(arg: string, where: string): CrashStep {
  if (!isCrashStep(arg)) fail(where, `Parameter 'sim-crash-at' expects one of ${CRASH_STEPS.join(', ')}`);
  return arg;
}

// ---------------------------------------------------------------------------------------
// -qmp / -monitor: vl.c monitor_parse + qemu-char.c qemu_chr_parse_compat

/**
 * `-qmp chardev:ID` names an existing chardev; any other value is a compat chardev
 * description that becomes chardev `compat_monitorN`. Either way a `mon` entry follows.
 */
function monitorParse(state: State, arg: string, where: string, mode: 'readline' | 'control'): void {
  let label: string;
  if (arg.startsWith('chardev:')) {
    label = arg.slice('chardev:'.length);
  } else {
    label = `compat_monitor${state.compatMonitors}`;
    state.chardevs.push(parseCompatChardev(state, label, arg, where));
  }
  at(where, () => checkId(MON_LIST, label, state));
  state.mons.push({
    id: label,
    values: new Map([
      ['mode', mode],
      ['chardev', label],
    ]),
    where,
  });
  state.compatMonitors++;
}

/** Compat forms that name a backend outright (a monitor on them is refused later). */
const COMPAT_BACKENDS = new Set(['null', 'pty', 'msmouse', 'braille', 'testdev', 'stdio']);

/** qemu_chr_parse_compat: a failure prints its own line, then monitor_parse adds `parse error: ARG`. */
function parseCompatChardev(state: State, label: string, arg: string, where: string): Opts {
  try {
    checkId(CHARDEV_LIST, label, state);
    return { id: label, values: compatChardevValues(arg), where };
  } catch (err) {
    if (!(err instanceof OptsProblem)) throw err;
    const lines = err.message === '' ? [] : [report(where, err.message)];
    throw new ArgvError([...lines, report(where, `parse error: ${arg}`)].join('\n'));
  }
}

/** The chardev options a compat description stands for; OptsProblem('') when it has no own message. */
function compatChardevValues(arg: string): Map<string, string> {
  const values = new Map<string, string>();
  const addFrom = (text: string, implied: string | undefined): void => {
    for (const [key, value] of splitOpts(text, implied)) {
      checkOptValue(CHARDEV_LIST, key, value);
      values.set(key, value);
    }
  };
  let filename = arg;
  if (filename.startsWith('mon:')) {
    filename = filename.slice(4);
    values.set('mux', 'on');
  }
  const tcp = /^(tcp|telnet):/.exec(filename);
  if (COMPAT_BACKENDS.has(filename)) {
    values.set('backend', filename);
  } else if (/^(?:vc|file:|pipe:|udp:|con:|COM|\/dev\/)/.test(filename)) {
    values.set('backend', compatBackendName(filename));
  } else if (tcp) {
    const rest = filename.slice(tcp[0].length);
    // sscanf("%64[^:]:%32[^,]"), else sscanf(":%32[^,]") for an empty host; neither: no message of its own.
    const m = /^([^:]{1,64}):([^,]{1,32})/.exec(rest) ?? /^():([^,]{1,32})/.exec(rest) ?? problem('');
    values.set('backend', 'socket');
    values.set('host', m[1] ?? '');
    values.set('port', m[2] ?? '');
    const after = rest.slice(m[0].length);
    if (after.startsWith(',')) addFrom(after.slice(1), undefined);
    if (tcp[1] === 'telnet') values.set('telnet', 'on');
  } else if (filename.startsWith('unix:')) {
    values.set('backend', 'socket');
    addFrom(filename.slice(5), 'path');
  } else {
    problem(`'${filename}' is not a valid char driver`);
  }
  return values;
}

function compatBackendName(filename: string): string {
  if (filename.startsWith('vc')) return 'vc';
  if (filename.startsWith('file:')) return 'file';
  if (filename.startsWith('pipe:')) return 'pipe';
  if (filename.startsWith('udp:')) return 'udp';
  if (filename.startsWith('con:')) return 'console';
  if (filename.startsWith('/dev/parport') || filename.startsWith('/dev/ppi')) return 'parallel';
  return 'serial';
}

// ---------------------------------------------------------------------------------------
// After the loop, in vl.c's order

function finish(state: State): SimConfig {
  finishMemory(state);
  if (state.config.pidfile === '') fail(undefined, 'could not acquire pid file: No such file or directory');
  finishSmp(state);
  // default_parallel stays on unless -nodefaults (cuju-sim has no -parallel), so this is vl.c's test.
  if (state.config.daemonize && state.nographic && !state.nodefaults) {
    fail(undefined, '-nographic cannot be used with -daemonize');
  }
  for (const chardev of state.chardevs) checkChardev(chardev);
  const netdevIds = finishNets(state);
  for (const drive of state.drives) checkDrive(drive);
  finishMonitors(state);
  if (state.vga !== undefined) checkVga(state.vga);
  finishDevices(state, netdevIds);
  state.config.incoming = finishIncoming(state.incoming);
  return state.config;
}

/** set_memory_options: a suffix-less size is MiB; 0 means the default; rounded up to 8 KiB. */
function finishMemory(state: State): void {
  const opts = state.memory;
  if (opts === undefined) return;
  let bytes = 0;
  const sizeText = opts.values.get('size');
  if (sizeText !== undefined) {
    if (sizeText === '') fail(opts.where, "missing 'size' option value");
    bytes = at(opts.where, () => parseQemuSize('size', sizeText));
    if (/\d$/.test(sizeText)) {
      bytes *= MIB;
      if (bytes >= 2 ** 64) fail(opts.where, "too large 'size' option value");
    }
  }
  if (bytes === 0) bytes = DEFAULT_RAM_MIB * MIB;
  bytes = Math.ceil(bytes / 8192) * 8192;
  checkMaxmem(opts, bytes);
  // SimConfig counts whole MiB; a size that is not a whole MiB is rounded up.
  state.config.memoryMiB = Math.ceil(bytes / MIB);
}

function checkMaxmem(opts: Opts, ramSize: number): void {
  const maxmemText = opts.values.get('maxmem');
  const slotsText = opts.values.get('slots');
  if (maxmemText === undefined && slotsText === undefined) return;
  if (maxmemText === undefined || slotsText === undefined) {
    fail(
      opts.where,
      `invalid -m option value: missing '${slotsText !== undefined ? 'maxmem' : 'slots'}' option`,
    );
  }
  // Both were checked when -m was parsed.
  const maxmem = parseQemuSize('maxmem', maxmemText);
  const slots = parseQemuNumber('slots', slotsText);
  const hex = (n: number): string => `0x${n.toString(16)}`;
  if (maxmem < ramSize) {
    fail(
      opts.where,
      `invalid value of -m option maxmem: maximum memory size (${hex(maxmem)}) must be at least the initial memory size (${hex(ramSize)})`,
    );
  }
  if (maxmem > ramSize && slots === 0) {
    fail(opts.where, 'invalid value of -m option: maxmem was specified, but no hotplug slots were specified');
  }
  if (maxmem === ramSize && slots !== 0) {
    fail(
      opts.where,
      `invalid value of -m option maxmem: memory slots were specified but maximum memory size (${hex(maxmem)}) is equal to the initial memory size (${hex(ramSize)})`,
    );
  }
}

/** pc-i440fx-2.8, the machine `pc` stands for in QEMU 2.8. */
const MACHINE_NAME = 'pc-i440fx-2.8';
const MACHINE_MAX_CPUS = 255;

/** smp_parse: missing values are computed, preferring sockets over cores over threads. */
function finishSmp(state: State): void {
  const get = (key: string, fallback: number): number => {
    const text = state.smp?.values.get(key);
    // Checked when -smp was parsed; QEMU keeps them in `unsigned`.
    return text === undefined ? fallback : parseQemuNumber(key, text) % 2 ** 32;
  };
  let cpus = get('cpus', 0);
  let sockets = get('sockets', 0);
  let cores = get('cores', 0);
  let threads = get('threads', 0);
  if (cpus === 0 || sockets === 0) {
    sockets = sockets || 1;
    cores = cores || 1;
    threads = threads || 1;
    if (cpus === 0) cpus = cores * threads * sockets;
  } else if (cores === 0) {
    threads = threads || 1;
    cores = Math.floor(cpus / (sockets * threads)) || 1;
  } else if (threads === 0) {
    threads = Math.floor(cpus / (cores * sockets)) || 1;
  } else if (sockets * cores * threads < cpus) {
    fail(
      undefined,
      `cpu topology: sockets (${sockets}) * cores (${cores}) * threads (${threads}) < smp_cpus (${cpus})`,
    );
  }
  const maxCpus = get('maxcpus', cpus);
  if (maxCpus < cpus) fail(undefined, 'maxcpus must be equal to or greater than smp');
  if (sockets * cores * threads > maxCpus) {
    fail(
      undefined,
      `cpu topology: sockets (${sockets}) * cores (${cores}) * threads (${threads}) > maxcpus (${maxCpus})`,
    );
  }
  if (maxCpus > MACHINE_MAX_CPUS) {
    fail(
      undefined,
      `Number of SMP CPUs requested (${maxCpus}) exceeds max CPUs supported by machine '${MACHINE_NAME}' (${MACHINE_MAX_CPUS})`,
    );
  }
  state.config.smp = cpus;
}

// --- chardevs (chardev_init_func -> qemu_chr_new_from_opts)

const CHARDEV_BACKENDS = new Set(
  words(
    'null socket udp msmouse vc ringbuf memory file stdio serial tty parallel parport pipe pty console braille testdev spicevmc spiceport',
  ),
);

function checkChardev(chardev: Opts): void {
  const { id, values, where } = chardev;
  if (id === undefined) fail(where, 'chardev: no id specified');
  const backend = values.get('backend');
  if (backend === undefined) fail(where, `chardev: "${id}" missing backend`);
  if (!CHARDEV_BACKENDS.has(backend)) fail(where, `chardev: backend "${backend}" not found`);
  if (backend === 'socket') checkSocketChardev(chardev);
}

/** qemu_chr_parse_socket, then the listen that QEMU does when it opens a server socket. */
function checkSocketChardev({ values, where }: Opts): void {
  if (values.has('path')) {
    if (values.has('tls-creds')) fail(where, 'TLS can only be used over TCP socket');
    return;
  }
  const host = values.get('host');
  const port = values.get('port');
  if (host === undefined) fail(where, 'chardev: socket: no host given');
  if (port === undefined) fail(where, 'chardev: socket: no port given');
  if (values.get('server') === 'on') listenPort(host, port, where);
}

// --- inet addresses (util/qemu-sockets.c)

/** QEMU listens on every address for an empty host; `0` resolves to 0.0.0.0. */
function anyAddress(host: string): string {
  return host === '' || host === '0' ? '0.0.0.0' : host;
}

/**
 * The port of a listening socket: getaddrinfo(host, port, AI_PASSIVE) in inet_listen_saddr.
 * cuju-sim takes decimal ports only (no /etc/services names).
 */
function listenPort(host: string, port: string, where: string): number {
  if (!/^\d+$/.test(port)) {
    fail(where, `address resolution failed for ${host}:${port}: Servname not supported for ai_socktype`);
  }
  const n = Number(port);
  if (n > 65535) fail(where, `port ${port} out of range`);
  return n;
}

/** inet_parse: `host:port`, `:port` or `[v6]:port`, then options (only `,to=` can fail). */
function inetParse(text: string, where: string): { host: string; port: string } {
  let m: RegExpExecArray | null;
  if (text.startsWith(':')) {
    m = /^():([^,]{1,32})/.exec(text);
    if (!m) fail(where, `error parsing port in address '${text}'`);
  } else if (text.startsWith('[')) {
    m = /^\[([^\]]{1,64})\]:([^,]{1,32})/.exec(text);
    if (!m) fail(where, `error parsing IPv6 address '${text}'`);
  } else {
    m = /^([^:]{1,64}):([^,]{1,32})/.exec(text);
    if (!m) fail(where, `error parsing address '${text}'`);
  }
  const options = text.slice(m[0].length);
  const to = options.indexOf(',to=');
  if (to >= 0 && !/^\s*[+-]?\d+(?:,|$)/.test(options.slice(to + 4))) {
    fail(where, 'error parsing to= argument');
  }
  return { host: m[1] ?? '', port: m[2] ?? '' };
}

// --- nets (net_init_clients: every -netdev, then every -net)

const NET_TYPES = new Set(words('none nic user tap l2tpv3 socket vde dump bridge netmap'));
const NETDEV_TYPES = new Set([...NET_TYPES, 'hubport', 'vhost-user']);
/** Netdev types that exist in the enum but cannot be a -netdev. */
const NOT_NETDEV_BACKENDS = new Set(['none', 'nic', 'dump']);
const NIC_KEYS = new Set(['netdev', 'macaddr', 'model', 'addr', 'vectors']);
const TAP_KEYS = new Set(
  words('ifname fd fds script downscript br helper sndbuf vnet_hdr vhost vhostfd vhostfds vhostforce queues'),
);
/** NetLegacy's own members, valid with every -net type. */
const NET_COMMON_KEYS = new Set(['type', 'vlan', 'name']);

/** Returns the -netdev ids, which -device netdev= may name. */
function finishNets(state: State): Set<string> {
  const netdevIds = new Set<string>();
  for (const netdev of state.netdevs) netdevIds.add(checkNetdev(netdev));
  for (const net of state.nets) {
    const nic = checkNet(net, netdevIds);
    if (nic !== undefined) state.config.nics.push(nic);
  }
  return netdevIds;
}

function checkNetdev({ id, values, where }: Opts): string {
  const type = values.get('type');
  if (type === undefined) fail(where, "Parameter 'type' is missing");
  if (!NETDEV_TYPES.has(type)) fail(where, `Invalid parameter '${type}'`);
  if (NOT_NETDEV_BACKENDS.has(type)) fail(where, "Parameter 'type' expects a netdev backend type");
  if (id === undefined) fail(where, "Parameter 'id' is missing");
  // tap is the one backend the seed scripts use, so its keys are checked; the others are passed through.
  if (type === 'tap') checkKeys(values, new Set(['type', ...TAP_KEYS]), where);
  return id;
}

/** One -net: its keys by type; a nic becomes a NicSpec. cuju-sim creates no tap device. */
function checkNet({ values, where }: Opts, netdevIds: ReadonlySet<string>): NicSpec | undefined {
  const type = values.get('type');
  if (type === undefined) fail(where, "Parameter 'type' is missing");
  if (!NET_TYPES.has(type)) fail(where, `Invalid parameter '${type}'`);
  const vlanText = values.get('vlan');
  const vlan = vlanText === undefined ? undefined : parseVlan(vlanText, where);
  if (type === 'tap') checkKeys(values, new Set([...NET_COMMON_KEYS, ...TAP_KEYS]), where);
  if (type !== 'nic') return undefined;
  checkKeys(values, new Set([...NET_COMMON_KEYS, ...NIC_KEYS]), where);
  const netdev = values.get('netdev');
  if (netdev !== undefined && !netdevIds.has(netdev)) fail(where, `netdev '${netdev}' not found`);
  const nic: NicSpec = {};
  const model = values.get('model');
  if (model !== undefined) nic.model = model;
  const mac = values.get('macaddr');
  if (mac !== undefined) nic.macaddr = parseNicMac(mac, where);
  if (vlan !== undefined) nic.vlan = vlan;
  return nic;
}

function checkKeys(values: ReadonlyMap<string, string>, allowed: ReadonlySet<string>, where: string): void {
  for (const key of values.keys()) {
    if (!allowed.has(key)) fail(where, `Invalid parameter '${key}'`);
  }
}

/** The opts visitor reads an int64 with strtoll(…, 0); NetLegacy.vlan is an int32. */
function parseVlan(text: string, where: string): number {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(text);
  const magnitude = m ? Number.parseInt(m[2] ?? m[3] ?? m[4] ?? '', m[2] ? 16 : m[3] ? 8 : 10) : Number.NaN;
  const vlan = m?.[1] === '-' ? -magnitude : magnitude;
  if (!Number.isInteger(vlan) || vlan < -(2 ** 31) || vlan > 2 ** 31 - 1) {
    fail(where, "Parameter 'vlan' expects an int64 value");
  }
  return vlan;
}

/**
 * net_parse_macaddr's six-group form (1 or 2 hex digits, ':' or '-'), as lower-case
 * `aa:bb:cc:dd:ee:ff`. Its 24-bit-number form is not accepted by cuju-sim.
 */
function parseMac(text: string): string | undefined {
  const groups = text.split(/[:-]/);
  if (groups.length !== 6 || !groups.every((g) => /^[0-9a-fA-F]{1,2}$/.test(g))) return undefined;
  return groups.map((g) => g.toLowerCase().padStart(2, '0')).join(':');
}

function parseNicMac(text: string, where: string): string {
  const mac = parseMac(text);
  if (mac === undefined) fail(where, 'invalid syntax for ethernet address');
  if (Number.parseInt(mac.slice(0, 2), 16) & 1) {
    fail(where, 'NIC cannot have multicast MAC address (odd 1st byte)');
  }
  return mac;
}

// --- drives (drive_init_func -> drive_new / blockdev_init)

const DRIVE_BUSES = new Set(['none', 'ide', 'scsi', 'floppy', 'pflash', 'mtd', 'sd', 'virtio', 'xen']);
/** cache= modes and whether each one sets cache.direct (which aio=native needs). */
const CACHE_MODES = new Map([
  ['none', true],
  ['off', true],
  ['directsync', true],
  ['writeback', false],
  ['writethrough', false],
  ['unsafe', false],
]);
const DRIVE_BOOLS = ['snapshot', 'readonly', 'read-only', 'copy-on-read', 'cache.direct', 'cache.no-flush'];
const BLOCK_FORMATS = new Set(
  words(
    'raw qcow2 qcow qed vmdk vdi vhdx vpc cloop dmg bochs parallels luks vvfat file host_device host_cdrom nbd iscsi rbd sheepdog gluster ssh http https ftp ftps tftp null-co null-aio blkdebug blkverify quorum replication',
  ),
);

/**
 * What QEMU checks of a -drive before it opens the image. The file itself is not looked
 * at (cuju-sim opens no image), and other keys pass, as their validity depends on the
 * block driver.
 */
function checkDrive({ values, where }: Opts): void {
  for (const key of DRIVE_BOOLS) {
    const value = values.get(key);
    if (value !== undefined) at(where, () => parseQemuBool(key, value));
  }
  const bus = values.get('if');
  if (bus !== undefined && !DRIVE_BUSES.has(bus)) fail(where, `unsupported bus type '${bus}'`);
  const media = values.get('media');
  if (media !== undefined && media !== 'disk' && media !== 'cdrom') fail(where, `'${media}' invalid media`);
  const cache = values.get('cache');
  const cacheDirect = cache === undefined ? undefined : CACHE_MODES.get(cache);
  if (cache !== undefined && cacheDirect === undefined) fail(where, 'invalid cache option');
  const aio = values.get('aio');
  if (aio !== undefined && aio !== 'threads' && aio !== 'native') fail(where, 'invalid aio option');
  const format = values.get('format');
  if (format !== undefined && !BLOCK_FORMATS.has(format)) fail(where, `Unknown driver '${format}'`);
  const direct = cacheDirect === true || values.get('cache.direct') === 'on';
  if (aio === 'native' && !direct) {
    fail(where, 'aio=native was specified, but it requires cache.direct=on, which was not specified.');
  }
}

// --- monitors (mon_init_func), plus what cuju-sim can simulate

function finishMonitors(state: State): void {
  const chardevs = new Map(state.chardevs.map((c) => [c.id ?? '', c]));
  const used = new Set<string>();
  for (const mon of state.mons) {
    const spec = monitorSpec(mon, chardevs, used);
    state.config.monitors.push(spec);
  }
}

function monitorSpec(mon: Opts, chardevs: ReadonlyMap<string, Opts>, used: Set<string>): MonitorSpec {
  const mode = mon.values.get('mode') ?? 'readline';
  if (mode !== 'readline' && mode !== 'control') fail(mon.where, `unknown monitor mode "${mode}"`);
  const chardevId = mon.values.get('chardev');
  if (chardevId === undefined) fail(mon.where, "Parameter 'chardev' is missing");
  const chardev = chardevs.get(chardevId);
  if (chardev === undefined) fail(mon.where, `chardev "${chardevId}" not found`);
  if (used.has(chardevId)) fail(mon.where, `Device '${chardevId}' is in use`);
  used.add(chardevId);
  checkSimulatedMonitorChardev(chardev, mon.where);
  const wait = chardev.values.get('wait') !== 'off';
  return { id: chardevId, mode, listen: monitorListen(chardev), server: true, wait };
}

/** cuju-sim serves monitors on listening sockets only, without telnet, mux or TLS. */
function checkSimulatedMonitorChardev(chardev: Opts, monWhere: string): void {
  const { id, values, where } = chardev;
  const backend = values.get('backend');
  if (backend !== 'socket') {
    fail(monWhere, `cuju-sim serves monitors on socket chardevs only; chardev '${id}' is '${backend}'`);
  }
  if (values.get('server') !== 'on') {
    fail(where, `cuju-sim only listens: chardev '${id}' is a client socket (add server,nowait)`);
  }
  for (const feature of ['telnet', 'mux', 'tls-creds']) {
    const value = values.get(feature);
    if (value !== undefined && value !== 'off') {
      fail(where, `cuju-sim does not simulate '${feature}' on a monitor chardev`);
    }
  }
}

function monitorListen({ values, where }: Opts): MonitorListen {
  const path = values.get('path');
  if (path !== undefined) {
    // QEMU would invent /tmp/qemu-socket-XXXXXX; a client could not know it.
    if (path === '') fail(where, 'cuju-sim needs an explicit unix socket path');
    return { kind: 'unix', path };
  }
  const host = values.get('host') ?? '';
  return { kind: 'tcp', host: anyAddress(host), port: listenPort(host, values.get('port') ?? '', where) };
}

// --- -vga (select_vgahw, no location)

const VGA_TYPES = ['std', 'cirrus', 'vmware', 'xenfb', 'qxl', 'virtio', 'none'];

/** A prefix match, then only `,retrace=dumb|precise` may follow. */
function checkVga(vga: string): void {
  const type = VGA_TYPES.find((t) => vga.startsWith(t));
  const rest = type === undefined ? undefined : vga.slice(type.length);
  if (rest === undefined || !/^(?:,retrace=(?:dumb|precise))*$/.test(rest)) {
    fail(undefined, `unknown vga type: ${vga}`);
  }
}

// --- devices (device_init_func -> qdev_device_add)

const NIC_DRIVERS = new Set(
  words(
    'virtio-net virtio-net-pci virtio-net-device e1000 e1000-82540em e1000-82544gc e1000-82545em e1000e rtl8139 ne2k_pci ne2k_isa pcnet vmxnet3',
  ),
);

/** The QOM type QEMU names in property errors: virtio proxies forward to their -device half. */
function qdevType(driver: string): string {
  if (driver.startsWith('virtio-blk')) return 'virtio-blk-device';
  if (driver.startsWith('virtio-net')) return 'virtio-net-device';
  return driver;
}

/** -device: a driver, and drive=/netdev= naming a defined -drive/-netdev. NICs join `nics`. */
function finishDevices(state: State, netdevIds: ReadonlySet<string>): void {
  const driveIds = new Set(state.drives.flatMap((d) => (d.id === undefined ? [] : [d.id])));
  for (const { values, where } of state.devices) {
    const driver = values.get('driver');
    if (driver === undefined) fail(where, "Parameter 'driver' is missing");
    if (driver === '') fail(where, "'' is not a valid device model name");
    const type = qdevType(driver);
    const drive = values.get('drive');
    if (drive !== undefined && !driveIds.has(drive)) {
      fail(where, `Property '${type}.drive' can't find value '${drive}'`);
    }
    const netdev = values.get('netdev');
    if (netdev !== undefined && !netdevIds.has(netdev)) {
      fail(where, `Property '${type}.netdev' can't find value '${netdev}'`);
    }
    if (NIC_DRIVERS.has(driver)) state.config.nics.push(deviceNic(driver, values.get('mac'), where));
  }
}

function deviceNic(driver: string, macText: string | undefined, where: string): NicSpec {
  if (macText === undefined) return { model: driver };
  const mac = parseMac(macText);
  if (mac === undefined) fail(where, `Property '${qdevType(driver)}.mac' doesn't take value '${macText}'`);
  return { model: driver, macaddr: mac };
}

// --- -incoming (qemu_start_incoming_migration, at the very end of main)

/**
 * Cuju's migration.c: `ft_mode` counts only if the first "ft_mode" in the URI ends it
 * (strstr, then strcmp). The address goes through inet_parse, which ignores the other
 * options, so `tcp:0:4441,ft_mode` listens on 0.0.0.0:4441.
 *
 * The seed manual's PDF shows the backup made by `sed ... tcp\:\:0\:\:4441`, which gives
 * `tcp::0::4441,ft_mode` (the repository's recv_b has `tcp\:0\:4441`). inet_parse reads
 * that as host "" and port "0::4441", which getaddrinfo cannot resolve, so QEMU exits 1;
 * cuju-sim does the same with the same message.
 */
function finishIncoming(uri: string | undefined): IncomingSpec | undefined {
  if (uri === undefined) return undefined;
  // vl.c: error_reportf_err(local_err, "-incoming %s: ", incoming), spelled -incoming even for --incoming.
  const where = `-incoming ${uri}`;
  const at = uri.indexOf('ft_mode');
  const ftMode = at >= 0 && uri.slice(at) === 'ft_mode';
  if (uri.startsWith('tcp:')) {
    const { host, port } = inetParse(uri.slice(4), where);
    return { host: anyAddress(host), port: listenPort(host, port, where), ftMode, text: uri };
  }
  if (uri === 'defer' || /^(?:rdma|exec|unix|fd):/.test(uri)) {
    fail(where, 'cuju-sim simulates incoming migration over tcp: only');
  }
  return fail(where, `unknown migration protocol: ${uri}`);
}
