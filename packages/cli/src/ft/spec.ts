/**
 * The pair spec file of `cuju ft up` (YAML or JSON) and the record file it writes. The
 * file's shape is checked here (zod, errors name the path); the VM spec inside (`vm`,
 * `backupVm`) is the SDK's CujuVmSpec and checked by FtPair itself, which names the
 * field the same way (`vm.nic.mac`).
 */
import { writeFileSync } from 'node:fs';
import {
  CUJU_BUILD_NAMES,
  type CujuBinary,
  type CujuVmSpec,
  type FtPairOptions,
  type FtPairRecord,
  LocalHost,
} from '@cuju/sdk';
import { simBinary } from '@cuju/sim';
import { z } from 'zod';
import { CliError } from '../errors.js';
import { loadSpec } from '../spec-file.js';

const ipv4 = z.ipv4({ message: 'must be a dotted IPv4 address' });

/** A host of the pair: this machine, reached by others at `address` (default 127.0.0.1). */
const LocalHostSpec = z.strictObject({ local: z.strictObject({ address: ipv4.optional() }) });

const Binary = z.union([
  z.literal('sim').describe('cuju-sim, told the spec build with -sim-build'),
  z.strictObject({ path: z.string().min(1), args: z.array(z.string()).optional() }),
]);

/** `cuju ft up SPEC`: a pair spec. */
export const PairSpecSchema = z.strictObject({
  build: z.enum(CUJU_BUILD_NAMES as unknown as [string, ...string[]]),
  binary: Binary,
  hosts: z
    .strictObject({ primary: LocalHostSpec, backup: LocalHostSpec })
    .default({ primary: { local: {} }, backup: { local: {} } }),
  vm: z.record(z.string(), z.unknown()),
  backupVm: z.record(z.string(), z.unknown()).optional(),
  ftPort: z.number().int().min(1).max(65_535).optional(),
  logDir: z.string().min(1).optional(),
  timeouts: z
    .strictObject({
      launchMs: z.number().int().positive().optional(),
      syncMs: z.number().int().positive().optional(),
      failoverMs: z.number().int().positive().optional(),
      stopGraceMs: z.number().int().positive().optional(),
    })
    .optional(),
});

/** A pair spec as read from its file. */
export type PairSpec = z.output<typeof PairSpecSchema>;

/** The binary a spec names: cuju-sim runs the spec's build (`-sim-build`). */
export function binaryOf(spec: PairSpec): CujuBinary {
  if (spec.binary === 'sim')
    return { path: simBinary.path, args: [...simBinary.args, '-sim-build', spec.build] };
  return { path: spec.binary.path, ...(spec.binary.args ? { args: spec.binary.args } : {}) };
}

/** Reads and checks a pair spec file. */
export function loadPairSpec(file: string): PairSpec {
  const spec = loadSpec(PairSpecSchema, file, 'pair spec');
  const p = spec.hosts.primary.local.address ?? '127.0.0.1';
  const b = spec.hosts.backup.local.address ?? '127.0.0.1';
  // The SDK records a LocalHost by the name `local` and maps it back by that name, so a
  // pair on two local addresses could not be re-attached with the right one for each.
  if (p !== b) {
    throw new CliError(
      'CLI_SPEC',
      `${file}: hosts.backup.local.address: two local hosts must share one address (${p}); ` +
        'the pair record names both `local`',
      { path: 'hosts.backup.local.address' },
    );
  }
  return spec;
}

/**
 * FtPairOptions from a spec: the hosts made, the binary resolved, the logs in `logDir`
 * (the spec's, or a directory the CLI made for this pair).
 */
export function pairOptionsOf(spec: PairSpec, logDir: string | undefined): FtPairOptions {
  const address = spec.hosts.primary.local.address;
  const host = new LocalHost(address ? { address } : undefined);
  return {
    primary: host,
    backup: host,
    build: spec.build as FtPairOptions['build'],
    vm: spec.vm as unknown as CujuVmSpec,
    ...(spec.backupVm ? { backupVm: spec.backupVm as Partial<CujuVmSpec> } : {}),
    binary: binaryOf(spec),
    ...(spec.ftPort ? { ftPort: spec.ftPort } : {}),
    ...(logDir ? { logDir } : {}),
    ...(spec.timeouts ? { timeouts: spec.timeouts } : {}),
  };
}

/** What `cuju ft up` saves: the SDK's record, and what attaching needs besides it. */
export interface SavedPair {
  kind: 'cuju-ft-pair';
  version: 1;
  record: FtPairRecord;
  binary: CujuBinary;
  /** The local hosts' address (the record names them `local`). */
  address: string;
  timeouts?: PairSpec['timeouts'];
  /**
   * The pair's own log directory, made by `cuju ft up` when the spec names none, and
   * removed with everything in it by `cuju ft down` (or a failed up).
   */
  ownLogDir?: string;
  /** Logs of VMs the pair had and replaced (removed by `cuju ft down`). */
  retired?: string[];
}

const SavedPairSchema = z.strictObject({
  kind: z.literal('cuju-ft-pair'),
  version: z.literal(1),
  // The SDK checks the record itself, field by field, when attaching (CUJU_FT_PAIR_RECORD).
  record: z.record(z.string(), z.unknown()),
  binary: z.strictObject({ path: z.string().min(1), args: z.array(z.string()).optional() }),
  address: ipv4,
  timeouts: PairSpecSchema.shape.timeouts,
  retired: z.array(z.string().min(1)).optional(),
  ownLogDir: z.string().min(1).optional(),
});

/** Reads a record file written by `cuju ft up`. */
export function loadSavedPair(file: string): SavedPair {
  return loadSpec(SavedPairSchema, file, 'pair record') as unknown as SavedPair;
}

/** Writes a record file (mode 0600: the specs may hold the command lines' secrets). */
export function saveSavedPair(file: string, saved: SavedPair): void {
  writeFileSync(file, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
}
