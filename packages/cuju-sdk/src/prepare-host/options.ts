/**
 * What prepareHost() takes, reports and returns. Types only: the planner (plan.ts), the
 * runner (run.ts) and the error (error.ts) all read them, so they import none of those.
 */

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
