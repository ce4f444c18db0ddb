/**
 * reinsmodkvm.sh and host-prep.sh: real runs as root against stub lsmod/insmod/rmmod, ip and
 * mount (this machine's kernel, network and mounts are never touched), the cgroup knobs
 * written into a temporary directory, and real refusals as an unprivileged user.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, requireRoot, runScript } from './helpers/fixture.js';

const isRoot = requireRoot('native/test/host.test.ts');
/** How to run a script unprivileged: as nobody when we are root, else as ourselves. */
const unprivileged = isRoot ? { asUid: 65534 } : {};

let fixture: Fixture;
afterEach(() => fixture?.cleanup());

const loaded = (f: Fixture) => readFileSync(join(f.state, 'modules'), 'utf8').split('\n').filter(Boolean);

describe('reinsmodkvm.sh', () => {
  it('refuses to run unprivileged, before touching a module', () => {
    fixture = makeFixture({ modules: ['kvm', 'kvm_intel'] });
    const r = runScript('reinsmodkvm.sh', ['--source', fixture.tree], fixture.env(), unprivileged);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('root: reinsmodkvm.sh loads kernel modules; run it as root or with sudo');
    expect(fixture.calls()).toEqual([]);
  });

  it('refuses without kmod, naming the package', () => {
    fixture = makeFixture({ without: ['lsmod', 'rmmod', 'insmod'] });
    const PATH = fixture.minimalPath(['dirname', 'id', 'grep', 'sort', 'tr']);
    const r = runScript('reinsmodkvm.sh', ['--source', fixture.tree], { ...fixture.env(), PATH });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("'insmod' is not installed (Debian/Ubuntu package: kmod)");
    expect(r.stderr).toContain('install them with: sudo apt-get install kmod');
  });

  describe.runIf(isRoot)('as root', () => {
    it('--dry-run prints the plan, warns about modules not built yet, and loads nothing', () => {
      fixture = makeFixture({ modules: ['kvm', 'kvm_intel'] });
      const kvm = `${fixture.tree}/kvm`;
      const r = runScript('reinsmodkvm.sh', ['--source', fixture.tree, '--dry-run'], fixture.env());
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')).toEqual([
        "if lsmod | grep -q '^kvm_intel '; then rmmod kvm_intel; fi",
        "if lsmod | grep -q '^kvm '; then rmmod kvm; fi",
        `insmod ${kvm}/x86/kvm.ko`,
        `insmod ${kvm}/x86/kvm-intel.ko`,
        '# then checks that lsmod lists kvm and kvm_intel',
        '',
      ]);
      expect(r.stderr).toContain(`warning: ${kvm}/x86/kvm.ko is not built yet`);
      expect(fixture.calls()).toEqual([]);
    });

    it('replaces loaded modules with the built ones and shows lsmod after', () => {
      fixture = makeFixture({ modules: ['kvm', 'kvm_intel'], needsGupPatch: false, needsFpuPatch: false });
      const kvm = `${fixture.tree}/kvm`;
      const built = runScript(
        'build-kvm.sh',
        ['--source', fixture.tree, '--kernel-dir', fixture.kernelDir],
        fixture.env(),
      );
      expect(built.code).toBe(0);
      // From inside the module tree, as the original script is run.
      const r = runScript('reinsmodkvm.sh', [], fixture.env(), { cwd: kvm });
      expect(r.code).toBe(0);
      expect(fixture.calls().filter((c) => c.tool === 'rmmod' || c.tool === 'insmod')).toEqual([
        { tool: 'rmmod', cwd: kvm, args: 'kvm_intel' },
        { tool: 'rmmod', cwd: kvm, args: 'kvm' },
        { tool: 'insmod', cwd: kvm, args: `${kvm}/x86/kvm.ko` },
        { tool: 'insmod', cwd: kvm, args: `${kvm}/x86/kvm-intel.ko` },
      ]);
      expect(r.stdout).toMatch(/^kvm\s+\d+\s+0\nkvm_intel\s+\d+\s+0\n$/);
      expect(r.stderr).toMatch(/==> before\n {2}kvm\s.*\n {2}kvm_intel\s/);
    });

    it('loads without unloading when no kvm module is loaded', () => {
      fixture = makeFixture({ needsGupPatch: false, needsFpuPatch: false });
      runScript('build-kvm.sh', ['--source', fixture.tree, '--kernel-dir', fixture.kernelDir], fixture.env());
      const r = runScript('reinsmodkvm.sh', ['--kvm-dir', `${fixture.tree}/kvm`], fixture.env());
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('(no kvm module loaded)');
      expect(fixture.calls().filter((c) => c.tool === 'rmmod')).toEqual([]);
      expect(loaded(fixture)).toEqual(['kvm', 'kvm_intel']);
    });

    it('says to stop the VMs when a module is in use, and loads nothing', () => {
      fixture = makeFixture({ modules: ['kvm', 'kvm_intel'], needsGupPatch: false, needsFpuPatch: false });
      runScript('build-kvm.sh', ['--source', fixture.tree, '--kernel-dir', fixture.kernelDir], fixture.env());
      const r = runScript(
        'reinsmodkvm.sh',
        ['--source', fixture.tree],
        fixture.env({ STUB_RMMOD_BUSY: '1' }),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('rmmod: ERROR: Module kvm_intel is in use');
      expect(r.stderr).toContain(
        'cannot unload kvm_intel: it is in use; stop every VM (QEMU/Cuju) on this host first',
      );
      expect(fixture.calls().filter((c) => c.tool === 'insmod')).toEqual([]);
    });

    it.each([
      ['Invalid module format', /: it was built for another kernel than 4\.15\.0-29-generic; rebuild it/],
      ['Operation not supported', /: Intel VT-x is missing or disabled/],
      [
        'Unknown symbol in module',
        /: insmod: ERROR: could not insert module .*: Unknown symbol in module \(see dmesg\)/,
      ],
    ])('explains an insmod failure: %s', (failure, explanation) => {
      fixture = makeFixture({ needsGupPatch: false, needsFpuPatch: false });
      runScript('build-kvm.sh', ['--source', fixture.tree, '--kernel-dir', fixture.kernelDir], fixture.env());
      const r = runScript(
        'reinsmodkvm.sh',
        ['--source', fixture.tree],
        fixture.env({ STUB_INSMOD_FAIL: failure }),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`cannot load kvm\\.ko${explanation.source}`));
      expect(r.stdout).toBe('');
    });

    it('refuses to unload anything when the built modules are missing', () => {
      fixture = makeFixture({ modules: ['kvm', 'kvm_intel'] });
      const r = runScript('reinsmodkvm.sh', ['--source', fixture.tree], fixture.env());
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `${fixture.tree}/kvm/x86/kvm.ko does not exist: build the modules first (build-kvm.sh --source <Cuju tree>)`,
      );
      expect(fixture.calls()).toEqual([]);
      expect(loaded(fixture)).toEqual(['kvm', 'kvm_intel']);
    });

    it('refuses --source together with --kvm-dir', () => {
      fixture = makeFixture();
      const r = runScript(
        'reinsmodkvm.sh',
        ['--source', fixture.tree, '--kvm-dir', fixture.tree],
        fixture.env(),
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('give --source or --kvm-dir, not both');
    });
  });
});

describe('host-prep.sh', () => {
  it('refuses to run without a step', () => {
    fixture = makeFixture();
    const r = runScript('host-prep.sh', [], fixture.env());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'nothing to do: give at least one step (--tap NAME, --cpuset CPUS, --nfs SERVER:PATH)',
    );
  });

  it('refuses to run unprivileged', () => {
    fixture = makeFixture({ links: ['br0'] });
    const r = runScript('host-prep.sh', ['--tap', 'tap0'], fixture.env(), unprivileged);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('root: host-prep.sh changes network devices, cgroups and mounts');
    expect(fixture.calls()).toEqual([]);
  });

  it.each([
    [['--tap', 'tap0;reboot'], "--tap: 'tap0;reboot' is not an interface name"],
    [['--tap', 'a-name-longer-than-15'], "--tap: 'a-name-longer-than-15' is not an interface name"],
    [['--cpuset', 'all'], "--cpuset: 'all' is not a CPU list (like 7, 2-3 or 0,4-5)"],
    [
      ['--cpuset', '7', '--cgroup-name', '../escape'],
      "--cgroup-name: '../escape' is not a plain directory name",
    ],
    [['--nfs', '/srv/nfs'], "--nfs: '/srv/nfs' is not SERVER:/PATH"],
    [['--cpuset', '7', '--bridge', 'br1'], '--bridge, --create-bridge and --tap-user go with --tap'],
    [
      ['--tap', 'tap0', '--cgroup-name', 'ft'],
      '--cgroup-dir, --cgroup-name and --cpuset-mems go with --cpuset',
    ],
    [['--tap', 'tap0', '--nfs-mount', '/mnt/x'], '--nfs-mount and --nfs-options go with --nfs'],
  ])('refuses bad input %j', (args, message) => {
    fixture = makeFixture();
    const r = runScript('host-prep.sh', args, fixture.env());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(fixture.calls()).toEqual([]);
  });

  describe.runIf(isRoot)('as root', () => {
    it('--dry-run prints every step and runs none', () => {
      fixture = makeFixture({ links: ['br0'] });
      const cg = join(fixture.root, 'cgroup');
      const mnt = join(fixture.root, 'nfs');
      const r = runScript(
        'host-prep.sh',
        [
          '--tap',
          'tap0',
          '--tap',
          'tap1',
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
        fixture.env(),
      );
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')).toEqual([
        'ip tuntap add dev tap0 mode tap user nobody',
        'ip link set dev tap0 promisc on up',
        'ip link set dev tap0 master br0',
        'ip tuntap add dev tap1 mode tap user nobody',
        'ip link set dev tap1 promisc on up',
        'ip link set dev tap1 master br0',
        `mkdir -p -- ${cg}`,
        `mount -t cgroup -o cpuset cpuset ${cg}`,
        `mkdir -- ${cg}/vmft`,
        `printf '%s\\n' 7 > ${cg}/vmft/cpuset.cpus`,
        `printf '%s\\n' 1 > ${cg}/vmft/cpuset.cpu_exclusive`,
        `printf '%s\\n' 0 > ${cg}/vmft/cpuset.mems`,
        `# start a VM in it with: cgexec -g cpuset:vmft ..., or echo its pid > ${cg}/vmft/tasks`,
        `mkdir -p -- ${mnt}`,
        `mount -t nfs 127.0.0.1:/home/cuju/nfsfolder ${mnt}`,
        '',
      ]);
      expect(fixture.calls()).toEqual([]);
      expect(existsSync(cg)).toBe(false);
    });

    it('creates taps on the bridge, and skips the ones that exist on a second run', () => {
      fixture = makeFixture({ links: ['br0'] });
      const first = runScript('host-prep.sh', ['--tap', 'tap0', '--tap', 'tap1'], fixture.env());
      expect(first.code).toBe(0);
      expect(fixture.calls().map((c) => c.args)).toEqual([
        'tuntap add dev tap0 mode tap user root',
        'link set dev tap0 promisc on up',
        'link set dev tap0 master br0',
        'tuntap add dev tap1 mode tap user root',
        'link set dev tap1 promisc on up',
        'link set dev tap1 master br0',
      ]);
      const second = runScript('host-prep.sh', ['--tap', 'tap0'], fixture.env());
      expect(second.code).toBe(0);
      expect(second.stderr).toContain('tap0 exists: not creating it again');
      expect(fixture.calls().filter((c) => c.args.startsWith('tuntap'))).toHaveLength(2);
    });

    it('refuses taps without the bridge, unless told to create it', () => {
      fixture = makeFixture();
      const refused = runScript('host-prep.sh', ['--tap', 'tap0', '--bridge', 'brft'], fixture.env());
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain('bridge brft does not exist');
      expect(refused.stderr).toContain('--create-bridge');
      expect(fixture.calls()).toEqual([]);

      const created = runScript(
        'host-prep.sh',
        ['--tap', 'tap0', '--bridge', 'brft', '--create-bridge'],
        fixture.env(),
      );
      expect(created.code).toBe(0);
      expect(
        fixture
          .calls()
          .map((c) => c.args)
          .slice(0, 3),
      ).toEqual([
        'link add name brft type bridge',
        'link set dev brft up',
        'tuntap add dev tap0 mode tap user root',
      ]);
    });

    it("sets up the guide's cpuset group", () => {
      fixture = makeFixture();
      const cg = join(fixture.root, 'cgroup');
      const r = runScript(
        'host-prep.sh',
        ['--cpuset', '2-3', '--cpuset-mems', '0', '--cgroup-dir', cg, '--cgroup-name', 'cuju'],
        fixture.env(),
      );
      expect(r.code).toBe(0);
      expect(fixture.calls()).toEqual([
        { tool: 'mount', cwd: expect.any(String), args: `-t cgroup -o cpuset cpuset ${cg}` },
      ]);
      const knob = (name: string) => readFileSync(join(cg, 'cuju', name), 'utf8');
      expect([knob('cpuset.cpus'), knob('cpuset.cpu_exclusive'), knob('cpuset.mems')]).toEqual([
        '2-3\n',
        '1\n',
        '0\n',
      ]);
    });

    it("shows mount's own reason when the cpuset mount fails", () => {
      fixture = makeFixture();
      const r = runScript(
        'host-prep.sh',
        ['--cpuset', '7', '--cgroup-dir', join(fixture.root, 'cgroup')],
        fixture.env({ STUB_MOUNT_FAIL: 'cpuset already mounted or mount point busy.' }),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `cannot mount the cpuset controller at ${fixture.root}/cgroup: mount: cpuset already mounted or mount point busy.`,
      );
      expect(existsSync(join(fixture.root, 'cgroup', 'vmft'))).toBe(false);
    });

    // Which branch runs depends on this machine's cgroup layout; both are real.
    const v2Only =
      execFileSync('stat', ['-fc', '%T', '/sys/fs/cgroup'], { encoding: 'utf8' }).trim() === 'cgroup2fs';
    it(`checks for the v1 cpuset controller first (this host: ${v2Only ? 'cgroup v2 only' : 'v1 available'})`, () => {
      fixture = makeFixture();
      const args = ['--cpuset', '7', '--cgroup-dir', join(fixture.root, 'cg'), '--dry-run'];
      const r = runScript('host-prep.sh', args, fixture.env());
      if (v2Only) {
        expect(r.code).toBe(3);
        expect(r.stderr).toContain('the cgroup v1 cpuset controller: this host mounts cgroup v2 only');
      } else {
        expect(r.code).toBe(0);
        expect(r.stderr).not.toContain('cgroup v2');
      }
    });

    it('treats a mount point spelled with a trailing slash or dots as the same directory', () => {
      fixture = makeFixture();
      for (const spelling of ['/proc/', '/proc/./', '/sys/../proc']) {
        const r = runScript(
          'host-prep.sh',
          ['--nfs', '127.0.0.1:/x', '--nfs-mount', spelling],
          fixture.env(),
        );
        expect(r.code).toBe(0);
        expect(r.stderr).toContain('/proc is already mounted: leaving it');
      }
      expect(fixture.calls()).toEqual([]);
    });

    it('mounts the NFS export with options, and leaves a mount point that is in use alone', () => {
      fixture = makeFixture();
      const mnt = join(fixture.root, 'nfs');
      const r = runScript(
        'host-prep.sh',
        ['--nfs', '127.0.0.1:/home/cuju/nfsfolder', '--nfs-mount', mnt, '--nfs-options', 'vers=3,nolock'],
        fixture.env(),
      );
      expect(r.code).toBe(0);
      expect(existsSync(mnt)).toBe(true);
      expect(fixture.calls().map((c) => c.args)).toEqual([
        `-t nfs -o vers=3,nolock 127.0.0.1:/home/cuju/nfsfolder ${mnt}`,
      ]);
      // /proc is always a mount point: nothing is mounted over it.
      const busy = runScript(
        'host-prep.sh',
        ['--nfs', '127.0.0.1:/x', '--nfs-mount', '/proc'],
        fixture.env(),
      );
      expect(busy.code).toBe(0);
      expect(busy.stderr).toContain('/proc is already mounted: leaving it');
      expect(fixture.calls()).toHaveLength(1);
    });

    it('refuses NFS without mount.nfs, naming nfs-common', () => {
      fixture = makeFixture({ without: ['mount.nfs'] });
      const PATH = fixture.minimalPath(['dirname', 'id', 'grep', 'sort', 'tr', 'realpath']);
      const r = runScript('host-prep.sh', ['--nfs', '127.0.0.1:/x'], { ...fixture.env(), PATH });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain("'mount.nfs' is not installed (Debian/Ubuntu package: nfs-common)");
    });
  });
});
