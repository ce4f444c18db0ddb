/**
 * --dry-run on a machine where the prerequisites are missing (an operator's laptop, a host
 * not set up yet): every script still prints its whole plan, lists what is missing as
 * warnings, ends the plan with a note, exits 3, and runs nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, runScript } from './helpers/fixture.js';

let fixture: Fixture;
afterEach(() => fixture?.cleanup());

/** Run unprivileged: as nobody when we are root, else as ourselves (already not root). */
const unprivileged = process.getuid?.() === 0 ? { asUid: 65534 } : {};
const CUJU_CONFIGURE = '--enable-cuju --enable-kvm --disable-pie --target-list=x86_64-softmmu';
const WARNING =
  'warning: missing prerequisites: a real run here would refuse (exit 3); the plan follows anyway:';
const refusalNote = (n: number) =>
  `# a real run on this host would refuse: ${n} missing prerequisite(s), listed on stderr`;
/** The `  - ` lines of the warning, in order. */
const missingItems = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('  - '))
    .map((l) => l.slice(4));

describe('--dry-run where prerequisites are missing', () => {
  it('build-cuju.sh prints the whole plan, warns what is missing and exits 3', () => {
    fixture = makeFixture({ without: ['make', 'python2'] });
    const env = fixture.env({ STUB_PKG_MISSING: 'pixman-1', MAKE: 'no-such-make' });
    const r = runScript('build-cuju.sh', ['--source', fixture.tree, '--jobs', '3', '--dry-run'], env);
    expect(r.code).toBe(3);
    expect(r.stdout.split('\n')).toEqual([
      `cd ${fixture.tree}`,
      `./configure ${CUJU_CONFIGURE}`,
      'no-such-make -j 3',
      `# then prints ${fixture.tree}/x86_64-softmmu/qemu-system-x86_64`,
      refusalNote(3),
      '',
    ]);
    expect(r.stderr).toContain(`build-cuju.sh: ${WARNING}`);
    expect(missingItems(r.stderr)).toEqual([
      "'no-such-make' is not installed (Debian/Ubuntu package: make)",
      "Python 2: QEMU 2.8's configure needs it (Debian/Ubuntu package: python, or python2.7)",
      'the pixman-1 development files (Debian/Ubuntu package: libpixman-1-dev)',
    ]);
    expect(r.stderr).toMatch(/install them with: sudo apt-get install libpixman-1-dev make python/);
    expect(fixture.calls().filter((c) => c.tool !== 'pkg-config')).toEqual([]);

    // The same machine, for real: refused before anything ran, and no plan.
    const real = runScript('build-cuju.sh', ['--source', fixture.tree, '--jobs', '3'], env);
    expect(real.code).toBe(3);
    expect(real.stdout).toBe('');
    expect(real.stderr).toContain('missing prerequisites, nothing was done');
  });

  it('build-cuju.sh plans for a tree that is not a Cuju tree, and says a real run would refuse', () => {
    fixture = makeFixture();
    const notCuju = fixture.kernelDir; // exists, has no ./configure
    const r = runScript('build-cuju.sh', ['--source', notCuju, '--jobs', '2', '--dry-run'], fixture.env());
    expect(r.code).toBe(3);
    expect(r.stdout.split('\n')).toEqual([
      `cd ${notCuju}`,
      `./configure ${CUJU_CONFIGURE} --python=${fixture.bin}/python2`,
      'make -j 2',
      `# then prints ${notCuju}/x86_64-softmmu/qemu-system-x86_64`,
      refusalNote(1),
      '',
    ]);
    expect(missingItems(r.stderr)).toEqual([
      `${notCuju} has no executable ./configure: is it a Cuju source tree?`,
    ]);
    const real = runScript('build-cuju.sh', ['--source', notCuju, '--jobs', '2'], fixture.env());
    expect(real.code).toBe(1);
    expect(real.stderr).toContain(`error: ${notCuju} has no executable ./configure`);
    expect(fixture.calls().filter((c) => c.tool !== 'pkg-config')).toEqual([]);
  });

  it('build-kvm.sh prints the whole plan on an unsupported kernel without headers, and exits 3', () => {
    fixture = makeFixture({ without: ['cc'] });
    const kvm = `${fixture.tree}/kvm`;
    const r = runScript(
      'build-kvm.sh',
      ['--source', fixture.tree, '--jobs', '2', '--dry-run'],
      fixture.env({
        STUB_KERNEL: '6.1.0-18-amd64',
        PATH: fixture.minimalPath(['dirname', 'id', 'grep', 'sort', 'tr', 'sed', 'patch']),
      }),
    );
    expect(r.code).toBe(3);
    const plan = r.stdout.split('\n');
    expect(plan.slice(0, 3)).toEqual([`cd ${kvm}`, './configure', 'env LC_ALL=C make -j 2']);
    expect(plan.slice(-3)).toEqual([
      `# then prints ${kvm}/x86/kvm.ko and ${kvm}/x86/kvm-intel.ko`,
      refusalNote(3),
      '',
    ]);
    expect(plan.filter((l) => l.startsWith('# if make fails with'))).toHaveLength(2);
    const missing = missingItems(r.stderr);
    expect(missing[0]).toBe("'cc' is not installed (Debian/Ubuntu package: build-essential)");
    expect(missing[1]).toMatch(/^a supported kernel: this host runs 6\.1\.0-18-amd64;/);
    expect(missing[2]).toMatch(
      /^the headers of the running kernel \(\/lib\/modules\/6\.1\.0-18-amd64\/build\)/,
    );
    expect(fixture.calls()).toEqual([]);
  });

  it('reinsmodkvm.sh prints the whole plan when not root, and exits 3', () => {
    fixture = makeFixture({ modules: ['kvm', 'kvm_intel'] });
    const kvm = `${fixture.tree}/kvm`;
    const r = runScript(
      'reinsmodkvm.sh',
      ['--source', fixture.tree, '--dry-run'],
      fixture.env(),
      unprivileged,
    );
    expect(r.code).toBe(3);
    expect(r.stdout.split('\n')).toEqual([
      "if lsmod | grep -q '^kvm_intel '; then rmmod kvm_intel; fi",
      "if lsmod | grep -q '^kvm '; then rmmod kvm; fi",
      `insmod ${kvm}/x86/kvm.ko`,
      `insmod ${kvm}/x86/kvm-intel.ko`,
      '# then checks that lsmod lists kvm and kvm_intel',
      refusalNote(1),
      '',
    ]);
    expect(missingItems(r.stderr)).toEqual([
      'root: reinsmodkvm.sh loads kernel modules; run it as root or with sudo',
    ]);
    expect(fixture.calls()).toEqual([]);
  });

  it('host-prep.sh prints every step when not root and the bridge is missing, and exits 3', () => {
    fixture = makeFixture({ without: ['mount.nfs'] });
    const cg = `${fixture.root}/cgroup`;
    const mnt = `${fixture.root}/nfs`;
    const r = runScript(
      'host-prep.sh',
      [
        '--tap',
        'tap0',
        '--tap-user',
        'nobody',
        '--cpuset',
        '7',
        '--cgroup-dir',
        cg,
        '--nfs',
        '127.0.0.1:/home/cuju/nfsfolder',
        '--nfs-mount',
        mnt,
        '--dry-run',
      ],
      {
        ...fixture.env(),
        PATH: fixture.minimalPath([
          'setpriv',
          'dirname',
          'id',
          'grep',
          'sort',
          'tr',
          'realpath',
          'stat',
          'awk',
        ]),
      },
      unprivileged,
    );
    expect(r.code).toBe(3);
    const plan = r.stdout.split('\n');
    expect(plan.slice(0, 4)).toEqual([
      '# bridge br0 must exist before the taps are attached to it (see the warnings)',
      'ip tuntap add dev tap0 mode tap user nobody',
      'ip link set dev tap0 promisc on up',
      'ip link set dev tap0 master br0',
    ]);
    expect(plan).toContain(`printf '%s\\n' 7 > ${cg}/vmft/cpuset.cpus`);
    expect(plan.slice(-4)).toEqual([
      `mkdir -p -- ${mnt}`,
      `mount -t nfs 127.0.0.1:/home/cuju/nfsfolder ${mnt}`,
      refusalNote(missingItems(r.stderr).length),
      '',
    ]);
    const missing = missingItems(r.stderr);
    expect(missing[0]).toBe(
      'root: host-prep.sh changes network devices, cgroups and mounts; run it as root or with sudo',
    );
    expect(missing[1]).toMatch(/^bridge br0 does not exist/);
    expect(missing).toContain("'mount.nfs' is not installed (Debian/Ubuntu package: nfs-common)");
    expect(fixture.calls()).toEqual([]);
  });
});
