/**
 * prepareHost(): builds Cuju and prepares an FT host by uploading native/*.sh to it and
 * running them, every selected step as a dry run first (so a missing package or a wrong
 * kernel on the last step is found before the first build starts), then for real, each
 * output line reported as a progress event.
 */
import { posix } from 'node:path';
import { CujuArgumentError, PrepareHostError } from './errors.js';
import type { Host } from './hosts/host.js';
import { nativeScriptsDir, readNativeScripts } from './native-scripts.js';
import { checkArgs, checkBoolean, checkPath, checkTapName } from './validate.js';

/** The steps, in the order they run; each is one native script. */
export type PrepareStep = 'build-cuju' | 'build-kvm' | 'reinsmodkvm' | 'host-prep';

export interface BuildQemuOptions {
  /** Parallel make jobs (default: the host's core count). */
  jobs?: number;
  /** `make clean` first (the README does; slower). */
  clean?: boolean;
  /** More ./configure arguments, after Cuju's own. */
  configureArgs?: string[];
}

export interface BuildKvmOptions {
  /** The module tree (default: `kvm-4.4/` on a 4.4 kernel when present, else `kvm/`). */
  kvmDir?: string;
  /** The kernel build directory (default: /lib/modules/$(uname -r)/build). */
  kernelDir?: string;
  jobs?: number;
  clean?: boolean;
  /** Apply the documented patches when the build fails with their errors (default true). */
  patch?: boolean;
}

export interface LoadKvmOptions {
  /** The built module tree (default: chosen from `source` as build-kvm does). */
  kvmDir?: string;
}

export interface HostNetworkOptions {
  /** Tap devices to create on the bridge (`-net tap,ifname=NAME`). */
  taps?: string[];
  /** The bridge (default br0). */
  bridge?: string;
  /** Create the bridge (empty, without uplink) when it does not exist. */
  createBridge?: boolean;
  /** The taps' owner (default: root, or the sudo user). */
  tapUser?: string;
  /** The ITRI guide's cpuset cgroup. */
  cpuset?: { cpus: string; mems?: string; cgroupDir?: string; name?: string };
  /** The NFS export holding the image and the Cuju tree. */
  nfs?: { export: string; mountPoint?: string; options?: string };
}

export interface PrepareHostOptions {
  /** The Cuju source tree on the host (absolute). Needed by the build and load steps. */
  source?: string;
  /** Clone the tree into `source` first, when it does not exist there yet. */
  clone?: { url: string; ref?: string };
  /** Build QEMU (native/build-cuju.sh). */
  buildQemu?: boolean | BuildQemuOptions;
  /** Build the KVM modules, patching on the documented errors (native/build-kvm.sh). */
  buildKvm?: boolean | BuildKvmOptions;
  /** Replace the loaded KVM modules with Cuju's (native/reinsmodkvm.sh; root). */
  loadKvm?: boolean | LoadKvmOptions;
  /** Taps, cpuset cgroup, NFS mount (native/host-prep.sh; root). */
  hostPrep?: HostNetworkOptions;
  /** Warn instead of refusing on a kernel other than 4.4.x / 4.15.x. */
  allowUnsupportedKernel?: boolean;
  /** Run the root steps (loadKvm, hostPrep) through `sudo -n`; builds run as the login user. */
  sudo?: boolean;
  /** Environment for the scripts (`MAKE`, `PATH`, ...), set with `env NAME=VALUE`. */
  env?: Record<string, string>;
  /** Stop after the dry runs: the result holds the plans, nothing was changed. */
  dryRunOnly?: boolean;
  /** Leave the uploaded scripts on the host (their directory is in the result). */
  keepScripts?: boolean;
  /** Where the scripts are on this machine (default: shipped with this package). */
  scriptsDir?: string;
  /** Every step start and end, every output line, every patch applied. */
  onProgress?: (event: PrepareProgress) => void;
  /** Stops the running script (SIGTERM, then SIGKILL) and rejects with the host's ABORTED error. */
  signal?: AbortSignal;
}

export type PreparePhase = 'dry-run' | 'run';

export type PrepareProgress =
  | { type: 'uploaded'; dir: string; files: string[] }
  | { type: 'step-start'; step: PrepareStep; phase: PreparePhase; argv: string[] }
  | { type: 'output'; step: PrepareStep; phase: PreparePhase; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'patch-applied'; step: 'build-kvm'; patch: string; error: string }
  | { type: 'step-end'; step: PrepareStep; phase: PreparePhase; durationMs: number };

export interface PrepareHostResult {
  /** The host's name. */
  host: string;
  /** Where the scripts were uploaded (removed at the end unless keepScripts). */
  scriptsDir: string | undefined;
  /** Each step's dry-run plan: the commands it would run, one per line (`#` lines are notes). */
  plans: Partial<Record<PrepareStep, string[]>>;
  /** The steps that ran for real, in order. */
  done: PrepareStep[];
  /** build-cuju: the built qemu-system-x86_64. */
  qemuBinary?: string;
  /** build-kvm: kvm.ko and kvm-intel.ko. */
  kvmModules?: string[];
  /** build-kvm: the patches applied (`patch/use_eager_fpu.patch`, ...), in order. */
  patchesApplied: string[];
  /** reinsmodkvm: lsmod's kvm lines after loading. */
  loadedModules?: string[];
}

interface PlannedStep {
  step: PrepareStep;
  script: string;
  args: string[];
  sudo: boolean;
  /** Needs the source tree to exist, even for its dry run. */
  needsTree: boolean;
}

/**
 * Uploads the native scripts to `host` and runs the selected steps: all dry runs, then all
 * real runs, in the order build-cuju, build-kvm, reinsmodkvm, host-prep. Rejects with
 * CujuArgumentError (nothing sent) for bad options, PrepareHostError when a script fails
 * (with what was done before), and the host's errors (HostError) for SSH trouble.
 */
export async function prepareHost(host: Host, options: PrepareHostOptions): Promise<PrepareHostResult> {
  const planned = planSteps(options);
  const env = checkEnv(options.env);
  const scripts = readNativeScripts(nativeScriptsDir(options.scriptsDir));
  const emit = (event: PrepareProgress) => {
    try {
      options.onProgress?.(event);
    } catch {
      // A listener's bug must not stop a half-built host.
    }
  };
  const result: PrepareHostResult = {
    host: host.name,
    scriptsDir: undefined,
    plans: {},
    done: [],
    patchesApplied: [],
  };

  const dir = (
    await host.run(['mktemp', '-d', '/tmp/cuju-native.XXXXXX'], { check: true, signal: options.signal })
  ).stdout.trim();
  result.scriptsDir = dir;
  try {
    await host.run(['mkdir', '-p', '--', posix.join(dir, 'lib')], { check: true, signal: options.signal });
    for (const { file, content } of scripts) {
      await host.writeFile(posix.join(dir, file), content, { mode: 0o755 });
    }
    emit({ type: 'uploaded', dir, files: scripts.map((s) => s.file) });

    const run = async (p: PlannedStep, phase: PreparePhase) => {
      const argv = [
        ...env,
        'bash',
        posix.join(dir, p.script),
        ...p.args,
        ...(phase === 'dry-run' ? ['--dry-run'] : []),
      ];
      emit({ type: 'step-start', step: p.step, phase, argv });
      const started = performance.now();
      const r = await host.run(argv, {
        sudo: p.sudo,
        signal: options.signal,
        onLine: (line, stream) => {
          emit({ type: 'output', step: p.step, phase, stream, line });
          const patched = phase === 'run' && stream === 'stderr' ? PATCH_LINE.exec(line) : null;
          if (patched) {
            result.patchesApplied.push(patched[2]!);
            emit({ type: 'patch-applied', step: 'build-kvm', patch: patched[2]!, error: patched[1]! });
          }
        },
      });
      if (r.code !== 0) {
        throw new PrepareHostError({
          host: host.name,
          step: p.step,
          phase,
          exitCode: r.code,
          stderr: r.stderr,
          partial: { ...result },
        });
      }
      emit({ type: 'step-end', step: p.step, phase, durationMs: performance.now() - started });
      return lines(r.stdout);
    };

    // A tree that a clone will create cannot be planned against yet: those dry runs wait
    // until just before their real run.
    const treePending =
      options.clone !== undefined &&
      (await host.run(['test', '-e', options.source!], { signal: options.signal })).code !== 0;
    const deferred = new Set<PlannedStep>();
    for (const p of planned) {
      if (treePending && p.needsTree) deferred.add(p);
      else result.plans[p.step] = await run(p, 'dry-run');
    }
    if (options.dryRunOnly) return result;

    for (const p of planned) {
      if (deferred.has(p)) result.plans[p.step] = await run(p, 'dry-run');
      const out = await run(p, 'run');
      result.done.push(p.step);
      if (p.step === 'build-cuju') result.qemuBinary = out.at(-1);
      if (p.step === 'build-kvm') result.kvmModules = out;
      if (p.step === 'reinsmodkvm') result.loadedModules = out;
    }
    return result;
  } finally {
    if (!options.keepScripts) {
      await host.run(['rm', '-rf', '--', dir]).catch(() => {});
      result.scriptsDir = undefined;
    }
  }
}

/** build-kvm.sh's line when it patches: `build-kvm.sh: make failed with "ERROR": applying patch/X and building again`. */
const PATCH_LINE = /^build-kvm\.sh: make failed with "(.+)": applying (patch\/\S+) and building again$/;

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** The steps the options select, with their scripts' arguments; refuses bad options. */
export function planSteps(options: PrepareHostOptions): PlannedStep[] {
  if (typeof options !== 'object' || options === null) {
    throw new CujuArgumentError('options', 'must be an object');
  }
  const common =
    options.allowUnsupportedKernel === undefined
      ? []
      : flag(
          checkBoolean('allowUnsupportedKernel', options.allowUnsupportedKernel),
          '--allow-unsupported-kernel',
        );
  const sudo = options.sudo === undefined ? false : checkBoolean('sudo', options.sudo);
  const steps: PlannedStep[] = [];
  const source = () => {
    if (options.source === undefined) {
      throw new CujuArgumentError(
        'source',
        'is required by buildQemu, buildKvm and loadKvm (the Cuju tree on the host)',
      );
    }
    return ['--source', absolute('source', options.source)];
  };

  if (options.clone !== undefined) {
    if (!options.buildQemu) throw new CujuArgumentError('clone', 'needs buildQemu (build-cuju.sh clones)');
    checkPath('clone.url', options.clone.url);
  }
  const qemu = stepOptions('buildQemu', options.buildQemu);
  if (qemu) {
    const args = source();
    if (options.clone) {
      args.push('--clone', options.clone.url);
      if (options.clone.ref !== undefined) args.push('--ref', checkRef('clone.ref', options.clone.ref));
    }
    args.push(...jobs('buildQemu.jobs', qemu.jobs), ...flag(qemu.clean, '--clean'));
    if (qemu.configureArgs !== undefined) {
      for (const a of checkArgs('buildQemu.configureArgs', qemu.configureArgs))
        args.push('--configure-arg', a);
    }
    steps.push({ step: 'build-cuju', script: 'build-cuju.sh', args, sudo: false, needsTree: false });
  }
  const kvm = stepOptions('buildKvm', options.buildKvm);
  if (kvm) {
    const args = source();
    if (kvm.kvmDir !== undefined) args.push('--kvm-dir', absolute('buildKvm.kvmDir', kvm.kvmDir));
    if (kvm.kernelDir !== undefined) args.push('--kernel-dir', absolute('buildKvm.kernelDir', kvm.kernelDir));
    args.push(...jobs('buildKvm.jobs', kvm.jobs), ...flag(kvm.clean, '--clean'));
    if (kvm.patch !== undefined && !checkBoolean('buildKvm.patch', kvm.patch)) args.push('--no-patch');
    steps.push({
      step: 'build-kvm',
      script: 'build-kvm.sh',
      args: [...args, ...common],
      sudo: false,
      needsTree: true,
    });
  }
  const load = stepOptions('loadKvm', options.loadKvm);
  if (load) {
    const args =
      load.kvmDir !== undefined ? ['--kvm-dir', absolute('loadKvm.kvmDir', load.kvmDir)] : source();
    steps.push({
      step: 'reinsmodkvm',
      script: 'reinsmodkvm.sh',
      args: [...args, ...common],
      sudo,
      needsTree: true,
    });
  }
  if (options.hostPrep !== undefined) {
    steps.push({
      step: 'host-prep',
      script: 'host-prep.sh',
      args: hostPrepArgs(options.hostPrep),
      sudo,
      needsTree: false,
    });
  }
  if (steps.length === 0) {
    throw new CujuArgumentError(
      'options',
      'select at least one step: buildQemu, buildKvm, loadKvm or hostPrep',
    );
  }
  return steps;
}

function hostPrepArgs(o: HostNetworkOptions): string[] {
  const args: string[] = [];
  for (const [i, tap] of (o.taps ?? []).entries())
    args.push('--tap', checkTapName(`hostPrep.taps[${i}]`, tap));
  if (o.bridge !== undefined) args.push('--bridge', checkTapName('hostPrep.bridge', o.bridge));
  if (o.createBridge !== undefined && checkBoolean('hostPrep.createBridge', o.createBridge))
    args.push('--create-bridge');
  if (o.tapUser !== undefined) args.push('--tap-user', checkName('hostPrep.tapUser', o.tapUser));
  if (o.cpuset !== undefined) {
    args.push('--cpuset', checkCpuList('hostPrep.cpuset.cpus', o.cpuset.cpus));
    if (o.cpuset.mems !== undefined)
      args.push('--cpuset-mems', checkCpuList('hostPrep.cpuset.mems', o.cpuset.mems));
    if (o.cpuset.cgroupDir !== undefined)
      args.push('--cgroup-dir', absolute('hostPrep.cpuset.cgroupDir', o.cpuset.cgroupDir));
    if (o.cpuset.name !== undefined)
      args.push('--cgroup-name', checkName('hostPrep.cpuset.name', o.cpuset.name));
  }
  if (o.nfs !== undefined) {
    if (typeof o.nfs.export !== 'string' || !/^[^:\s]+:\/\S*$/.test(o.nfs.export)) {
      throw new CujuArgumentError('hostPrep.nfs.export', 'must be SERVER:/PATH');
    }
    args.push('--nfs', o.nfs.export);
    if (o.nfs.mountPoint !== undefined)
      args.push('--nfs-mount', absolute('hostPrep.nfs.mountPoint', o.nfs.mountPoint));
    if (o.nfs.options !== undefined)
      args.push('--nfs-options', checkName('hostPrep.nfs.options', o.nfs.options, /^[\w.,=:-]+$/));
  }
  if (args.every((a) => !['--tap', '--cpuset', '--nfs'].includes(a))) {
    throw new CujuArgumentError('hostPrep', 'selects nothing: give taps, cpuset or nfs');
  }
  return args;
}

/** `true` means the step with its defaults; false/undefined means not selected. */
function stepOptions<T extends object>(field: string, value: boolean | T | undefined): T | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {} as T;
  if (typeof value !== 'object' || value === null) {
    throw new CujuArgumentError(field, 'must be true, false or an options object');
  }
  return value;
}

function flag(on: boolean | undefined, name: string): string[] {
  return on ? [name] : [];
}

function jobs(field: string, value: number | undefined): string[] {
  if (value === undefined) return [];
  if (!Number.isInteger(value) || value < 1 || value > 9999) {
    throw new CujuArgumentError(field, `must be an integer 1-9999, got ${String(value)}`);
  }
  return ['--jobs', String(value)];
}

function absolute(field: string, value: unknown): string {
  const path = checkPath(field, value);
  if (!path.startsWith('/')) throw new CujuArgumentError(field, 'must be an absolute path on the host');
  return path;
}

function checkRef(field: string, value: unknown): string {
  return checkName(field, value, /^[\w./-]+$/);
}

function checkName(field: string, value: unknown, pattern = /^[A-Za-z0-9_][\w.-]*$/): string {
  if (typeof value !== 'string' || !pattern.test(value) || value.startsWith('-')) {
    throw new CujuArgumentError(field, `must match ${pattern.source}`);
  }
  return value;
}

function checkCpuList(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) {
    throw new CujuArgumentError(field, `must be a list like 7, 2-3 or 0,4-5, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `env NAME=VALUE ...` before the script, or nothing. */
function checkEnv(env: Record<string, string> | undefined): string[] {
  if (env === undefined) return [];
  const pairs = Object.entries(env).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new CujuArgumentError('env', `has a bad variable name ${JSON.stringify(name)}`);
    if (typeof value !== 'string' || value.includes('\u0000')) {
      throw new CujuArgumentError(`env.${name}`, 'must be a string without NUL');
    }
    return `${name}=${value}`;
  });
  return pairs.length === 0 ? [] : ['env', ...pairs];
}
