/**
 * QEMU COLO's side of a pair's configuration: the `colo` options of FtPair (checked, with
 * typed errors naming the field) and the command lines of a COLO primary and secondary on
 * stock QEMU (7.2 here), after QEMU's docs/COLO-FT.txt.
 *
 * A VM's monitor is QMP on `vm.monitorPath` (COLO is driven over QMP only). Without
 * `colo.disk` and `colo.network` the VMs are diskless and NIC-less: the guest's RAM and
 * device state are what is replicated.
 */
import { CujuArgumentError } from '../errors.js';
import { type CujuVmSpec, checkVmSpec } from '../spec.js';
import { checkIntegerIn, checkIPv4, checkObject, checkOptions, checkSocketPath } from '../validate.js';

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
}

/** ColoOptions with defaults. */
export interface ResolvedColoOptions {
  checkpointDelayMs: number;
  listenAddress: string | undefined;
}

/** Every field of `colo`, refused with CujuArgumentError naming it (`colo.checkpointDelayMs`). */
export function checkColoOptions(value: unknown, field = 'colo'): ResolvedColoOptions {
  const o = checkOptions(field, value);
  for (const key of Object.keys(o)) {
    if (key !== 'checkpointDelayMs' && key !== 'listenAddress') {
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
  };
}

/** Fields of CujuVmSpec that mean something to Cuju only, refused for a COLO VM. */
const CUJU_ONLY = ['gftId', 'joinPort', 'blockServer', 'blockServerListen', 'qmpPath'] as const;
/** Fields whose COLO form (block replication, network comparison) this engine does not build. */
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
        'is not supported by the COLO engine yet: its VMs are diskless and NIC-less (block replication and colo-compare are not built)',
      );
    }
  }
  checkSocketPath(`${field}.monitorPath`, spec.monitorPath);
}

/**
 * A COLO VM's argv after the binary: `-M pc -nodefaults -display none`, memory, CPUs, the
 * accelerator (TCG unless `kvm: true`), QMP on the monitor path, the caller's extraArgs.
 */
export function coloVmArgv(spec: CujuVmSpec): string[] {
  const argv = ['-M', 'pc', '-nodefaults', '-display', 'none'];
  if (spec.name !== undefined) argv.push('-name', spec.name);
  if (spec.memory !== undefined) argv.push('-m', String(spec.memory));
  if (spec.smp !== undefined) argv.push('-smp', String(spec.smp));
  // COLO needs no KVM module: TCG unless the caller asks for KVM (Cuju's spec defaults to it).
  argv.push('-accel', spec.kvm === true ? 'kvm' : 'tcg');
  if (typeof spec.cpu === 'string') argv.push('-cpu', spec.cpu);
  if (spec.vga !== undefined && spec.vga !== null) argv.push('-vga', spec.vga);
  argv.push('-qmp', `unix:${spec.monitorPath},server=on,wait=off`);
  argv.push(...(spec.extraArgs ?? []));
  return argv;
}

/** The secondary's argv: a COLO VM that waits for the primary's state on `tcp:ADDRESS:PORT`. */
export function coloSecondaryArgv(spec: CujuVmSpec, listen: { address: string; port: number }): string[] {
  return [...coloVmArgv(spec), '-incoming', `tcp:${listen.address}:${listen.port}`];
}
