/**
 * prepareHost() over a real sshd on 127.0.0.2 (and LocalHost), running the real native/
 * scripts against the stub Cuju tree of native/test: configure and make record their
 * arguments, make fails with the README's errors until the real `patch` has run, and
 * the kernel, module, network and mount tools are stubs, so nothing on this machine
 * changes.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Fixture,
  FPU_ERROR,
  GUP_ERROR,
  makeFixture,
  requireRoot,
} from '../../../native/test/helpers/fixture.js';
import {
  CujuArgumentError,
  type Host,
  type HostError,
  LocalHost,
  PrepareHostError,
  type PrepareHostOptions,
  type PrepareProgress,
  prepareHost,
  SshHost,
} from '../src/index.js';
import { planSteps } from '../src/prepare-host/plan.js';
import { requireSshd, type Sshd, startSshd } from './helpers/sshd.js';

const hasSshd = requireSshd();
const isRoot = requireRoot('prepare-host.test.ts');

/** What the native scripts (and the stubs) run, for a host that has nothing else. */
const SCRIPT_TOOLS = [
  'dirname',
  'basename',
  'id',
  'grep',
  'sed',
  'sort',
  'tr',
  'cat',
  'tee',
  'tail',
  'mktemp',
  'rm',
  'mv',
  'mkdir',
  'chmod',
  'nproc',
  'realpath',
  'stat',
  'awk',
  'patch',
  'env',
];

let fixture: Fixture;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  fixture?.cleanup();
});

async function sshHost(): Promise<SshHost> {
  const sshd: Sshd = await startSshd();
  cleanups.push(() => sshd.stop());
  const host = await SshHost.connect({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.userKey,
    hostKey: { knownHostsPath: sshd.knownHostsPath },
  });
  cleanups.push(() => host.close());
  return host;
}

/** Every step, on the fixture's tree, with the stubs on PATH. */
function allSteps(f: Fixture, extraEnv: Record<string, string> = {}): PrepareHostOptions {
  return {
    source: f.tree,
    buildQemu: { jobs: 2 },
    buildKvm: { kernelDir: f.kernelDir, jobs: 2 },
    loadKvm: true,
    hostPrep: { taps: ['tap0', 'tap1'], cpuset: { cpus: '7', cgroupDir: join(f.root, 'cgroup') } },
    env: stringEnv(f.env(extraEnv)),
  };
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

const kinds = (events: PrepareProgress[]) =>
  events.filter((e) => e.type === 'step-start').map((e) => `${e.phase} ${e.step}`);

describe.runIf(hasSshd && isRoot)('prepareHost over SSH', () => {
  it('uploads the scripts, dry-runs every step, then runs them, streaming output and reporting patches', async () => {
    fixture = makeFixture({ links: ['br0'], modules: ['kvm', 'kvm_intel'] });
    const host = await sshHost();
    const events: PrepareProgress[] = [];
    const result = await prepareHost(host, { ...allSteps(fixture), onProgress: (e) => events.push(e) });

    // Every plan before any real run.
    expect(kinds(events)).toEqual([
      'dry-run host-prep',
      'dry-run build-cuju',
      'dry-run build-kvm',
      'dry-run reinsmodkvm',
      'run host-prep',
      'run build-cuju',
      'run build-kvm',
      'run reinsmodkvm',
    ]);
    const uploaded = events[0];
    expect(uploaded).toMatchObject({
      type: 'uploaded',
      files: ['lib/common.sh', 'build-cuju.sh', 'build-kvm.sh', 'reinsmodkvm.sh', 'host-prep.sh'],
    });

    const kvm = `${fixture.tree}/kvm`;
    expect(result).toMatchObject({
      host: host.name,
      scriptsDir: undefined,
      done: ['host-prep', 'build-cuju', 'build-kvm', 'reinsmodkvm'],
      qemuBinary: `${fixture.tree}/x86_64-softmmu/qemu-system-x86_64`,
      kvmModules: [`${kvm}/x86/kvm.ko`, `${kvm}/x86/kvm-intel.ko`],
      patchesApplied: ['patch/__get_user_pages_unlocked.patch', 'patch/use_eager_fpu.patch'],
    });
    expect(result.loadedModules?.map((l) => l.split(/\s+/)[0])).toEqual(['kvm', 'kvm_intel']);
    expect(result.plans['build-kvm']).toContain('env LC_ALL=C make -j 2');
    expect(result.plans['host-prep']).toContain('ip tuntap add dev tap1 mode tap user root');

    // The build's own lines arrived as output events, in order, before the patch events.
    const output = events.filter((e) => e.type === 'output' && e.step === 'build-kvm' && e.phase === 'run');
    const texts = output.map((e) => (e.type === 'output' ? e.line : ''));
    expect(texts).toContain(GUP_ERROR);
    expect(texts).toContain(FPU_ERROR);
    expect(texts.indexOf(GUP_ERROR)).toBeLessThan(texts.indexOf(FPU_ERROR));
    expect(events.filter((e) => e.type === 'patch-applied')).toEqual([
      {
        type: 'patch-applied',
        step: 'build-kvm',
        patch: 'patch/__get_user_pages_unlocked.patch',
        error: "incompatible type for argument 5 of '__get_user_pages_unlocked'",
      },
      {
        type: 'patch-applied',
        step: 'build-kvm',
        patch: 'patch/use_eager_fpu.patch',
        error: "implicit declaration of function 'use_eager_fpu'",
      },
    ]);

    // What really ran on the host, and what it left: patched sources, the cgroup knobs.
    expect(
      fixture
        .calls()
        .filter((c) => c.tool !== 'pkg-config')
        .map((c) => `${c.tool} ${c.args}`),
    ).toEqual([
      'ip tuntap add dev tap0 mode tap user root',
      'ip link set dev tap0 promisc on up',
      'ip link set dev tap0 master br0',
      'ip tuntap add dev tap1 mode tap user root',
      'ip link set dev tap1 promisc on up',
      'ip link set dev tap1 master br0',
      `mount -t cgroup -o cpuset cpuset ${fixture.root}/cgroup`,
      'configure --enable-cuju --enable-kvm --disable-pie --target-list=x86_64-softmmu --python=' +
        `${fixture.bin}/python2`,
      'make -j 2',
      `configure --kerneldir=${fixture.kernelDir}`,
      'make -j 2',
      'make -j 2',
      'make -j 2',
      'rmmod kvm_intel',
      'rmmod kvm',
      `insmod ${kvm}/x86/kvm.ko`,
      `insmod ${kvm}/x86/kvm-intel.ko`,
    ]);
    expect(readFileSync(`${kvm}/x86/cpuid.c`, 'utf8')).not.toContain('use_eager_fpu');
    expect(readFileSync(join(fixture.root, 'cgroup/vmft/cpuset.cpus'), 'utf8')).toBe('7\n');
    // The uploaded scripts are gone (same machine: the host's /tmp is ours).
    expect(uploaded?.type === 'uploaded' && existsSync(uploaded.dir)).toBe(false);
  });

  it('a prerequisite missing for the last step stops everything before the first build', async () => {
    // A host without kmod: only the tools the scripts need, and the stubs but lsmod/rmmod/insmod.
    fixture = makeFixture({ links: ['br0'], without: ['lsmod', 'rmmod', 'insmod'] });
    const host = await sshHost();
    const events: PrepareProgress[] = [];
    const PATH = fixture.minimalPath(SCRIPT_TOOLS);
    const error = await prepareHost(host, {
      ...allSteps(fixture, { PATH }),
      onProgress: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrepareHostError);
    const e = error as PrepareHostError;
    expect(e).toMatchObject({
      code: 'CUJU_PREPARE_HOST_FAILED',
      step: 'reinsmodkvm',
      phase: 'dry-run',
      reason: 'prerequisites',
      exitCode: 3,
    });
    expect(e.message).toContain(
      `${host.name}: reinsmodkvm (dry run) refused, missing prerequisites: 'lsmod' is not installed (Debian/Ubuntu package: kmod)`,
    );
    expect(e.partial.done).toEqual([]);
    expect(Object.keys(e.partial.plans)).toEqual(['host-prep', 'build-cuju', 'build-kvm']);
    expect(fixture.calls().filter((c) => c.tool !== 'pkg-config')).toEqual([]);
    expect(kinds(events).some((k) => k.startsWith('run '))).toBe(false);
  });

  it('an abort during a step keeps what was done before, and removes the scripts', async () => {
    fixture = makeFixture({ links: ['br0'] });
    const host = await sshHost();
    const abort = new AbortController();
    let uploadedTo = '';
    const error = await prepareHost(host, {
      ...allSteps(fixture),
      signal: abort.signal,
      onProgress: (e) => {
        if (e.type === 'uploaded') uploadedTo = e.dir;
        if (e.type === 'step-start' && e.step === 'build-kvm' && e.phase === 'run') abort.abort();
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrepareHostError);
    const e = error as PrepareHostError;
    expect(e).toMatchObject({ step: 'build-kvm', phase: 'run', reason: 'host', exitCode: undefined });
    expect((e.cause as HostError).code).toBe('HOST_ABORTED');
    expect(e.partial).toMatchObject({
      done: ['host-prep', 'build-cuju'],
      qemuBinary: `${fixture.tree}/x86_64-softmmu/qemu-system-x86_64`,
      scriptsDir: undefined,
    });
    expect(fixture.calls().some((c) => c.tool === 'make' && c.cwd.endsWith('/kvm'))).toBe(false);
    expect(uploadedTo).not.toBe('');
    expect(existsSync(uploadedTo)).toBe(false);
  });

  it('a failing real step keeps what was done before in the error', async () => {
    fixture = makeFixture({ links: ['br0'] });
    const host = await sshHost();
    const options = allSteps(fixture);
    const error = await prepareHost(host, {
      ...options,
      buildKvm: { kernelDir: fixture.kernelDir, jobs: 2, patch: false },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrepareHostError);
    const e = error as PrepareHostError;
    expect(e).toMatchObject({ step: 'build-kvm', phase: 'run', reason: 'failed', exitCode: 1 });
    expect(e.message).toContain(
      `build-kvm failed (exit 1): make failed with "incompatible type for argument 5 of '__get_user_pages_unlocked'"; the documented fix is 'patch -p1 < patch/__get_user_pages_unlocked.patch'`,
    );
    expect(e.stderr).toContain(GUP_ERROR);
    expect(e.partial.done).toEqual(['host-prep', 'build-cuju']);
    expect(e.partial.qemuBinary).toBe(`${fixture.tree}/x86_64-softmmu/qemu-system-x86_64`);
    expect(fixture.calls().some((c) => c.tool === 'insmod')).toBe(false);
  });

  it('clones first and plans the steps that need the tree once it exists', async () => {
    fixture = makeFixture({ needsGupPatch: false, needsFpuPatch: false });
    const git = (...args: string[]) => execFileSync('git', args, { cwd: fixture.tree, stdio: 'pipe' });
    git('init', '-q', '-b', 'master');
    git('add', '-A');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'tree');
    const target = join(fixture.root, 'clone');
    const host = await sshHost();
    const events: PrepareProgress[] = [];
    const result = await prepareHost(host, {
      source: target,
      clone: { url: fixture.tree, ref: 'master' },
      buildQemu: { jobs: 1 },
      buildKvm: { kernelDir: fixture.kernelDir, jobs: 1 },
      env: stringEnv(fixture.env()),
      onProgress: (e) => events.push(e),
    });
    expect(kinds(events)).toEqual([
      'dry-run build-cuju',
      'dry-run build-kvm',
      'run build-cuju',
      'run build-kvm',
    ]);
    expect(result.plans['build-kvm']?.[0]).toBe(`cd ${target}/kvm`);
    expect(result.plans['build-cuju']?.[0]).toBe(`git clone -- ${fixture.tree} ${target}`);
    expect(result.kvmModules).toEqual([`${target}/kvm/x86/kvm.ko`, `${target}/kvm/x86/kvm-intel.ko`]);
  });
});

describe('prepareHost on this machine (LocalHost)', () => {
  it("passes what it reports through the host's redaction: events, plans, the error", async () => {
    const token = `tok-${randomBytes(8).toString('hex')}`;
    // Stand-in scripts: build-cuju.sh plans a clone of its --clone URL, and fails its real
    // run printing that URL and the token it was given in its environment.
    const scripts = mkdtempSync(join(tmpdir(), 'cuju-fake-native-'));
    cleanups.push(() => rmSync(scripts, { recursive: true, force: true }));
    mkdirSync(join(scripts, 'lib'));
    for (const file of ['lib/common.sh', 'build-kvm.sh', 'reinsmodkvm.sh', 'host-prep.sh']) {
      writeFileSync(join(scripts, file), '');
    }
    writeFileSync(
      join(scripts, 'build-cuju.sh'),
      [
        'case "$*" in *--dry-run*) echo "git clone -- $4 $2"; exit 0 ;; esac',
        'echo "build-cuju.sh: error: cannot clone $4 with $CUJU_TOKEN" >&2',
        'exit 1',
      ].join('\n'),
    );
    const url = 'https://cuju:hunter2@example.invalid/Cuju.git';
    const events: PrepareProgress[] = [];
    const error = await prepareHost(new LocalHost({ redact: [token] }), {
      source: '/nonexistent/cuju',
      clone: { url },
      buildQemu: true,
      env: { CUJU_TOKEN: token },
      scriptsDir: scripts,
      onProgress: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrepareHostError);
    const e = error as PrepareHostError;
    const redactedUrl = 'https://cuju:<redacted>@example.invalid/Cuju.git';
    expect(e.message).toBe(`local: build-cuju failed (exit 1): cannot clone ${redactedUrl} with <redacted>`);
    expect(e.partial.plans['build-cuju']).toEqual([`git clone -- ${redactedUrl} /nonexistent/cuju`]);
    const starts = events.filter((ev) => ev.type === 'step-start');
    expect(starts.map((ev) => ev.argv.slice(0, 2))).toEqual([
      ['env', 'CUJU_TOKEN=<redacted>'],
      ['env', 'CUJU_TOKEN=<redacted>'],
    ]);
    for (const shown of [
      JSON.stringify(events),
      JSON.stringify(e.partial),
      e.stderr,
      inspect(e, { depth: Infinity, showHidden: true }),
    ]) {
      expect(shown).not.toContain(token);
      expect(shown).not.toContain('hunter2');
    }
  });

  it('dryRunOnly returns every plan and changes nothing; a throwing listener changes nothing either', async () => {
    fixture = makeFixture({ links: ['br0'] });
    const result = await prepareHost(new LocalHost(), {
      ...allSteps(fixture),
      loadKvm: false,
      hostPrep: undefined,
      dryRunOnly: true,
      onProgress: () => {
        throw new Error('listener bug');
      },
    });
    expect(result.done).toEqual([]);
    expect(result.plans['build-cuju']).toEqual([
      `cd ${fixture.tree}`,
      `./configure --enable-cuju --enable-kvm --disable-pie --target-list=x86_64-softmmu --python=${fixture.bin}/python2`,
      'make -j 2',
      `# then prints ${fixture.tree}/x86_64-softmmu/qemu-system-x86_64`,
    ]);
    expect(result.plans['build-kvm']?.slice(0, 3)).toEqual([
      `cd ${fixture.tree}/kvm`,
      `./configure --kerneldir=${fixture.kernelDir}`,
      'env LC_ALL=C make -j 2',
    ]);
    expect(fixture.calls().filter((c) => c.tool !== 'pkg-config')).toEqual([]);
  });

  it('refuses a source tree that is missing when nothing (clone, NFS) will bring it', async () => {
    fixture = makeFixture();
    const error = await prepareHost(new LocalHost(), {
      source: `${fixture.root}/nowhere`,
      buildKvm: true,
      env: stringEnv(fixture.env()),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CujuArgumentError);
    expect((error as CujuArgumentError).field).toBe('source');
    expect((error as Error).message).toContain('is not a directory on local: give clone');
  });

  it('loads the modules from where buildKvm built them', () => {
    const steps = planSteps({ source: '/s', buildKvm: { kvmDir: '/s/kvm-4.15' }, loadKvm: true });
    expect(steps.map((p) => [p.step, p.args])).toEqual([
      ['build-kvm', ['--source', '/s', '--kvm-dir', '/s/kvm-4.15']],
      ['reinsmodkvm', ['--kvm-dir', '/s/kvm-4.15']],
    ]);
  });

  it('the built package ships the scripts and finds them (dist)', async () => {
    const dist = join(import.meta.dirname, '../dist');
    for (const file of ['index.js', 'index.cjs', 'native/build-kvm.sh', 'native/lib/common.sh']) {
      expect(existsSync(join(dist, file)), `dist/${file} (run npm run build)`).toBe(true);
    }
    const built = (await import(join(dist, 'index.js'))) as typeof import('../src/index.js');
    fixture = makeFixture();
    const result = await built.prepareHost(new built.LocalHost(), {
      source: fixture.tree,
      buildQemu: { jobs: 3 },
      dryRunOnly: true,
      env: stringEnv(fixture.env()),
    });
    expect(result.plans['build-cuju']).toContain('make -j 3');
  });
});

describe('prepareHost refuses bad options before touching the host', () => {
  /** A host that fails the test if anything is sent to it. */
  const untouchable: Host = new Proxy({ name: 'untouchable', address: '127.0.0.1' } as Host, {
    get(target, key) {
      if (key in target) return target[key as keyof Host];
      return () => {
        throw new Error(`prepareHost called host.${String(key)} before validating its options`);
      };
    },
  });

  it.each<[string, PrepareHostOptions, string]>([
    ['no step', {}, 'options'],
    ['a build without source', { buildQemu: true }, 'source'],
    ['a relative source', { source: 'Cuju', buildQemu: true }, 'source'],
    ['clone without buildQemu', { source: '/x', clone: { url: '/y' }, buildKvm: true }, 'clone'],
    ['a bad jobs count', { source: '/x', buildQemu: { jobs: 0 } }, 'buildQemu.jobs'],
    ['a bad tap name', { hostPrep: { taps: ['tap0; reboot'] } }, 'hostPrep.taps[0]'],
    ['a bad cpu list', { hostPrep: { cpuset: { cpus: 'all' } } }, 'hostPrep.cpuset.cpus'],
    ['a bad NFS export', { hostPrep: { nfs: { export: '/srv' } } }, 'hostPrep.nfs.export'],
    ['hostPrep selecting nothing', { hostPrep: { bridge: 'br0' } }, 'hostPrep'],
    ['a bad environment name', { source: '/x', buildQemu: true, env: { 'A B': '1' } }, 'env'],
    [
      'an option-like ref',
      { source: '/x', buildQemu: true, clone: { url: '/y', ref: '--upload-pack=x' } },
      'clone.ref',
    ],
    [
      "git's ext:: transport",
      { source: '/x', buildQemu: true, clone: { url: 'ext::sh -c reboot' } },
      'clone.url',
    ],
    [
      'an option-like clone URL',
      { source: '/x', buildQemu: true, clone: { url: '--upload-pack=x' } },
      'clone.url',
    ],
    ['a null hostPrep', { hostPrep: null as unknown as undefined }, 'hostPrep'],
    ['a null cpuset', { hostPrep: { cpuset: null as unknown as undefined } }, 'hostPrep.cpuset'],
    ['taps that are not an array', { hostPrep: { taps: 'tap0' as unknown as string[] } }, 'hostPrep.taps'],
    ['a bridge without taps', { hostPrep: { bridge: 'br1', cpuset: { cpus: '7' } } }, 'hostPrep'],
    [
      'a non-boolean dryRunOnly',
      { hostPrep: { taps: ['tap0'] }, dryRunOnly: 'yes' as unknown as boolean },
      'dryRunOnly',
    ],
    [
      'a non-boolean clean',
      { source: '/x', buildQemu: { clean: 1 as unknown as boolean } },
      'buildQemu.clean',
    ],
  ])('%s', async (_what, options, field) => {
    const error = await prepareHost(untouchable, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CujuArgumentError);
    expect((error as CujuArgumentError).field).toBe(field);
  });
});
