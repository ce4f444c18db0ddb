/**
 * What a Cuju VM is started with: one typed description from which launch.ts derives the
 * primary's, the receiver's and the block server's command lines, instead of the seed
 * scripts' copies edited with sed.
 */
import {
  buildsWithOption,
  CUJU_OPTIONS,
  type CujuBuildName,
  type CujuBuildProfile,
  type CujuOption,
  cujuBuild,
} from './builds.js';
import { CujuArgumentError, CujuUnsupportedOptionError } from './errors.js';
import {
  checkArgs,
  checkBoolean,
  checkCpuModel,
  checkId,
  checkImagePath,
  checkIPv4,
  checkMac,
  checkMemory,
  checkNicModel,
  checkPort,
  checkSmp,
  checkSocketPath,
  checkTapName,
  checkText,
  checkVga,
  checkVmName,
  type VgaType,
} from './validate.js';

/** A TCP endpoint given as a dotted IPv4 address and a port. */
export interface CujuEndpoint {
  host: string;
  port: number;
}

/** The guest NIC: `-net tap,ifname=TAP -net nic,model=MODEL,vlan=0,macaddr=MAC`. */
export interface CujuNicSpec {
  /** The host tap interface (`tap0` for the primary and `tap1` for the backup in the seeds). */
  tap: string;
  /** The guest MAC. Primary and backup use the same one: the backup takes over the VM's identity. */
  mac: string;
  /** Default `virtio`. */
  model?: string;
}

/** Options of the disk, for the variants the scripts use. */
export interface CujuDriveOptions {
  /** `aio=` on -drive (the ITRI manual's run_ft uses `native`; cache=none, always set, allows it). */
  aio?: 'native' | 'threads';
  /** `false` adds `scsi=off` to the virtio-blk device, as Cuju's gft_script lines do. */
  scsi?: boolean;
}

/** One Cuju VM: what runvm.sh and recv.sh put on its command line. */
export interface CujuVmSpec {
  /** `-name NAME` (ps, window title). Omitted when absent, as in the seeds. */
  name?: string;
  /**
   * A raw disk image: `-drive if=none,id=drive0,cache=none,format=raw,file=IMAGE
   * -device virtio-blk,drive=drive0`. Absent: no disk at all (cuju-sim runs no guest).
   */
  image?: string;
  drive?: CujuDriveOptions;
  /** `-m`: MiB as a number, or QEMU's size text (`1G`, `2048M`). Absent: QEMU's default. */
  memory?: string | number;
  /** `-smp N`. Absent: QEMU's default (1). */
  smp?: number;
  /** `-cpu`: default `host` (the README's advice); `null` leaves QEMU's default, as gft_script/run_ft does. */
  cpu?: string | null;
  /** `-vga`: default `std`; `null` omits the option. */
  vga?: VgaType | null;
  /** `-enable-kvm`: default true (Cuju's FT needs its KVM module). */
  kvm?: boolean;
  nic?: CujuNicSpec;
  /** The HMP monitor's Unix socket: `-chardev socket,id=mon,path=P,server,nowait -mon chardev=mon,id=monitor,mode=readline`. */
  monitorPath: string;
  /** A QMP monitor as well: `-qmp unix:P,server,nowait`. */
  qmpPath?: string;
  /** `-gft-id N`: this VM's group FT member id (the leader is 0). */
  gftId?: number;
  /**
   * `-ft-join-port P`: the GFT control port (Cuju's default is 5000). Taken as given: the
   * GFT scripts give a backup its primary's port + 1; that is the caller's choice.
   */
  joinPort?: number;
  /** `-blk-server HOST:PORT`: this VM's disk I/O goes through a Cuju block server. */
  blockServer?: CujuEndpoint;
  /** `-blk-server-listen :PORT`: this VM is the block server. */
  blockServerListen?: number;
  /** Further QEMU arguments, appended as they are (before `-incoming`). */
  extraArgs?: readonly string[];
}

/** A spec checked, with every default applied: what launch.ts builds argv from. */
export interface ResolvedVmSpec {
  name: string | undefined;
  image: string | undefined;
  aio: 'native' | 'threads' | undefined;
  scsi: boolean | undefined;
  memory: string | undefined;
  smp: number | undefined;
  cpu: string | undefined;
  vga: VgaType | undefined;
  kvm: boolean;
  nic: Required<CujuNicSpec> | undefined;
  monitorPath: string;
  qmpPath: string | undefined;
  gftId: number | undefined;
  joinPort: number | undefined;
  blockServer: CujuEndpoint | undefined;
  blockServerListen: number | undefined;
  extraArgs: readonly string[];
}

/** Checks an endpoint field by field: `${field}.host`, `${field}.port`. */
export function checkEndpoint(field: string, value: unknown): CujuEndpoint {
  const e = checkObject(field, value);
  return { host: checkIPv4(`${field}.host`, e.host), port: checkPort(`${field}.port`, e.port) };
}

function checkObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CujuArgumentError(field, 'must be an object');
  }
  return value as Record<string, unknown>;
}

/** `undefined` stays undefined; anything else goes through `check`. */
function optional<T>(value: unknown, check: (v: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}

/**
 * Checks every field of a spec and applies the defaults. Throws CujuArgumentError naming
 * the first bad field under `field` (`spec.nic.mac`, or `backup.nic.mac` when an
 * orchestrator checks its backup spec as `backup`).
 */
export function resolveVmSpec(spec: CujuVmSpec, field = 'spec'): ResolvedVmSpec {
  const s = checkObject(field, spec);
  const at = (key: string) => `${field}.${key}`;

  const drive = optional(s.drive, (d) => checkObject(at('drive'), d));
  const aio = optional(drive?.aio, (v) => {
    if (v !== 'native' && v !== 'threads') {
      throw new CujuArgumentError(at('drive.aio'), "must be 'native' or 'threads'");
    }
    return v;
  });
  const nic = optional(s.nic, (v) => {
    const n = checkObject(at('nic'), v);
    return {
      tap: checkTapName(at('nic.tap'), n.tap),
      mac: checkMac(at('nic.mac'), n.mac),
      model: n.model === undefined ? 'virtio' : checkNicModel(at('nic.model'), n.model),
    };
  });

  const resolved: ResolvedVmSpec = {
    name: optional(s.name, (v) => checkVmName(at('name'), v)),
    image: optional(s.image, (v) => checkImagePath(at('image'), v)),
    aio,
    scsi: optional(drive?.scsi, (v) => checkBoolean(at('drive.scsi'), v)),
    memory: optional(s.memory, (v) => checkMemory(at('memory'), v)),
    smp: optional(s.smp, (v) => checkSmp(at('smp'), v)),
    cpu: s.cpu === null ? undefined : (optional(s.cpu, (v) => checkCpuModel(at('cpu'), v)) ?? 'host'),
    vga: s.vga === null ? undefined : (optional(s.vga, (v) => checkVga(at('vga'), v)) ?? 'std'),
    kvm: optional(s.kvm, (v) => checkBoolean(at('kvm'), v)) ?? true,
    nic,
    monitorPath: checkSocketPath(at('monitorPath'), s.monitorPath),
    qmpPath: optional(s.qmpPath, (v) => checkSocketPath(at('qmpPath'), v)),
    gftId: optional(s.gftId, (v) => checkId(at('gftId'), v)),
    joinPort: optional(s.joinPort, (v) => checkPort(at('joinPort'), v)),
    blockServer: optional(s.blockServer, (v) => checkEndpoint(at('blockServer'), v)),
    blockServerListen: optional(s.blockServerListen, (v) => checkPort(at('blockServerListen'), v)),
    extraArgs: optional(s.extraArgs, (v) => checkArgs(at('extraArgs'), v)) ?? [],
  };

  if (resolved.image === undefined && drive !== undefined) {
    throw new CujuArgumentError(at('drive'), 'needs an image: without one there is no -drive to apply it to');
  }
  if (resolved.qmpPath !== undefined && resolved.qmpPath === resolved.monitorPath) {
    // QEMU unlinks a listening socket's path before binding it: the second monitor would
    // silently take the path over from the first.
    throw new CujuArgumentError(at('qmpPath'), 'must differ from monitorPath');
  }
  if (resolved.blockServer !== undefined && resolved.blockServerListen !== undefined) {
    throw new CujuArgumentError(
      at('blockServerListen'),
      'cannot be set together with blockServer: a VM is the block server or its client, not both',
    );
  }
  resolved.extraArgs.forEach((arg, i) => {
    // The role is decided by construction (receiverArgv adds -incoming); an extra one would
    // turn a primary into a receiver, or give a receiver two.
    if (arg === '-incoming' || arg === '--incoming') {
      throw new CujuArgumentError(`${at('extraArgs')}[${i}]`, 'must not be -incoming: use receiverArgv()');
    }
  });
  return resolved;
}

/** Checks every field of a spec (see resolveVmSpec), for callers that validate early. */
export function checkVmSpec(spec: CujuVmSpec, field = 'spec'): void {
  resolveVmSpec(spec, checkText('field', field));
}

/** The spec fields that become Cuju's own options. */
const OPTION_FIELDS: ReadonlyArray<readonly [keyof ResolvedVmSpec, CujuOption]> = [
  ['gftId', '-gft-id'],
  ['joinPort', '-ft-join-port'],
  ['blockServer', '-blk-server'],
  ['blockServerListen', '-blk-server-listen'],
];

/**
 * Refuses a checked spec that would put an option on the command line that the build's
 * vl.c does not know (master has none of Cuju's own options; groupft has no block
 * server): QEMU would exit with `invalid option`. Extra arguments are checked too.
 * Throws CujuUnsupportedOptionError naming the field and the builds that accept it.
 */
export function checkSpecForBuild(
  spec: ResolvedVmSpec,
  build: CujuBuildName | CujuBuildProfile,
  field = 'spec',
): CujuBuildProfile {
  const profile = cujuBuild(build);
  for (const [key, option] of OPTION_FIELDS) {
    if (spec[key] !== undefined && !profile.options.includes(option)) {
      throw new CujuUnsupportedOptionError(profile.name, option, `${field}.${key}`, buildsWithOption(option));
    }
  }
  spec.extraArgs.forEach((arg, i) => {
    // lookup_opt reads `--opt` as `-opt`.
    const option = CUJU_OPTIONS.find((o) => arg === o || arg === `-${o}`);
    if (option !== undefined && !profile.options.includes(option)) {
      throw new CujuUnsupportedOptionError(
        profile.name,
        option,
        `${field}.extraArgs[${i}]`,
        buildsWithOption(option),
      );
    }
  });
  return profile;
}
