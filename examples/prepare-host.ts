/**
 * The seeds' host preparation (build Cuju, build and reload the KVM modules, taps, the
 * cpuset cgroup, the NFS mount) in one command, over SSH or on this machine:
 *
 *   tsx examples/prepare-host.ts --host root@192.168.111.1 --key ~/.ssh/id_ed25519 \
 *       --source /mnt/nfs/Cuju --qemu --kvm --load --tap tap0 --tap tap1 --cpuset 7 \
 *       [--nfs 192.168.11.1:/home/cuju/nfsfolder] [--clone URL [--ref REF]] [--kernel-dir DIR] \
 *       [--jobs N] [--sudo] [--dry-run] [--known-hosts FILE]
 *   tsx examples/prepare-host.ts --local --source ~/Cuju --qemu --dry-run
 *
 * Every step is planned (dry run) before any runs; the build's output is streamed with
 * the step's name in front, each patch applied is announced, and the end says what was
 * built and loaded.
 */
import {
  type Host,
  LocalHost,
  PrepareHostError,
  type PrepareHostOptions,
  type PrepareProgress,
  prepareHost,
} from '@cuju/sdk';
import {
  connectSsh,
  type Parsed,
  parseCommandLine,
  requireOptions,
  runMain,
  sshTarget,
  UsageError,
  wholeNumber,
} from './lib/cli.js';

const USAGE = `usage: tsx examples/prepare-host.ts (--local | --host USER@HOST[:PORT] --key FILE [--known-hosts FILE])
           [--source DIR] [--clone URL [--ref REF]] [--qemu] [--kvm] [--kernel-dir DIR] [--load]
           [--jobs N] [--tap NAME]... [--bridge NAME] [--cpuset CPUS] [--nfs SERVER:/PATH] [--sudo] [--dry-run]

  --local               prepare this machine; --host: a host over SSH (host key checked)
  --source DIR          the Cuju source tree on the host
  --clone URL, --ref R  clone it there first (at REF)
  --qemu, --kvm         build Cuju's QEMU, its KVM modules (--kernel-dir: the kernel build dir)
  --load                replace the host's KVM modules with Cuju's
  --jobs N              parallel make jobs (default: the host's cores)
  --tap, --bridge, --cpuset, --nfs
                        host set-up steps (tap devices, the cpuset group, the NFS mount)
  --sudo                run the root steps through sudo -n
  --dry-run             print every step's plan, change nothing
  --help                this text

Exit status: 0 prepared (or planned); 1 a step failed; 2 bad arguments; 3 a prerequisite is missing.`;

const OPTIONS = {
  local: { type: 'boolean' },
  host: { type: 'string' },
  key: { type: 'string' },
  'known-hosts': { type: 'string' },
  source: { type: 'string' },
  clone: { type: 'string' },
  ref: { type: 'string' },
  qemu: { type: 'boolean' },
  kvm: { type: 'boolean' },
  'kernel-dir': { type: 'string' },
  load: { type: 'boolean' },
  jobs: { type: 'string' },
  tap: { type: 'string', multiple: true },
  bridge: { type: 'string' },
  cpuset: { type: 'string' },
  nfs: { type: 'string' },
  sudo: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
} as const;

function options({ values: o }: Parsed<typeof OPTIONS>): PrepareHostOptions {
  const jobs = o.jobs === undefined ? undefined : wholeNumber('--jobs', o.jobs, 1, 9999);
  if (o.ref !== undefined && o.clone === undefined) throw new UsageError('--ref goes with --clone');
  const hostPrep: PrepareHostOptions['hostPrep'] = {
    ...(o.tap ? { taps: o.tap } : {}),
    ...(o.bridge ? { bridge: o.bridge } : {}),
    ...(o.cpuset ? { cpuset: { cpus: o.cpuset } } : {}),
    ...(o.nfs ? { nfs: { export: o.nfs } } : {}),
  };
  return {
    source: o.source,
    ...(o.clone ? { clone: { url: o.clone, ...(o.ref ? { ref: o.ref } : {}) } } : {}),
    buildQemu: o.qemu === true && { jobs },
    buildKvm: o.kvm === true && { jobs, kernelDir: o['kernel-dir'] },
    loadKvm: o.load === true,
    ...(Object.keys(hostPrep).length > 0 ? { hostPrep } : {}),
    sudo: o.sudo === true,
    dryRunOnly: o['dry-run'] === true,
  };
}

/** One line per event: what a person watching a long build wants to see. */
function show(e: PrepareProgress): void {
  switch (e.type) {
    case 'uploaded':
      console.log(`scripts uploaded to ${e.dir}`);
      break;
    case 'step-start':
      console.log(`== ${e.step}${e.phase === 'dry-run' ? ' (plan)' : ''}`);
      break;
    case 'output':
      console.log(`[${e.step}] ${e.line}`);
      break;
    case 'patch-applied':
      console.log(`** the build failed with "${e.error}": applied ${e.patch} and built again`);
      break;
    case 'step-end':
      if (e.phase === 'run') console.log(`== ${e.step} done in ${(e.durationMs / 1000).toFixed(1)} s`);
      break;
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, { usage: USAGE, options: OPTIONS });
  if (!args) return 0;
  const { values } = args;
  // Every option is checked before anything connects or runs.
  const prepare = options(args);
  let host: Host;
  if (values.local) {
    if (values.host !== undefined || values.key !== undefined || values['known-hosts'] !== undefined) {
      throw new UsageError('--local takes no --host, --key or --known-hosts');
    }
    host = new LocalHost();
  } else {
    requireOptions(values, ['host', 'key']);
    host = await connectSsh(sshTarget('host', values.host!), values.key!, values['known-hosts']);
  }
  try {
    const result = await prepareHost(host, { ...prepare, onProgress: show });
    if (result.done.length === 0) {
      console.log(`planned ${Object.keys(result.plans).join(', ')}: nothing was changed (--dry-run)`);
      return 0;
    }
    if (result.qemuBinary) console.log(`Cuju: ${result.qemuBinary}`);
    if (result.kvmModules) console.log(`KVM modules: ${result.kvmModules.join(' ')}`);
    if (result.patchesApplied.length > 0) console.log(`patches applied: ${result.patchesApplied.join(' ')}`);
    if (result.loadedModules)
      console.log(`loaded: ${result.loadedModules.map((l) => l.split(/\s+/)[0]).join(' ')}`);
    console.log(`${host.name} is prepared: ${result.done.join(', ')}`);
    return 0;
  } catch (err) {
    if (!(err instanceof PrepareHostError)) throw err;
    console.error(err.message);
    if (err.partial.done.length > 0) console.error(`done before the failure: ${err.partial.done.join(', ')}`);
    return err.reason === 'prerequisites' ? 3 : 1;
  } finally {
    await host.close();
  }
}

runMain(USAGE, () => main(process.argv.slice(2)));
