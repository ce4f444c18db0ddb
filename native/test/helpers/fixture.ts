/**
 * A fake Cuju source tree and stub tools for testing native/*.sh without building QEMU or
 * touching the host's kernel, network or mounts.
 *
 * - The tree has `configure` scripts that record their arguments, the README's two patch
 *   files as real unified diffs, and kvm sources in the state the patches fix.
 * - `make` is a stub on PATH that records its arguments and fails with the README's exact
 *   error texts while the kvm sources still need a patch (so the scripts' patch-and-retry
 *   runs the real `patch` against real files), else "builds" the binary or the modules.
 * - uname, python, python2, pkg-config, cc, lsmod/insmod/rmmod, ip, mount, mount.nfs are
 *   stubs driven by environment variables and a state directory; every call of a stub is
 *   one line in the record file: `TOOL<TAB>CWD<TAB>ARGS`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NATIVE_DIR = fileURLToPath(new URL('../..', import.meta.url));

export const GUP_ERROR =
  "x86/kvm_main.c:1418:9: error: incompatible type for argument 5 of '__get_user_pages_unlocked'";
export const FPU_ERROR =
  "x86/cpuid.c:96:7: error: implicit declaration of function 'use_eager_fpu' [-Werror=implicit-function-declaration]";

const COMPAT_OLD = `/* kvm/external-module-compat-comm.h (test fixture) */
#define kvm_get_user_pages_unlocked(tsk, mm, addr, n, pages, write) \\
\t__get_user_pages_unlocked(tsk, mm, addr, n, write, 0, pages)
`;
const COMPAT_NEW = `/* kvm/external-module-compat-comm.h (test fixture) */
#define kvm_get_user_pages_unlocked(tsk, mm, addr, n, pages, write) \\
\t__get_user_pages_unlocked(tsk, mm, addr, n, pages, write ? FOLL_WRITE : 0)
`;
const CPUID_OLD = `/* kvm/x86/cpuid.c (test fixture) */
int kvm_update_cpuid(void)
{
\tif (use_eager_fpu())
\t\tfpu_activate();
\treturn 0;
}
`;
const CPUID_NEW = `/* kvm/x86/cpuid.c (test fixture) */
int kvm_update_cpuid(void)
{
\treturn 0;
}
`;

const GUP_PATCH = `--- a/kvm/external-module-compat-comm.h
+++ b/kvm/external-module-compat-comm.h
@@ -1,3 +1,3 @@
 /* kvm/external-module-compat-comm.h (test fixture) */
 #define kvm_get_user_pages_unlocked(tsk, mm, addr, n, pages, write) \\
-\t__get_user_pages_unlocked(tsk, mm, addr, n, write, 0, pages)
+\t__get_user_pages_unlocked(tsk, mm, addr, n, pages, write ? FOLL_WRITE : 0)
`;
const FPU_PATCH = `--- a/kvm/x86/cpuid.c
+++ b/kvm/x86/cpuid.c
@@ -1,7 +1,5 @@
 /* kvm/x86/cpuid.c (test fixture) */
 int kvm_update_cpuid(void)
 {
-\tif (use_eager_fpu())
-\t\tfpu_activate();
 \treturn 0;
 }
`;

/** The shell line that records a call: TOOL (default: the stub's own name), cwd, args. */
const record = (tool = '"$(basename "$0")"') =>
  `printf '%s\\t%s\\t%s\\n' ${tool} "$PWD" "$*" >>"$STUB_RECORD"`;
const RECORD = record();

/** The stubs, by name. Shell, so that they also work on the far side of SSH. */
const STUBS: Record<string, string> = {
  // A recording configure is part of the tree, not PATH; see makeTree.
  // Quotes as gcc prints them: ‘’ in a UTF-8 locale (LC_ALL, else LC_MESSAGES, else
  // LANG), the README's '' otherwise; STUB_CURLY=1 forces ‘’.
  make: `${RECORD}
case " $* " in *" clean "*) exit 0 ;; esac
locale=\${LC_ALL:-\${LC_MESSAGES:-\${LANG:-}}}
case "$locale:\${STUB_CURLY:-}" in *[Uu][Tt][Ff]-8*:* | *[Uu][Tt][Ff]8*:* | *:1) curly=1 ;; *) curly='' ;; esac
gcc_says() { if [ -n "$curly" ]; then printf '%s\n' "$1" | sed "s/'\\([a-z_]*\\)'/‘\\1’/g" >&2; else printf '%s\n' "$1" >&2; fi; }
echo "  CC      stub-build.o"
if [ -n "\${STUB_MAKE_FAIL:-}" ]; then gcc_says "$STUB_MAKE_FAIL"; echo "make: *** [all] Error 1" >&2; exit 2; fi
if [ -f x86/cpuid.c ]; then
  if grep -q 'write, 0, pages' external-module-compat-comm.h; then
    gcc_says "${GUP_ERROR}"; echo "make: *** [all] Error 1" >&2; exit 2
  fi
  if grep -q 'use_eager_fpu()' x86/cpuid.c; then
    gcc_says "${FPU_ERROR}"; echo "make: *** [all] Error 1" >&2; exit 2
  fi
  : >x86/kvm.ko; : >x86/kvm-intel.ko
  echo "  LD [M]  x86/kvm.ko"; echo "  LD [M]  x86/kvm-intel.ko"
else
  mkdir -p x86_64-softmmu
  printf '#!/bin/sh\\necho "QEMU emulator version 2.8.1 (cuju stub)"\\n' >x86_64-softmmu/qemu-system-x86_64
  chmod +x x86_64-softmmu/qemu-system-x86_64
  echo "  LINK    x86_64-softmmu/qemu-system-x86_64"
fi`,
  uname: `if [ "\${1:-}" = -r ]; then printf '%s\\n' "\${STUB_KERNEL:-4.15.0-29-generic}"; else exec /bin/uname "$@"; fi`,
  // Python 3 unless STUB_PYTHON=2: the scripts only ask for the major version.
  python: `[ "\${STUB_PYTHON:-3}" = 2 ]`,
  python2: 'exit 0',
  'pkg-config': `${RECORD}
case " \${STUB_PKG_MISSING:-} " in *" $2 "*) exit 1 ;; esac
exit 0`,
  cc: 'exit 0',
  lsmod: `echo "Module                  Size  Used by"
for m in $(cat "$STUB_STATE/modules" 2>/dev/null); do printf '%-24s%s  0\\n' "$m" 12345; done`,
  insmod: `${RECORD}
if [ -n "\${STUB_INSMOD_FAIL:-}" ]; then printf 'insmod: ERROR: could not insert module %s: %s\\n' "$1" "$STUB_INSMOD_FAIL" >&2; exit 1; fi
m=\${1##*/}; m=\${m%.ko}; echo "$m" | tr - _ >>"$STUB_STATE/modules"`,
  rmmod: `${RECORD}
if [ -n "\${STUB_RMMOD_BUSY:-}" ]; then echo "rmmod: ERROR: Module $1 is in use" >&2; exit 1; fi
grep -vx "$1" "$STUB_STATE/modules" >"$STUB_STATE/modules.new" || true
mv "$STUB_STATE/modules.new" "$STUB_STATE/modules"`,
  // Links exist when named in $STUB_STATE/links; 'tuntap add' and 'link add' add them.
  ip: `case "$*" in "link show dev "*) grep -qx "$4" "$STUB_STATE/links" 2>/dev/null; exit ;; esac
${RECORD}
case "$*" in
  "tuntap add dev "*) echo "$4" >>"$STUB_STATE/links" ;;
  "link add name "*) echo "$4" >>"$STUB_STATE/links" ;;
esac
exit 0`,
  mount: `${RECORD}
if [ -n "\${STUB_MOUNT_FAIL:-}" ]; then printf 'mount: %s\\n' "$STUB_MOUNT_FAIL" >&2; exit 32; fi
exit 0`,
  'mount.nfs': 'exit 0',
};

export interface Fixture {
  /** Temporary root holding everything below. */
  root: string;
  /** The fake Cuju source tree. */
  tree: string;
  /** Directory of the stub tools (put first on PATH). */
  bin: string;
  /** Stub state (loaded modules, links). */
  state: string;
  /** Kernel build directory to pass as --kernel-dir. */
  kernelDir: string;
  /** Environment for the scripts: PATH with the stubs first, plus the stubs' variables. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /**
   * A PATH of the stubs plus wrappers for only these real tools (and bash): what a host
   * lacking everything else looks like, whatever this machine has installed.
   */
  minimalPath(tools: readonly string[]): string;
  /** The stub calls so far, each as `TOOL CWD ARGS` split in three. */
  calls(): { tool: string; cwd: string; args: string }[];
  cleanup(): void;
}

export interface FixtureOptions {
  /** kvm sources need the __get_user_pages_unlocked patch (default true). */
  needsGupPatch?: boolean;
  /** kvm sources need the use_eager_fpu patch (default true). */
  needsFpuPatch?: boolean;
  /** Also create a kvm-4.4/ tree. */
  kvm44?: boolean;
  /** Leave these stubs out (to test missing prerequisites). */
  without?: string[];
  /** Links that exist (for ip link show): e.g. ['br0']. */
  links?: string[];
  /** Modules loaded at the start (for lsmod). */
  modules?: string[];
}

export function makeFixture(options: FixtureOptions = {}): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'cuju-native-'));
  chmodSync(root, 0o755); // a non-root user must be able to reach the scripts' inputs
  const tree = join(root, 'Cuju');
  const bin = join(root, 'bin');
  const state = join(root, 'state');
  const kernelDir = join(root, 'linux-headers');
  const recordFile = join(root, 'calls.tsv');
  for (const d of [bin, state, kernelDir]) mkdirSync(d, { recursive: true });
  writeFileSync(recordFile, '');
  writeFileSync(join(state, 'links'), (options.links ?? []).map((l) => `${l}\n`).join(''));
  writeFileSync(join(state, 'modules'), (options.modules ?? []).map((m) => `${m}\n`).join(''));
  makeTree(tree, options);
  const without = new Set(options.without ?? []);
  for (const [name, body] of Object.entries(STUBS)) {
    if (without.has(name)) continue;
    writeExecutable(join(bin, name), `#!/bin/sh\n${body}\n`);
  }
  return {
    root,
    tree,
    bin,
    state,
    kernelDir,
    env: (extra = {}) => ({
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: process.env.HOME ?? '/root',
      LANG: 'C',
      STUB_RECORD: recordFile,
      STUB_STATE: state,
      ...extra,
    }),
    minimalPath: (tools) => {
      const basics = join(root, 'basics');
      mkdirSync(basics, { recursive: true });
      for (const tool of ['bash', ...tools]) {
        const real = execFileSync('bash', ['-c', `command -v -- ${tool}`], { encoding: 'utf8' }).trim();
        writeExecutable(join(basics, tool), `#!/bin/sh\nexec ${real} "$@"\n`);
      }
      return `${bin}:${basics}`;
    },
    calls: () =>
      readFileSync(recordFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [tool = '', cwd = '', args = ''] = line.split('\t');
          return { tool, cwd, args };
        }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

function makeTree(tree: string, options: FixtureOptions): void {
  const configure = `#!/bin/sh\n${record('configure')}\necho "configured $PWD"\n`;
  writeExecutable(join(tree, 'configure'), configure);
  writeFile(join(tree, 'patch', '__get_user_pages_unlocked.patch'), GUP_PATCH);
  writeFile(join(tree, 'patch', 'use_eager_fpu.patch'), FPU_PATCH);
  for (const kvm of options.kvm44 ? ['kvm', 'kvm-4.4'] : ['kvm']) {
    writeExecutable(join(tree, kvm, 'configure'), configure);
    writeFile(
      join(tree, kvm, 'external-module-compat-comm.h'),
      options.needsGupPatch === false ? COMPAT_NEW : COMPAT_OLD,
    );
    writeFile(join(tree, kvm, 'x86', 'cpuid.c'), options.needsFpuPatch === false ? CPUID_NEW : CPUID_OLD);
  }
}

function writeExecutable(path: string, body: string): void {
  writeFile(path, body);
  chmodSync(path, 0o755);
}

function writeFile(path: string, body: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
}

/**
 * Whether this process is root (the scripts' real runs need it). With CUJU_REQUIRE_PEERS=1
 * (CI) not being root throws, failing the test file at load instead of skipping its tests.
 */
export function requireRoot(what: string): boolean {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot && process.env.CUJU_REQUIRE_PEERS === '1') {
    throw new Error(
      `${what} must run as root (CUJU_REQUIRE_PEERS=1): the scripts' root steps refuse otherwise`,
    );
  }
  if (!isRoot) console.warn(`skipping the root-only tests of ${what}: not root`);
  return isRoot;
}

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a native script with bash, as root or, with `asUser`, as that unprivileged uid
 * (setpriv: a real non-root run, not a faked `id`).
 */
export function runScript(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: { cwd?: string; asUid?: number } = {},
): ScriptResult {
  const path = join(NATIVE_DIR, script);
  const argv =
    options.asUid === undefined
      ? ['bash', path, ...args]
      : [
          'setpriv',
          `--reuid=${options.asUid}`,
          `--regid=${options.asUid}`,
          '--clear-groups',
          'bash',
          path,
          ...args,
        ];
  const r = spawnSync(argv[0]!, argv.slice(1), { env, cwd: options.cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}
