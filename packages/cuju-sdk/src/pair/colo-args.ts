/**
 * QEMU COLO's side of a pair's configuration: the `colo` options of FtPair (checked, with
 * typed errors naming the field) and the command lines of a COLO primary and secondary on
 * stock QEMU (7.2 here), after QEMU's docs/COLO-FT.txt.
 *
 * A VM's monitor is QMP on `vm.monitorPath` (COLO is driven over QMP only). Without
 * `colo.disk` the VMs are diskless; they are always NIC-less (colo-compare and its filters
 * are not built): the guest's RAM, device state and (with colo.disk) disk are replicated.
 */
import { CujuArgumentError } from '../errors.js';
import { type CujuVmSpec, checkVmSpec } from '../spec.js';
import {
  checkImagePath,
  checkIntegerIn,
  checkIPv4,
  checkObject,
  checkOptions,
  checkPort,
  checkSocketPath,
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

const COLO_OPTIONS = ['checkpointDelayMs', 'listenAddress', 'disk'];
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
          ? 'is not supported by the COLO engine yet: its VMs are NIC-less (colo-compare and the filters are not built)'
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
export function coloVmArgv(spec: CujuVmSpec, drives: readonly string[] = []): string[] {
  const argv = ['-M', 'pc', '-nodefaults', '-display', 'none'];
  if (spec.name !== undefined) argv.push('-name', spec.name);
  if (spec.memory !== undefined) argv.push('-m', String(spec.memory));
  if (spec.smp !== undefined) argv.push('-smp', String(spec.smp));
  // COLO needs no KVM module: TCG unless the caller asks for KVM (Cuju's spec defaults to it).
  argv.push('-accel', spec.kvm === true ? 'kvm' : 'tcg');
  if (typeof spec.cpu === 'string') argv.push('-cpu', spec.cpu);
  if (spec.vga !== undefined && spec.vga !== null) argv.push('-vga', spec.vga);
  argv.push('-qmp', `unix:${spec.monitorPath},server=on,wait=off`);
  for (const drive of drives) argv.push('-drive', drive);
  argv.push(...(spec.extraArgs ?? []));
  return argv;
}

/** The secondary's argv: a COLO VM that waits for the primary's state on `tcp:ADDRESS:PORT`. */
export function coloSecondaryArgv(
  spec: CujuVmSpec,
  listen: { address: string; port: number },
  disk?: ColoDisk,
): string[] {
  const drives = disk ? secondaryDrives(disk) : [];
  return [...coloVmArgv(spec, drives), '-incoming', `tcp:${listen.address}:${listen.port}`];
}

/** The primary's disk: a quorum (one vote is enough) over its raw image. */
export function primaryDrives(disk: ColoDisk): string[] {
  return [
    `if=ide,id=${COLO_DISK.quorum},driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=${disk.primaryImage},children.0.driver=raw`,
  ];
}

/** The secondary's disk: its image, the replication driver on the two overlays, the quorum over it. */
function secondaryDrives(disk: ColoDisk): string[] {
  return [
    `if=none,id=${COLO_DISK.parent},file.filename=${disk.secondaryImage},driver=raw`,
    `if=none,id=${COLO_DISK.secondaryChild},driver=replication,mode=secondary,file.driver=qcow2,top-id=${COLO_DISK.quorum},file.file.filename=${disk.activeImage},file.backing.driver=qcow2,file.backing.file.filename=${disk.hiddenImage},file.backing.backing=${COLO_DISK.parent}`,
    `if=ide,id=${COLO_DISK.quorum},driver=quorum,read-pattern=fifo,vote-threshold=1,children.0=${COLO_DISK.secondaryChild}`,
  ];
}
