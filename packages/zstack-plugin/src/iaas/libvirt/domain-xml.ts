/**
 * Domain XML for a Cuju primary and its backup under libvirt (iaas-integration.md §2.1):
 * a custom `<emulator>` (Cuju's qemu-system-x86_64), Cuju's own arguments in
 * `<qemu:commandline>`, the disk shared by both domains (`<shareable/>`), and the FT
 * intent as our `<metadata>` element. Cuju's arguments come from the SDK's launch argv
 * builders (`primaryArgv`, `receiverArgv`), never assembled here, so the libvirt path
 * passes the same checks as a direct launch (a build that lacks an option refuses it).
 *
 * What libvirt itself expresses (name, memory, vCPUs, the disk) is libvirt's: the Cuju
 * spec must leave `name`, `memory`, `smp` and `image` unset, or QEMU would get them twice.
 * The backup is named `cuju-bk-<id>` and gets a new UUID: ZStack reports domains by name
 * and nova keys on the UUID, so the backup must never look like the primary moved (§5.4).
 */
import { randomUUID } from 'node:crypto';
import { type CujuBuildRef, type CujuIncoming, type CujuVmSpec, primaryArgv, receiverArgv } from '@cuju/sdk';
import { FtServiceError } from '../../errors.js';
import type { FtIntentInput } from '../../model.js';
import { FT_INTENT_KEY, intentElement } from './metadata.js';
import { xmlAttrs, xmlEscape } from './xml.js';

/** libvirt's pass-through namespace for `<qemu:commandline>`. */
export const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';
/** The name prefix of backup domains. */
export const BACKUP_PREFIX = 'cuju-bk-';

/** One Cuju domain as libvirt sees it. */
export interface CujuDomainInput {
  /** The domain name (the backup's is derived: `cuju-bk-<backupOf>`). */
  name: string;
  /** The domain UUID; default a new one. */
  uuid?: string;
  memoryMiB: number;
  /** Default 1. */
  vcpus?: number;
  /** `kvm` (Cuju's FT needs its KVM module) or `qemu` (TCG). Default `kvm`. */
  type?: 'kvm' | 'qemu';
  /** The machine type. Default `pc`. */
  machine?: string;
  /** Absolute path of Cuju's qemu-system-x86_64 (the `<emulator>`). */
  emulator: string;
  /** The raw image both domains open (NFS in Cuju's set-up): a virtio `<disk>` marked shareable. */
  disk?: string;
  /** The Cuju build that runs the domain (decides which options it may get). */
  build: CujuBuildRef;
  /** Cuju's own arguments: the monitor socket(s), the NIC, GFT options, extra args. */
  spec: CujuVmSpec;
  /** The FT checkbox, written as our metadata element. */
  intent?: FtIntentInput;
}

/** The backup's input: the primary's, where it listens for the primary, and whose backup it is. */
export interface CujuBackupInput extends Omit<CujuDomainInput, 'name' | 'uuid'> {
  /** The primary's IaaS id (its domain UUID or name): the backup is `cuju-bk-<backupOf>`. */
  backupOf: string;
  incoming: CujuIncoming;
}

/** A generated domain: its name, UUID and XML. */
export interface CujuDomain {
  name: string;
  uuid: string;
  xml: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function invalid(field: string, why: string): never {
  throw new FtServiceError('FTS_INVALID_INPUT', `${field}: ${why}`, { field });
}

/** What libvirt's own elements take: memory, vCPUs, type, machine, emulator, disk. */
type MachineInput = Pick<
  CujuDomainInput,
  'memoryMiB' | 'vcpus' | 'type' | 'machine' | 'emulator' | 'disk'
> & {
  uuid?: string;
};

function check(input: CujuDomainInput, field: string): void {
  if (typeof input !== 'object' || input === null) invalid(field, 'must be an object');
  if (typeof input.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(input.name)) {
    invalid(`${field}.name`, 'must be 1-64 letters, digits, dots, dashes or underscores');
  }
  checkMachine(input, field);
  const spec = input.spec as Partial<CujuVmSpec> | undefined;
  if (typeof spec !== 'object' || spec === null) invalid(`${field}.spec`, 'must be a CujuVmSpec');
  for (const [key, instead] of [
    ['name', 'name'],
    ['memory', 'memoryMiB'],
    ['smp', 'vcpus'],
    ['image', 'disk'],
  ] as const) {
    if (spec[key] !== undefined)
      invalid(`${field}.spec.${key}`, `must be unset: libvirt sets it (give ${field}.${instead})`);
  }
}

function checkMachine(input: MachineInput, field: string): void {
  if (input.uuid !== undefined && !UUID.test(input.uuid)) invalid(`${field}.uuid`, 'must be a UUID');
  if (!Number.isInteger(input.memoryMiB) || input.memoryMiB < 16 || input.memoryMiB > 16 * 1024 * 1024) {
    invalid(`${field}.memoryMiB`, 'must be a whole number of MiB from 16');
  }
  if (input.vcpus !== undefined && (!Number.isInteger(input.vcpus) || input.vcpus < 1 || input.vcpus > 255)) {
    invalid(`${field}.vcpus`, 'must be a whole number from 1 to 255');
  }
  if (input.type !== undefined && input.type !== 'kvm' && input.type !== 'qemu') {
    invalid(`${field}.type`, "must be 'kvm' or 'qemu'");
  }
  if (input.machine !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(input.machine)) {
    invalid(`${field}.machine`, 'must be a machine type name');
  }
  if (
    typeof input.emulator !== 'string' ||
    !input.emulator.startsWith('/') ||
    /[\0\n]/.test(input.emulator)
  ) {
    invalid(`${field}.emulator`, 'must be an absolute path');
  }
  if (
    input.disk !== undefined &&
    (typeof input.disk !== 'string' || !input.disk.startsWith('/') || /[\0\n]/.test(input.disk))
  ) {
    invalid(`${field}.disk`, 'must be an absolute path');
  }
}

/**
 * libvirt gives its own QMP monitor the id `monitor` (`-mon chardev=charmonitor,id=monitor,
 * mode=control`), the very id Cuju's scripts give the readline monitor (`-mon
 * chardev=mon,id=monitor,mode=readline`): QEMU refuses the pair with "Duplicate ID
 * 'monitor' for mon" (seen with libvirt 9.0 and QEMU 7.2). The id names nothing anyone
 * connects to (Cuju's tools use the socket path), so under libvirt that one `-mon`
 * argument gets another id; every other argument is the SDK's, unchanged.
 */
export const LIBVIRT_SAFE_MON_ID = 'cuju-monitor';

function underLibvirt(argv: readonly string[]): string[] {
  return argv.map((arg, i) =>
    argv[i - 1] === '-mon' ? arg.replace(/(^|,)id=monitor(,|$)/, `$1id=${LIBVIRT_SAFE_MON_ID}$2`) : arg,
  );
}

/** The XML; `sdkArgv` empty: no `<qemu:commandline>` (libvirt's schema wants an argument in one). */
function domainXml(
  input: MachineInput & { intent?: FtIntentInput | undefined },
  name: string,
  uuid: string,
  sdkArgv: readonly string[],
): string {
  const argv = underLibvirt(sdkArgv);
  const lines = [
    `<domain${xmlAttrs([
      ['type', input.type ?? 'kvm'],
      ['xmlns:qemu', QEMU_NS],
    ])}>`,
    `  <name>${xmlEscape(name)}</name>`,
    `  <uuid>${uuid}</uuid>`,
  ];
  if (input.intent)
    lines.push('  <metadata>', `    ${intentElement(input.intent, FT_INTENT_KEY)}`, '  </metadata>');
  lines.push(
    `  <memory unit='MiB'>${input.memoryMiB}</memory>`,
    `  <vcpu>${input.vcpus ?? 1}</vcpu>`,
    `  <os><type arch='x86_64' machine='${xmlEscape(input.machine ?? 'pc')}'>hvm</type></os>`,
    '  <devices>',
    `    <emulator>${xmlEscape(input.emulator)}</emulator>`,
  );
  if (input.disk !== undefined) {
    lines.push(
      "    <disk type='file' device='disk'>",
      "      <driver name='qemu' type='raw' cache='none'/>",
      `      <source${xmlAttrs([['file', input.disk]])}/>`,
      "      <target dev='vda' bus='virtio'/>",
      '      <shareable/>',
      '    </disk>',
    );
  }
  lines.push('  </devices>');
  if (argv.length > 0) {
    lines.push('  <qemu:commandline>');
    for (const arg of argv) lines.push(`    <qemu:arg${xmlAttrs([['value', arg]])}/>`);
    lines.push('  </qemu:commandline>');
  }
  lines.push('</domain>', '');
  return lines.join('\n');
}

/** The primary's domain: Cuju's runvm.sh arguments (`primaryArgv`) in `<qemu:commandline>`. */
export function primaryDomain(input: CujuDomainInput): CujuDomain {
  check(input, 'primary');
  const uuid = (input.uuid ?? randomUUID()).toLowerCase();
  const argv = primaryArgv(input.spec, input.build);
  return { name: input.name, uuid, xml: domainXml(input, input.name, uuid, argv) };
}

/**
 * The backup's domain on another host: recv.sh's arguments (`receiverArgv`, ending in
 * `-incoming tcp:HOST:PORT,ft_mode`), named `cuju-bk-<backupOf>`, a new UUID, and no
 * intent element (the backup is the service's, not the user's).
 */
export function backupDomain(input: CujuBackupInput): CujuDomain {
  if (typeof input?.backupOf !== 'string' || !/^[A-Za-z0-9._-]{1,56}$/.test(input.backupOf)) {
    invalid('backup.backupOf', 'must be the primary id: 1-56 letters, digits, dots, dashes or underscores');
  }
  const { backupOf, incoming, intent: _ignored, ...rest } = input;
  const name = `${BACKUP_PREFIX}${backupOf}`;
  const domain: CujuDomainInput = { ...rest, name };
  check(domain, 'backup');
  const uuid = randomUUID();
  const argv = receiverArgv(input.spec, incoming, input.build);
  return { name, uuid, xml: domainXml(domain, name, uuid, argv) };
}

/** An ordinary guest as the console's create form makes it in libvirt (the VM the user ticks). */
export interface GuestDomainInput {
  /** The form's name: letters, digits, space, dot, dash, underscore. */
  name: string;
  memoryMiB: number;
  /** Default 1. */
  vcpus?: number;
  /** Default `kvm`. */
  type?: 'kvm' | 'qemu';
  /** Default `pc`. */
  machine?: string;
  /** The hypervisor binary; default Debian's `/usr/bin/qemu-system-x86_64`. */
  emulator?: string;
  /** The checkbox, written as our metadata element (unticked too, so the VM stays managed). */
  intent: FtIntentInput;
}

/**
 * A plain libvirt domain with the FT intent in its metadata: what `LibvirtAdapter.createVm`
 * defines for the console's create form. No Cuju arguments: the guest runs as any other,
 * and the FT service takes it from there.
 */
export function guestDomain(input: GuestDomainInput): CujuDomain {
  if (typeof input !== 'object' || input === null) invalid('guest', 'must be an object');
  if (typeof input.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/.test(input.name)) {
    invalid('guest.name', 'must be 1-63 letters, digits, spaces, dots, dashes or underscores');
  }
  const machine = { ...input, emulator: input.emulator ?? '/usr/bin/qemu-system-x86_64' };
  checkMachine(machine, 'guest');
  const uuid = randomUUID();
  return { name: input.name, uuid, xml: domainXml(machine, input.name, uuid, []) };
}
