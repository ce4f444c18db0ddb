/**
 * prepareHost(): builds Cuju and prepares an FT host by uploading native/*.sh to it and
 * running them, every selected step as a dry run first (so a missing package or a wrong
 * kernel on the last step is found before the first build starts), then for real, each
 * output line reported as a progress event.
 */
import { posix } from 'node:path';
import { CujuArgumentError, PrepareHostError } from './errors.js';
import { HostError } from './hosts/errors.js';
import type { Host, RunResult } from './hosts/host.js';
import { nativeScriptsDir, readNativeScripts } from './native-scripts.js';
import { checkArgs, checkBoolean, checkTapName } from './validate.js';

/** The steps; each is one native script. They run host-prep, build-cuju, build-kvm, reinsmodkvm. */
export type PrepareStep = 'host-prep' | 'build-cuju' | 'build-kvm' | 'reinsmodkvm';

/** `buildQemu` options: parallel jobs, a clean build, more configure arguments. */
export interface BuildQemuOptions {
  /** Parallel make jobs (default: the host's core count). */
  jobs?: number;
  /** `make clean` first (the README does; slower). */
  clean?: boolean;
  /** More ./configure arguments, after Cuju's own. */
  configureArgs?: string[];
}

/** `buildKvm` options: parallel jobs, the kernel build directory. */
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

/** `loadKvm` options. */
export interface LoadKvmOptions {
  /** The built module tree (default: buildKvm's `kvmDir`, else chosen from `source` as build-kvm does). */
  kvmDir?: string;
}

/** The host set-up steps: tap devices on a bridge, the cpuset group, the NFS mount. */
export interface HostPrepOptions {
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

/** `prepareHost()` options: the source tree, which steps run, sudo, progress, dry run. */
export interface PrepareHostOptions {
  /** The Cuju source tree on the host (absolute). Needed by the build and load steps. */
  source?: string;
  /**
   * Clone the tree into `source` first, when it does not exist there yet; a tree that is
   * already there is built as it is, and must be at `ref` when one is given.
   */
  clone?: { url: string; ref?: string };
  /** Build QEMU (native/build-cuju.sh). */
  buildQemu?: boolean | BuildQemuOptions;
  /** Build the KVM modules, patching on the documented errors (native/build-kvm.sh). */
  buildKvm?: boolean | BuildKvmOptions;
  /** Replace the loaded KVM modules with Cuju's (native/reinsmodkvm.sh; root). */
  loadKvm?: boolean | LoadKvmOptions;
  /** Taps, cpuset cgroup, NFS mount (native/host-prep.sh; root). */
  hostPrep?: HostPrepOptions;
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
  /** Every step's start, every output line, every patch applied, every step that succeeded. */
  onProgress?: (event: PrepareProgress) => void;
  /**
   * Stops the running script (SIGTERM to its process group, then SIGKILL) and rejects with
   * PrepareHostError (`reason: 'host'`, `cause`: the ABORTED HostError). Over SSH a sudo
   * step is signalled through sudo too; on a LocalHost run by a non-root user a sudo
   * step cannot be signalled and may finish on its own.
   */
  signal?: AbortSignal;
}

/** A step runs twice: first as a dry run (the plan), then for real. */
export type PreparePhase = 'dry-run' | 'run';

/** `prepareHost()` progress events: uploads, step starts and ends, output lines, patches applied. */
export type PrepareProgress =
  | { type: 'uploaded'; dir: string; files: string[] }
  | { type: 'step-start'; step: PrepareStep; phase: PreparePhase; argv: string[] }
  | { type: 'output'; step: PrepareStep; phase: PreparePhase; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'patch-applied'; step: 'build-kvm'; patch: string; error: string }
  | { type: 'step-end'; step: PrepareStep; phase: PreparePhase; durationMs: number };

/** What `prepareHost()` did: each step's plan, the steps done, what was built and loaded. */
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
 * real runs, in the order host-prep (its NFS mount may bring the tree), build-cuju,
 * build-kvm, reinsmodkvm. A tree that a clone or the NFS mount will bring is only warned
 * about in the dry runs. Rejects with CujuArgumentError for bad options (nothing sent) or a
 * source directory that is missing and that nothing will bring; PrepareHostError when a
 * step fails, its script or the host under it (`partial`: what was done before); a
 * HostError when the host fails before any step (connecting, uploading).
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

  // A tree that neither a clone nor the NFS mount will bring must be there already.
  if (
    planned.some((p) => p.needsTree) &&
    options.clone === undefined &&
    options.hostPrep?.nfs === undefined &&
    (await host.run(['test', '-d', options.source!], { signal: options.signal })).code !== 0
  ) {
    throw new CujuArgumentError(
      'source',
      `is not a directory on ${host.name}: give clone (to clone it there) or hostPrep.nfs (to mount it)`,
    );
  }

  const dir = (
    await host.run(['mktemp', '-d', '/tmp/cuju-native.XXXXXX'], { check: true, signal: options.signal })
  ).stdout.trim();
  result.scriptsDir = dir;
  /** What was done so far, for an error: the scripts' directory only if it stays. */
  const partial = (): PrepareHostResult => ({
    ...result,
    plans: { ...result.plans },
    done: [...result.done],
    patchesApplied: [...result.patchesApplied],
    scriptsDir: options.keepScripts ? dir : undefined,
  });
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
      let failedWith = '';
      let r: RunResult;
      try {
        r = await host.run(argv, {
          sudo: p.sudo,
          signal: options.signal,
          onLine: (line, stream) => {
            emit({ type: 'output', step: p.step, phase, stream, line });
            if (phase !== 'run' || stream !== 'stderr') return;
            // build-kvm.sh names the error, runs patch, and says `applied` only once it worked.
            failedWith = PATCH_FAILED.exec(line)?.[1] ?? failedWith;
            const applied = PATCH_APPLIED.exec(line)?.[1];
            if (applied !== undefined) {
              result.patchesApplied.push(applied);
              emit({ type: 'patch-applied', step: 'build-kvm', patch: applied, error: failedWith });
            }
          },
        });
      } catch (err) {
        if (!(err instanceof HostError)) throw err;
        throw new PrepareHostError({ host: host.name, step: p.step, phase, partial: partial(), cause: err });
      }
      if (r.code !== 0) {
        throw new PrepareHostError({
          host: host.name,
          step: p.step,
          phase,
          partial: partial(),
          exit: { code: r.code, stderr: r.stderr },
        });
      }
      emit({ type: 'step-end', step: p.step, phase, durationMs: performance.now() - started });
      return lines(r.stdout);
    };

    for (const p of planned) result.plans[p.step] = await run(p, 'dry-run');
    if (options.dryRunOnly) return result;

    for (const p of planned) {
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

/** build-kvm.sh's lines around a patch: the error it matched, then the patch once applied. */
const PATCH_FAILED = /^build-kvm\.sh: make failed with "(.+)": applying patch\/\S+$/;
const PATCH_APPLIED = /^build-kvm\.sh: applied (patch\/\S+); building again$/;

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/**
 * The steps the options select, in the order they run, with their scripts' arguments;
 * refuses bad options. host-prep comes first: its NFS mount may be what brings the tree.
 */
export function planSteps(options: PrepareHostOptions): PlannedStep[] {
  const o = record('options', options)!;
  for (const name of ['allowUnsupportedKernel', 'sudo', 'dryRunOnly', 'keepScripts'] as const) {
    if (o[name] !== undefined) checkBoolean(name, o[name]);
  }
  const common = flag(options.allowUnsupportedKernel, '--allow-unsupported-kernel');
  const sudo = options.sudo === true;
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

  const prep = record('hostPrep', options.hostPrep);
  if (prep) {
    steps.push({
      step: 'host-prep',
      script: 'host-prep.sh',
      args: hostPrepArgs(prep),
      sudo,
      needsTree: false,
    });
  }
  const clone = record('clone', options.clone);
  const qemu = stepOptions<BuildQemuOptions>('buildQemu', options.buildQemu);
  if (clone && !qemu) throw new CujuArgumentError('clone', 'needs buildQemu (build-cuju.sh clones)');
  if (qemu) {
    const args = source();
    if (clone) {
      args.push('--clone', checkCloneUrl('clone.url', clone.url));
      if (clone.ref !== undefined) args.push('--ref', checkRef('clone.ref', clone.ref));
    }
    args.push(
      ...jobs('buildQemu.jobs', qemu.jobs),
      ...flag(checkFlag('buildQemu.clean', qemu.clean), '--clean'),
    );
    if (qemu.configureArgs !== undefined) {
      for (const a of checkArgs('buildQemu.configureArgs', qemu.configureArgs))
        args.push('--configure-arg', a);
    }
    steps.push({ step: 'build-cuju', script: 'build-cuju.sh', args, sudo: false, needsTree: !clone });
  }
  const kvm = stepOptions<BuildKvmOptions>('buildKvm', options.buildKvm);
  if (kvm) {
    const args = source();
    if (kvm.kvmDir !== undefined) args.push('--kvm-dir', absolute('buildKvm.kvmDir', kvm.kvmDir));
    if (kvm.kernelDir !== undefined) args.push('--kernel-dir', absolute('buildKvm.kernelDir', kvm.kernelDir));
    args.push(...jobs('buildKvm.jobs', kvm.jobs), ...flag(checkFlag('buildKvm.clean', kvm.clean), '--clean'));
    if (kvm.patch !== undefined && !checkBoolean('buildKvm.patch', kvm.patch)) args.push('--no-patch');
    steps.push({
      step: 'build-kvm',
      script: 'build-kvm.sh',
      args: [...args, ...common],
      sudo: false,
      needsTree: true,
    });
  }
  const load = stepOptions<LoadKvmOptions>('loadKvm', options.loadKvm);
  if (load) {
    // The modules just built, wherever they were built.
    const kvmDir = load.kvmDir ?? kvm?.kvmDir;
    const args = kvmDir !== undefined ? ['--kvm-dir', absolute('loadKvm.kvmDir', kvmDir)] : source();
    steps.push({
      step: 'reinsmodkvm',
      script: 'reinsmodkvm.sh',
      args: [...args, ...common],
      sudo,
      needsTree: kvmDir === undefined,
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

function hostPrepArgs(o: HostPrepOptions): string[] {
  const args: string[] = [];
  const taps = o.taps ?? [];
  if (!Array.isArray(taps))
    throw new CujuArgumentError('hostPrep.taps', 'must be an array of interface names');
  for (const [i, tap] of taps.entries()) args.push('--tap', checkTapName(`hostPrep.taps[${i}]`, tap));
  if (
    taps.length === 0 &&
    (o.bridge !== undefined || o.createBridge !== undefined || o.tapUser !== undefined)
  ) {
    throw new CujuArgumentError('hostPrep', 'has bridge, createBridge or tapUser without taps');
  }
  if (o.bridge !== undefined) args.push('--bridge', checkTapName('hostPrep.bridge', o.bridge));
  args.push(...flag(checkFlag('hostPrep.createBridge', o.createBridge), '--create-bridge'));
  if (o.tapUser !== undefined) args.push('--tap-user', checkName('hostPrep.tapUser', o.tapUser));
  const cpuset = record('hostPrep.cpuset', o.cpuset);
  if (cpuset) {
    args.push('--cpuset', checkCpuList('hostPrep.cpuset.cpus', cpuset.cpus));
    if (cpuset.mems !== undefined)
      args.push('--cpuset-mems', checkCpuList('hostPrep.cpuset.mems', cpuset.mems));
    if (cpuset.cgroupDir !== undefined) {
      args.push('--cgroup-dir', absolute('hostPrep.cpuset.cgroupDir', cpuset.cgroupDir));
    }
    if (cpuset.name !== undefined) args.push('--cgroup-name', checkName('hostPrep.cpuset.name', cpuset.name));
  }
  const nfs = record('hostPrep.nfs', o.nfs);
  if (nfs) {
    if (typeof nfs.export !== 'string' || !/^[^:\s]+:\/\S*$/.test(nfs.export)) {
      throw new CujuArgumentError('hostPrep.nfs.export', 'must be SERVER:/PATH');
    }
    args.push('--nfs', nfs.export);
    if (nfs.mountPoint !== undefined)
      args.push('--nfs-mount', absolute('hostPrep.nfs.mountPoint', nfs.mountPoint));
    if (nfs.options !== undefined) {
      args.push('--nfs-options', checkName('hostPrep.nfs.options', nfs.options, /^[\w.,=:-]+$/));
    }
  }
  if (taps.length === 0 && !cpuset && !nfs) {
    throw new CujuArgumentError('hostPrep', 'selects nothing: give taps, cpuset or nfs');
  }
  return args;
}

/** An options object, or undefined; null, arrays and other values are refused. */
function record<T>(field: string, value: T | undefined): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CujuArgumentError(field, 'must be an options object');
  }
  return value;
}

/** `true` means the step with its defaults; false/undefined means not selected. */
function stepOptions<T extends object>(field: string, value: boolean | T | undefined): T | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {} as T;
  return record(field, value as T);
}

function checkFlag(field: string, value: unknown): boolean {
  return value === undefined ? false : checkBoolean(field, value);
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
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new CujuArgumentError(field, 'must be an absolute path on the host');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new CujuArgumentError(field, 'must not contain control characters (newline, NUL, ...)');
  }
  return value;
}

/**
 * A git URL or path to clone. Not one that starts with '-' (git would read an option), and
 * not git's `ext::` transport, which runs a command (older gits, as on Ubuntu 16.04, allow it).
 */
function checkCloneUrl(field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.startsWith('-')) {
    throw new CujuArgumentError(field, 'must be a git URL or path');
  }
  if (/^ext::/i.test(value))
    throw new CujuArgumentError(field, "must not use git's ext:: transport (it runs a command)");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new CujuArgumentError(field, 'must not contain control characters');
  return value;
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
