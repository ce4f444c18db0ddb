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
import { connectSsh, Options, runMain } from './lib/cli.js';

const USAGE =
  'usage: tsx examples/prepare-host.ts (--local | --host USER@HOST[:PORT] --key FILE [--known-hosts FILE]) ' +
  '[--source DIR] [--clone URL [--ref REF]] [--qemu] [--kvm] [--kernel-dir DIR] [--load] [--jobs N] ' +
  '[--tap NAME]... [--bridge NAME] [--cpuset CPUS] [--nfs SERVER:/PATH] [--sudo] [--dry-run]';

function options(o: Options): PrepareHostOptions {
  const jobs = o.str('jobs') === undefined ? undefined : Number(o.str('jobs'));
  const hostPrep: PrepareHostOptions['hostPrep'] = {
    ...(o.all('tap').length > 0 ? { taps: o.all('tap') } : {}),
    ...(o.str('bridge') ? { bridge: o.str('bridge') } : {}),
    ...(o.str('cpuset') ? { cpuset: { cpus: o.str('cpuset')! } } : {}),
    ...(o.str('nfs') ? { nfs: { export: o.str('nfs')! } } : {}),
  };
  const clone = o.str('clone');
  const ref = o.str('ref');
  return {
    source: o.str('source'),
    ...(clone ? { clone: { url: clone, ...(ref ? { ref } : {}) } } : {}),
    buildQemu: o.has('qemu') && { jobs },
    buildKvm: o.has('kvm') && { jobs, kernelDir: o.str('kernel-dir') },
    loadKvm: o.has('load'),
    ...(Object.keys(hostPrep).length > 0 ? { hostPrep } : {}),
    sudo: o.has('sudo'),
    dryRunOnly: o.has('dry-run'),
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
  const o = new Options(argv, USAGE);
  let host: Host;
  if (o.has('local')) host = new LocalHost();
  else {
    const target = o.str('host');
    const key = o.str('key');
    if (!target || !key) {
      console.error(USAGE);
      return 2;
    }
    host = await connectSsh(target, key, o.str('known-hosts'));
  }
  try {
    const result = await prepareHost(host, { ...options(o), onProgress: show });
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

runMain(() => main(process.argv.slice(2)));
