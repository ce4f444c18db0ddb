/**
 * The planner of prepareHost(): the steps the options select, in the order they run, with
 * their scripts' arguments. Every option is checked here, before anything reaches the
 * host; a bad one is refused with CujuArgumentError naming it (`hostPrep.taps[0]`).
 */
import { CujuArgumentError } from '../errors.js';
import { checkArgs, checkBoolean, checkObject, checkTapName, checkText, kindOf } from '../validate.js';
import type {
  BuildKvmOptions,
  BuildQemuOptions,
  HostPrepOptions,
  LoadKvmOptions,
  PrepareHostOptions,
  PrepareStep,
} from './options.js';

export interface PlannedStep {
  step: PrepareStep;
  script: string;
  args: string[];
  sudo: boolean;
  /** Needs the source tree to exist, even for its dry run. */
  needsTree: boolean;
}

/**
 * The steps the options select, in the order they run, with their scripts' arguments;
 * refuses bad options. host-prep comes first: its NFS mount may be what brings the tree.
 */
export function planSteps(options: PrepareHostOptions): PlannedStep[] {
  const o = checkObject('options', options);
  for (const name of ['allowUnsupportedKernel', 'sudo', 'dryRunOnly', 'keepScripts'] as const) {
    if (o[name] !== undefined) checkBoolean(name, o[name]);
  }
  if (o.scriptsDir !== undefined) checkText('scriptsDir', o.scriptsDir);
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
    const got = typeof value === 'number' ? String(value) : kindOf(value);
    throw new CujuArgumentError(field, `must be an integer 1-9999, got ${got}`);
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
    const got = typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : kindOf(value);
    throw new CujuArgumentError(field, `must be a list like 7, 2-3 or 0,4-5, got ${got}`);
  }
  return value;
}

/** `env NAME=VALUE ...` before the script, or nothing. */
export function checkEnv(env: Record<string, string> | undefined): string[] {
  if (env === undefined) return [];
  const pairs = Object.entries(checkObject('env', env)).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new CujuArgumentError('env', `has a bad variable name ${JSON.stringify(name)}`);
    if (typeof value !== 'string' || value.includes('\u0000')) {
      throw new CujuArgumentError(`env.${name}`, 'must be a string without NUL');
    }
    return `${name}=${value}`;
  });
  return pairs.length === 0 ? [] : ['env', ...pairs];
}
