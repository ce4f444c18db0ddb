/**
 * build-cuju.sh and build-kvm.sh against a fake Cuju tree: configure and make are stubs that
 * record their arguments; make fails with the README's error texts while the kvm sources
 * still need a patch, and the real `patch` applies the tree's real patch files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Fixture, FPU_ERROR, GUP_ERROR, makeFixture, runScript } from './helpers/fixture.js';

let fixture: Fixture;
afterEach(() => fixture?.cleanup());

const CUJU_CONFIGURE = '--enable-cuju --enable-kvm --disable-pie --target-list=x86_64-softmmu';

describe('build-cuju.sh', () => {
  it('--dry-run prints the configure and make commands, with notes, and runs none', () => {
    fixture = makeFixture();
    const r = runScript(
      'build-cuju.sh',
      ['--source', fixture.tree, '--jobs', '3', '--dry-run'],
      fixture.env(),
    );
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      `cd ${fixture.tree}`,
      `./configure ${CUJU_CONFIGURE} --python=${fixture.bin}/python2`,
      'make -j 3',
      `# then prints ${fixture.tree}/x86_64-softmmu/qemu-system-x86_64`,
      '',
    ]);
    expect(fixture.calls().filter((c) => c.tool !== 'pkg-config')).toEqual([]);
    expect(existsSync(join(fixture.tree, 'x86_64-softmmu'))).toBe(false);
  });

  it('configures with Cuju options, builds with the given jobs and prints only the binary path', () => {
    fixture = makeFixture();
    const r = runScript(
      'build-cuju.sh',
      ['--source', fixture.tree, '--jobs', '5', '--configure-arg', '--enable-debug'],
      fixture.env({ STUB_PYTHON: '2' }),
    );
    expect(r.code).toBe(0);
    const binary = `${fixture.tree}/x86_64-softmmu/qemu-system-x86_64`;
    expect(r.stdout).toBe(`${binary}\n`);
    expect(execFileSync(binary, { encoding: 'utf8' })).toContain('cuju stub');
    const builds = fixture.calls().filter((c) => c.tool !== 'pkg-config');
    // python is Python 2 here: configure's default, so no --python.
    expect(builds).toEqual([
      { tool: 'configure', cwd: fixture.tree, args: `${CUJU_CONFIGURE} --enable-debug` },
      { tool: 'make', cwd: fixture.tree, args: '-j 5' },
    ]);
    expect(r.stderr).toContain(`+ ./configure ${CUJU_CONFIGURE} --enable-debug`);
    expect(r.stderr).toContain(`==> built ${binary}`);
  });

  it('--clean runs make clean before the build; --jobs defaults to the core count', () => {
    fixture = makeFixture();
    const r = runScript('build-cuju.sh', ['--source', fixture.tree, '--clean'], fixture.env());
    expect(r.code).toBe(0);
    const cores = execFileSync('nproc', { encoding: 'utf8' }).trim();
    expect(fixture.calls().filter((c) => c.tool === 'make')).toEqual([
      { tool: 'make', cwd: fixture.tree, args: 'clean' },
      { tool: 'make', cwd: fixture.tree, args: `-j ${cores}` },
    ]);
  });

  it('clones a repository at a ref before building (a local repository: no network)', () => {
    fixture = makeFixture();
    const git = (...args: string[]) => execFileSync('git', args, { cwd: fixture.tree, stdio: 'pipe' });
    git('init', '-q', '-b', 'master');
    git('add', '-A');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'tree');
    git('branch', 'support/kernel4.15');
    const target = join(fixture.root, 'clone');
    const args = ['--source', target, '--clone', fixture.tree, '--ref', 'support/kernel4.15', '--jobs', '2'];

    const plan = runScript('build-cuju.sh', [...args, '--dry-run'], fixture.env());
    expect(plan.code).toBe(0);
    expect(plan.stdout.split('\n').slice(0, 3)).toEqual([
      `git clone -- ${fixture.tree} ${target}`,
      `git -C ${target} checkout support/kernel4.15`,
      `cd ${target}`,
    ]);
    expect(existsSync(target)).toBe(false);

    const r = runScript('build-cuju.sh', args, fixture.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${target}/x86_64-softmmu/qemu-system-x86_64\n`);
    expect(execFileSync('git', ['-C', target, 'branch', '--show-current'], { encoding: 'utf8' }).trim()).toBe(
      'support/kernel4.15',
    );

    // A second run finds the directory and builds it as it is, without cloning over it.
    const again = runScript('build-cuju.sh', args, fixture.env());
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`${target} already exists: building it as it is, not cloning`);
    expect(again.stderr).not.toContain('+ git clone');
  });

  it('refuses to build an existing tree that is not at the --ref asked for', () => {
    fixture = makeFixture();
    const git = (...args: string[]) => execFileSync('git', args, { cwd: fixture.tree, stdio: 'pipe' });
    git('init', '-q', '-b', 'master');
    git('add', '-A');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'one');
    git('branch', 'old');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'two', '--allow-empty');
    // The URL is never contacted: the directory exists, so nothing is cloned.
    const args = ['--source', fixture.tree, '--clone', 'https://github.com/Cuju-ft/Cuju.git', '--jobs', '1'];
    const wrong = runScript('build-cuju.sh', [...args, '--ref', 'old'], fixture.env());
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`${fixture.tree} exists but is not at old`);
    expect(fixture.calls().filter((c) => c.tool !== 'pkg-config')).toEqual([]);
    const right = runScript('build-cuju.sh', [...args, '--ref', 'master'], fixture.env());
    expect(right.code).toBe(0);
  });

  it('refuses before running anything when tools or libraries are missing, and says what to install', () => {
    fixture = makeFixture({ without: ['make', 'python2'] });
    const r = runScript(
      'build-cuju.sh',
      ['--source', fixture.tree],
      fixture.env({ STUB_PKG_MISSING: 'pixman-1', MAKE: 'no-such-make' }),
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('missing prerequisites, nothing was done');
    expect(r.stderr).toContain("'no-such-make' is not installed (Debian/Ubuntu package: make)");
    expect(r.stderr).toContain('Python 2');
    expect(r.stderr).toContain('the pixman-1 development files (Debian/Ubuntu package: libpixman-1-dev)');
    expect(r.stderr).toMatch(/install them with: sudo apt-get install .*libpixman-1-dev.*make.*python/);
    expect(fixture.calls().filter((c) => c.tool !== 'pkg-config')).toEqual([]);
  });

  it('a failing make fails the script, naming the command', () => {
    fixture = makeFixture();
    const r = runScript(
      'build-cuju.sh',
      ['--source', fixture.tree, '--jobs', '2'],
      fixture.env({ STUB_MAKE_FAIL: 'hw/cuju/ft.c:12: error: boom' }),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('hw/cuju/ft.c:12: error: boom');
    expect(r.stderr).toContain("build-cuju.sh: error: 'make -j 2' failed (exit 2)");
  });

  it.each([
    [[], 2, '--source DIR is required'],
    [['--source'], 2, 'option --source needs a value'],
    [['--source', '/x', '--jobs', 'many'], 2, "--jobs must be a positive whole number, got 'many'"],
    [['--source', '/x', '--ref', 'main'], 2, '--ref needs --clone'],
    [['--source', '/x', '--frobnicate'], 2, "unknown argument '--frobnicate'"],
    [['--source', '/nonexistent/Cuju'], 1, 'source tree /nonexistent/Cuju does not exist'],
  ])('bad usage %j exits %i: %s', (args, code, message) => {
    fixture = makeFixture();
    const r = runScript('build-cuju.sh', args, fixture.env());
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(fixture.calls().filter((c) => c.tool !== 'pkg-config')).toEqual([]);
  });

  it('accepts --option=value forms', () => {
    fixture = makeFixture();
    const r = runScript(
      'build-cuju.sh',
      [`--source=${fixture.tree}`, '--jobs=4', '--dry-run'],
      fixture.env(),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('make -j 4\n');
  });
});

describe('build-kvm.sh', () => {
  const kvmArgs = (f: Fixture, ...more: string[]) => [
    '--source',
    f.tree,
    '--kernel-dir',
    f.kernelDir,
    '--jobs',
    '3',
    ...more,
  ];

  it('--dry-run prints the plan with the documented fixes as notes, and changes nothing', () => {
    fixture = makeFixture();
    const kvm = `${fixture.tree}/kvm`;
    const r = runScript('build-kvm.sh', kvmArgs(fixture, '--dry-run'), fixture.env());
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      `cd ${kvm}`,
      `./configure --kerneldir=${fixture.kernelDir}`,
      'env LC_ALL=C make -j 3',
      `# if make fails with "incompatible type for argument 5 of '__get_user_pages_unlocked'": patch -d ${fixture.tree} -p1 -N -i ${fixture.tree}/patch/__get_user_pages_unlocked.patch, then make again`,
      `# if make fails with "implicit declaration of function 'use_eager_fpu'": patch -d ${fixture.tree} -p1 -N -i ${fixture.tree}/patch/use_eager_fpu.patch, then make again`,
      `# then prints ${kvm}/x86/kvm.ko and ${kvm}/x86/kvm-intel.ko`,
      '',
    ]);
    expect(fixture.calls()).toEqual([]);
    expect(readFileSync(`${kvm}/x86/cpuid.c`, 'utf8')).toContain('use_eager_fpu()');
  });

  it('applies each documented patch only after make fails with its error, says so, and builds again', () => {
    fixture = makeFixture();
    const kvm = `${fixture.tree}/kvm`;
    const r = runScript('build-kvm.sh', kvmArgs(fixture), fixture.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${kvm}/x86/kvm.ko\n${kvm}/x86/kvm-intel.ko\n`);
    expect(fixture.calls()).toEqual([
      { tool: 'configure', cwd: kvm, args: `--kerneldir=${fixture.kernelDir}` },
      { tool: 'make', cwd: kvm, args: '-j 3' },
      { tool: 'make', cwd: kvm, args: '-j 3' },
      { tool: 'make', cwd: kvm, args: '-j 3' },
    ]);
    // The build's own error, then the script's decision, in that order, for each patch.
    const said = r.stderr;
    const order = [
      GUP_ERROR,
      `make failed with "incompatible type for argument 5 of '__get_user_pages_unlocked'": applying patch/__get_user_pages_unlocked.patch`,
      'patching file kvm/external-module-compat-comm.h',
      'applied patch/__get_user_pages_unlocked.patch; building again',
      FPU_ERROR,
      `make failed with "implicit declaration of function 'use_eager_fpu'": applying patch/use_eager_fpu.patch`,
      'patching file kvm/x86/cpuid.c',
      'applied patch/use_eager_fpu.patch; building again',
      'patched: __get_user_pages_unlocked.patch use_eager_fpu.patch',
    ].map((text) => said.indexOf(text));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(readFileSync(`${kvm}/x86/cpuid.c`, 'utf8')).not.toContain('use_eager_fpu');
    expect(readFileSync(`${kvm}/external-module-compat-comm.h`, 'utf8')).toContain('FOLL_WRITE');
  });

  it('does not patch a tree that builds', () => {
    fixture = makeFixture({ needsGupPatch: false, needsFpuPatch: false });
    const r = runScript('build-kvm.sh', kvmArgs(fixture, '--clean'), fixture.env());
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('applying');
    expect(fixture.calls().map((c) => `${c.tool} ${c.args}`)).toEqual([
      `configure --kerneldir=${fixture.kernelDir}`,
      'make clean',
      'make -j 3',
    ]);
  });

  it('a dry run on a patched tree says the patch is already applied', () => {
    fixture = makeFixture({ needsFpuPatch: false });
    const r = runScript('build-kvm.sh', kvmArgs(fixture, '--dry-run'), fixture.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# patch/use_eager_fpu.patch is already applied\n');
    expect(r.stdout).toContain('"incompatible type for argument 5');
  });

  it('--no-patch stops at a documented error, names the fix, and leaves the sources alone', () => {
    fixture = makeFixture({ needsGupPatch: false });
    const before = readFileSync(`${fixture.tree}/kvm/x86/cpuid.c`, 'utf8');
    const r = runScript('build-kvm.sh', kvmArgs(fixture, '--no-patch'), fixture.env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `make failed with "implicit declaration of function 'use_eager_fpu'"; the documented fix is 'patch -p1 < patch/use_eager_fpu.patch' in ${fixture.tree} (not applied: --no-patch)`,
    );
    expect(readFileSync(`${fixture.tree}/kvm/x86/cpuid.c`, 'utf8')).toBe(before);
    expect(r.stdout).toBe('');
  });

  it('an undocumented build error stops with the end of the build output and patches nothing', () => {
    fixture = makeFixture();
    const r = runScript(
      'build-kvm.sh',
      kvmArgs(fixture),
      fixture.env({ STUB_MAKE_FAIL: "x86/kvm_ft.c:77:3: error: 'struct kvm' has no member named 'ft'" }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'make failed (exit 2) with an error that has no documented fix; its last lines:',
    );
    expect(r.stderr).toContain("  | x86/kvm_ft.c:77:3: error: 'struct kvm' has no member named 'ft'");
    expect(r.stderr).not.toContain('applying');
    expect(fixture.calls().filter((c) => c.tool === 'make')).toHaveLength(1);
  });

  it('stops when the error persists although its patch was already applied', () => {
    fixture = makeFixture({ needsGupPatch: false, needsFpuPatch: false });
    const r = runScript('build-kvm.sh', kvmArgs(fixture), fixture.env({ STUB_MAKE_FAIL: FPU_ERROR }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `make fails with "implicit declaration of function 'use_eager_fpu'" although patch/use_eager_fpu.patch is already applied`,
    );
    expect(fixture.calls().filter((c) => c.tool === 'make')).toHaveLength(1);
  });

  it('says so when the documented patch file is missing from the tree', () => {
    fixture = makeFixture();
    rmSync(`${fixture.tree}/patch/__get_user_pages_unlocked.patch`);
    const r = runScript('build-kvm.sh', kvmArgs(fixture), fixture.env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `whose fix patch/__get_user_pages_unlocked.patch is missing from ${fixture.tree}`,
    );
  });

  it('refuses an unsupported kernel with what to install, or warns with --allow-unsupported-kernel', () => {
    fixture = makeFixture();
    const env = fixture.env({ STUB_KERNEL: '6.1.0-18-amd64' });
    const refused = runScript('build-kvm.sh', kvmArgs(fixture), env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('this host runs 6.1.0-18-amd64');
    expect(refused.stderr).toContain(
      'apt-get install linux-image-4.15.0-29-generic linux-headers-4.15.0-29-generic',
    );
    expect(fixture.calls()).toEqual([]);

    const allowed = runScript('build-kvm.sh', kvmArgs(fixture, '--allow-unsupported-kernel'), env);
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toContain('warning: kernel 6.1.0-18-amd64 is not one Cuju supports');
  });

  it("refuses without the running kernel's headers unless --kernel-dir names them", () => {
    fixture = makeFixture();
    const r = runScript(
      'build-kvm.sh',
      ['--source', fixture.tree],
      fixture.env({ STUB_KERNEL: '4.15.0-9999-cujutest' }),
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      'the headers of the running kernel (/lib/modules/4.15.0-9999-cujutest/build): apt-get install linux-headers-4.15.0-9999-cujutest, or give --kernel-dir',
    );
    const missingDir = runScript(
      'build-kvm.sh',
      ['--source', fixture.tree, '--kernel-dir', '/nonexistent/headers'],
      fixture.env(),
    );
    expect(missingDir.code).toBe(3);
    expect(missingDir.stderr).toContain(
      'kernel build directory /nonexistent/headers (given by --kernel-dir) does not exist',
    );
  });

  it('refuses when patch is missing, listing every missing tool at once', () => {
    fixture = makeFixture({ without: ['cc'] });
    // The stubs and a few basics only: no cc, no patch.
    const PATH = fixture.minimalPath(['dirname', 'grep', 'sort', 'tr', 'cat']);
    const r = runScript('build-kvm.sh', kvmArgs(fixture), { ...fixture.env(), PATH });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("'cc' is not installed (Debian/Ubuntu package: build-essential)");
    expect(r.stderr).toContain("'patch' is not installed (Debian/Ubuntu package: patch)");
    expect(r.stderr).toContain('install them with: sudo apt-get install build-essential patch');
    expect(fixture.calls()).toEqual([]);
  });

  it('stops when the error persists after applying its patch, instead of looping', () => {
    fixture = makeFixture({ needsFpuPatch: false });
    const r = runScript('build-kvm.sh', kvmArgs(fixture), fixture.env({ STUB_MAKE_FAIL: GUP_ERROR }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('applied patch/__get_user_pages_unlocked.patch; building again');
    expect(r.stderr).toContain(
      `make still fails with "incompatible type for argument 5 of '__get_user_pages_unlocked'" after applying patch/__get_user_pages_unlocked.patch`,
    );
    expect(fixture.calls().filter((c) => c.tool === 'make')).toHaveLength(2);
  });

  it("builds in the C locale, so gcc's quotes are the README's even in a UTF-8 session", () => {
    fixture = makeFixture();
    const r = runScript('build-kvm.sh', kvmArgs(fixture), fixture.env({ LANG: 'C.UTF-8' }));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('+ env LC_ALL=C make -j 3');
    expect(r.stderr).toContain(FPU_ERROR);
  });

  it("also recognises gcc's UTF-8 quotes when make does not honour the C locale", () => {
    fixture = makeFixture();
    const r = runScript('build-kvm.sh', kvmArgs(fixture), fixture.env({ STUB_CURLY: '1' }));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('implicit declaration of function \u2018use_eager_fpu\u2019');
    expect(r.stderr).toContain('applied patch/use_eager_fpu.patch; building again');
    expect(r.stderr).toContain('applied patch/__get_user_pages_unlocked.patch; building again');
  });

  it('takes a relative --kernel-dir from where it was called', () => {
    fixture = makeFixture({ needsGupPatch: false, needsFpuPatch: false });
    const r = runScript(
      'build-kvm.sh',
      ['--source', 'Cuju', '--kernel-dir', 'linux-headers'],
      fixture.env(),
      {
        cwd: fixture.root,
      },
    );
    expect(r.code).toBe(0);
    expect(fixture.calls()[0]).toEqual({
      tool: 'configure',
      cwd: `${fixture.tree}/kvm`,
      args: `--kerneldir=${fixture.kernelDir}`,
    });
  });

  it('plans for a tree that does not exist yet (to be cloned or mounted), with a warning', () => {
    fixture = makeFixture();
    const later = `${fixture.root}/later/Cuju`;
    const args = ['--source', later, '--kernel-dir', fixture.kernelDir];
    const dry = runScript('build-kvm.sh', [...args, '--dry-run'], fixture.env());
    expect(dry.code).toBe(0);
    expect(dry.stderr).toContain(
      `warning: source tree ${later} does not exist (yet): clone or mount it first`,
    );
    expect(dry.stdout.split('\n')[0]).toBe(`cd ${later}/kvm`);
    const real = runScript('build-kvm.sh', args, fixture.env());
    expect(real.code).toBe(1);
    expect(real.stderr).toContain(`error: source tree ${later} does not exist: clone or mount it first`);
  });

  it('builds kvm-4.4/ on a 4.4 kernel when the tree has it', () => {
    // (The fixture's patches are for kvm/, so this tree is one that builds as it is.)
    fixture = makeFixture({ kvm44: true, needsGupPatch: false, needsFpuPatch: false });
    const r = runScript('build-kvm.sh', kvmArgs(fixture), fixture.env({ STUB_KERNEL: '4.4.0-131-generic' }));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${fixture.tree}/kvm-4.4/x86/kvm.ko\n${fixture.tree}/kvm-4.4/x86/kvm-intel.ko\n`);
  });
});
