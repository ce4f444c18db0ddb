/**
 * QEMU COLO's side of a pair's configuration: the `colo` options of FtPair (checked, with
 * typed errors naming the field) and the command lines of a COLO primary and secondary on
 * stock QEMU (7.2 here), after QEMU's docs/COLO-FT.txt.
 *
 * A VM's monitor is QMP on `vm.monitorPath` (COLO is driven over QMP only). Without
 * `colo.disk` the VMs are diskless, without `colo.network` NIC-less: the guest's RAM and
 * device state are replicated, its disk with colo.disk, its network output compared with
 * colo.network.
 */
import { CujuArgumentError } from '../errors.js';
import { type CujuVmSpec, checkVmSpec } from '../spec.js';
import {
  checkImagePath,
  checkIntegerIn,
  checkIPv4,
  checkMac,
  checkObject,
  checkOptions,
  checkPort,
  checkSocketPath,
  checkText,
} from '../validate.js';

/** QEMU's own default for `x-checkpoint-delay` (migration.c: DEFAULT_MIGRATE_X_CHECKPOINT_DELAY). */
export const QEMU_CHECKPOINT_DELAY_MS = 20_000;

/** The COLO engine's options (FtPairOptions.colo). */
export interface ColoOptions {
  /**
   * The primary's `x-checkpoint-delay`: the longest time between two checkpoints (ms,
   * default QEMU's 20000). Debian's QEMU 7.2 deadlocks the primary at the end of its first
   * periodic checkpoint (see the README): a pair that must stay up there keeps this long.
   */
  checkpointDelayMs?: number;
  /**
   * The address the secondary's `-incoming` listens on (default: its host's address, as
   * the pair knows it; `127.0.0.1` for a LocalHost).
   */
  listenAddress?: string;
  /** Block replication (quorum + replication drivers, docs/COLO-FT.txt): the guest gets a disk. */
  disk?: ColoDisk;
  /** Network comparison (colo-compare, filter-mirror, filter-redirector, filter-rewriter): the guest gets a NIC. */
  network?: ColoNetwork;
}

/**
 * COLO's network comparison, after docs/COLO-FT.txt with a user-mode (slirp) netdev on
 * both VMs instead of a tap on a bridge. The primary mirrors what its guest sends to the
 * secondary (filter-mirror), redirects what arrives into colo-compare (filter-redirector),
 * which compares it with the secondary's output and releases the primary's when they
 * match; the secondary takes the mirrored packets in and sends its output back
 * (filter-redirector), with filter-rewriter fixing TCP sequence numbers. Four TCP ports
 * on the primary's host (on its address) carry it.
 */
export interface ColoNetwork {
  /** The guest NIC's MAC (the same on both VMs). */
  mac: string;
  /** The primary's four chardev ports. */
  ports: {
    /** filter-mirror's output: the secondary reads the primary's guest traffic from it. */
    mirror: number;
    /** colo-compare's secondary input: the secondary writes its guest's output to it. */
    compare: number;
    /** colo-compare's primary input (the primary's own loop). */
    primaryIn: number;
    /** colo-compare's output back to the primary's netdev (the primary's own loop). */
    compareOut: number;
  };
}

/**
 * The images of COLO's block replication. The primary's disk is a quorum over its image
 * (and, once FT starts, the replication driver writing to the secondary over NBD); the
 * secondary's is a quorum over the replication driver (secondary mode) on an active and
 * a hidden overlay backed by its copy of the image.
 */
export interface ColoDisk {
  /** The primary's raw image. */
  primaryImage: string;
  /** The secondary's raw image: a copy of the primary's when FT starts. */
  secondaryImage: string;
  /** The secondary's active overlay: an empty qcow2 of the image's size (`qemu-img create -f qcow2`). */
  activeImage: string;
  /** The secondary's hidden overlay: another empty qcow2 of the same size. */
  hiddenImage: string;
  /** The port of the secondary's NBD server (on its FT listen address), which the primary's replication writes to. */
  nbdPort: number;
}

/** ColoOptions with defaults. */
export interface ResolvedColoOptions {
  checkpointDelayMs: number;
  listenAddress: string | undefined;
  disk: ColoDisk | undefined;
  network: ColoNetwork | undefined;
}

/** The block graph names the COLO lines and the engine share. */
export const COLO_DISK = {
  /** The guest's disk (a quorum) on both VMs. */
  quorum: 'colo-disk0',
  /** The secondary's image, exported over NBD under this name. */
  parent: 'colo-parent0',
  /** The secondary's replication node (the quorum's child). */
  secondaryChild: 'colo-childs0',
  /** The primary's replication node, added when FT starts. */
  primaryChild: 'colo-replication0',
} as const;

const COLO_OPTIONS = ['checkpointDelayMs', 'listenAddress', 'disk', 'network'];
const NETWORK_PORTS = ['mirror', 'compare', 'primaryIn', 'compareOut'] as const;

/** The ids of the network objects, for the failover's clean-up. */
export const COLO_NETWORK = {
  primaryObjects: ['comp0', 'm0', 'redire0', 'redire1', 'iothread1'],
  secondaryObjects: ['f2', 'f1', 'rew0'],
  secondaryChardevs: ['red1', 'red0'],
} as const;

function checkColoNetwork(value: unknown, field: string): ColoNetwork {
  const n = checkObject(field, value);
  for (const key of Object.keys(n)) {
    if (key !== 'mac' && key !== 'ports')
      throw new CujuArgumentError(`${field}.${key}`, 'is not a COLO network option');
  }
  const mac = checkMac(`${field}.mac`, n.mac);
  const p = checkObject(`${field}.ports`, n.ports);
  const ports = Object.fromEntries(
    NETWORK_PORTS.map((key) => [key, checkPort(`${field}.ports.${key}`, p[key])]),
  ) as ColoNetwork['ports'];
  const seen = new Map<number, string>();
  for (const key of NETWORK_PORTS) {
    const other = seen.get(ports[key]);
    if (other) throw new CujuArgumentError(`${field}.ports.${key}`, `must differ from ports.${other}`);
    seen.set(ports[key], key);
  }
  return { mac, ports };
}
const DISK_IMAGES = ['primaryImage', 'secondaryImage', 'activeImage', 'hiddenImage'] as const;

function checkColoDisk(value: unknown, field: string): ColoDisk {
  const d = checkObject(field, value);
  for (const key of Object.keys(d)) {
    if (!(DISK_IMAGES as readonly string[]).includes(key) && key !== 'nbdPort') {
      throw new CujuArgumentError(`${field}.${key}`, 'is not a COLO disk option');
    }
  }
  const images = Object.fromEntries(
    DISK_IMAGES.map((key) => [key, checkImagePath(`${field}.${key}`, d[key])]),
  ) as Record<(typeof DISK_IMAGES)[number], string>;
  return { ...images, nbdPort: checkPort(`${field}.nbdPort`, d.nbdPort) };
}

/** Every field of `colo`, refused with CujuArgumentError naming it (`colo.checkpointDelayMs`). */
export function checkColoOptions(value: unknown, field = 'colo'): ResolvedColoOptions {
  checkText('field', field);
  const o = checkOptions(field, value);
  for (const key of Object.keys(o)) {
    if (!COLO_OPTIONS.includes(key)) {
      throw new CujuArgumentError(`${field}.${key}`, 'is not a COLO option');
    }
  }
  return {
    checkpointDelayMs:
      o.checkpointDelayMs === undefined
        ? QEMU_CHECKPOINT_DELAY_MS
        : checkIntegerIn(`${field}.checkpointDelayMs`, o.checkpointDelayMs, 1, 2 ** 31 - 1),
    listenAddress:
      o.listenAddress === undefined ? undefined : checkIPv4(`${field}.listenAddress`, o.listenAddress),
    disk: o.disk === undefined ? undefined : checkColoDisk(o.disk, `${field}.disk`),
    network: o.network === undefined ? undefined : checkColoNetwork(o.network, `${field}.network`),
  };
}

/** Fields of CujuVmSpec that mean something to Cuju only, refused for a COLO VM. */
const CUJU_ONLY = ['gftId', 'joinPort', 'blockServer', 'blockServerListen', 'qmpPath'] as const;
/** Fields with a COLO form of their own (colo.disk) or none built yet (the NIC's colo-compare). */
const NOT_YET = ['image', 'drive', 'nic'] as const;

/**
 * Checks a VM spec for COLO: every field as checkVmSpec does, then what COLO cannot take.
 * `field` names the spec (`vm`, `backupVm`).
 */
export function checkColoVmSpec(spec: CujuVmSpec, field: string): void {
  checkVmSpec(spec, field);
  const s = checkObject(field, spec);
  for (const key of CUJU_ONLY) {
    if (s[key] !== undefined) {
      const why =
        key === 'qmpPath'
          ? 'is not used by the COLO engine: its monitor at monitorPath speaks QMP'
          : 'is a Cuju option: the COLO engine runs stock QEMU';
      throw new CujuArgumentError(`${field}.${key}`, why);
    }
  }
  for (const key of NOT_YET) {
    if (s[key] !== undefined) {
      throw new CujuArgumentError(
        `${field}.${key}`,
        key === 'nic'
          ? "is not the COLO engine's NIC: give colo.network (colo-compare and its filters)"
          : "is not the COLO engine's disk: give colo.disk (block replication)",
      );
    }
  }
  checkSocketPath(`${field}.monitorPath`, spec.monitorPath);
}

/**
 * A COLO VM's argv after the binary: `-M pc -nodefaults -display none`, memory, CPUs, the
 * accelerator (TCG unless `kvm: true`), QMP on the monitor path, the caller's extraArgs.
 */
export function coloVmArgv(spec: CujuVmSpec, devices: readonly string[] = []): string[] {
  const argv = ['-M', 'pc', '-nodefaults', '-display', 'none'];
  if (spec.name !== undefined) argv.push('-name', spec.name);
  if (spec.memory !== undefined) argv.push('-m', String(spec.memory));
  if (spec.smp !== undefined) argv.push('-smp', String(spec.smp));
  // COLO needs no KVM module: TCG unless the caller asks for KVM (Cuju's spec defaults to it).
  argv.push('-accel', spec.kvm === true ? 'kvm' : 'tcg');
  if (typeof spec.cpu === 'string') argv.push('-cpu', spec.cpu);
  if (spec.vga !== undefined && spec.vga !== null) argv.push('-vga', spec.vga);
  argv.push('-qmp', `unix:${spec.monitorPath},server=on,wait=off`);
  argv.push(...devices);
  argv.push(...(spec.extraArgs ?? []));
  return argv;
}

/** The secondary's argv: a COLO VM that waits for the primary's state on `tcp:ADDRESS:PORT`. */
export function coloSecondaryArgv(
  spec: CujuVmSpec,
  listen: { address: string; port: number },
  extras: { disk?: ColoDisk | undefined; network?: { network: ColoNetwork; primaryAddress: string } } = {},
): string[] {
  const devices = [
    ...(extras.disk ? secondaryDrives(extras.disk) : []),
    ...(extras.network ? secondaryNetwork(extras.network.network, extras.network.primaryAddress) : []),
  ];
  return [...coloVmArgv(spec, devices), '-incoming', `tcp:${listen.address}:${listen.port}`];
}

function nic(network: ColoNetwork): string[] {
  return ['-netdev', 'user,id=hn0', '-device', `e1000,id=e0,netdev=hn0,mac=${network.mac}`];
}

/** The primary's NIC with filter-mirror, the two filter-redirectors and colo-compare (on its own iothread). */
export function primaryNetwork(network: ColoNetwork, address: string): string[] {
  const { mirror, compare, primaryIn, compareOut } = network.ports;
  const server = (id: string, port: number) => [
    '-chardev',
    `socket,id=${id},host=${address},port=${port},server=on,wait=off`,
  ];
  return [
    ...nic(network),
    ...server('mirror0', mirror),
    ...server('compare1', compare),
    ...server('compare0', primaryIn),
    '-chardev',
    `socket,id=compare0-0,host=${address},port=${primaryIn}`,
    ...server('compare_out', compareOut),
    '-chardev',
    `socket,id=compare_out0,host=${address},port=${compareOut}`,
    '-object',
    'filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=mirror0',
    '-object',
    'filter-redirector,netdev=hn0,id=redire0,queue=rx,indev=compare_out',
    '-object',
    'filter-redirector,netdev=hn0,id=redire1,queue=rx,outdev=compare0',
    '-object',
    'iothread,id=iothread1',
    '-object',
    'colo-compare,id=comp0,primary_in=compare0-0,secondary_in=compare1,outdev=compare_out0,iothread=iothread1',
  ];
}

/** The secondary's NIC with the two filter-redirectors to the primary (reconnecting until it listens) and filter-rewriter. */
function secondaryNetwork(network: ColoNetwork, primaryAddress: string): string[] {
  const { mirror, compare } = network.ports;
  return [
    ...nic(network),
    '-chardev',
    `socket,id=red0,host=${primaryAddress},port=${mirror},reconnect=1`,
    '-chardev',
    `socket,id=red1,host=${primaryAddress},port=${compare},reconnect=1`,
    '-object',
    'filter-redirector,id=f1,netdev=hn0,queue=tx,indev=red0',
    '-object',
    'filter-redirector,id=f2,netdev=hn0,queue=rx,outdev=red1',
    '-object',
    'filter-rewriter,id=rew0,netdev=hn0,queue=all',
  ];
}

/** The primary's disk: a quorum (one vote is enough) over its raw image. */
export function primaryDrives(disk: ColoDisk): string[] {
  return [
    '-drive',
    `if=ide,id=${COLO_DISK.quorum},driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=${disk.primaryImage},children.0.driver=raw`,
  ];
}

/** The secondary's disk: its image, the replication driver on the two overlays, the quorum over it. */
function secondaryDrives(disk: ColoDisk): string[] {
  return [
    '-drive',
    `if=none,id=${COLO_DISK.parent},file.filename=${disk.secondaryImage},driver=raw`,
    '-drive',
    `if=none,id=${COLO_DISK.secondaryChild},driver=replication,mode=secondary,file.driver=qcow2,top-id=${COLO_DISK.quorum},file.file.filename=${disk.activeImage},file.backing.driver=qcow2,file.backing.file.filename=${disk.hiddenImage},file.backing.backing=${COLO_DISK.parent}`,
    '-drive',
    `if=ide,id=${COLO_DISK.quorum},driver=quorum,read-pattern=fifo,vote-threshold=1,children.0=${COLO_DISK.secondaryChild}`,
  ];
}
