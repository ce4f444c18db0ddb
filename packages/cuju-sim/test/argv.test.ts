import { describe, expect, it } from 'vitest';
import { PROG_NAME, parseArgv } from '../src/argv.js';
import { ArgvError, CRASH_STEPS, type MonitorSpec, type SimConfig } from '../src/config.js';

/**
 * The argv a seed script hands to QEMU: the script's words as the shell splits them (the
 * scripts use no quotes around QEMU's arguments, and `\` joins lines), after `sudo`,
 * `gdb ... --args` and the binary path. Placeholders such as `[your username]` are
 * replaced by real values before this, as a user must.
 */
function scriptArgv(script: string): string[] {
  const words = script.replace(/\\\n/g, ' ').trim().split(/\s+/);
  const binary = words.findIndex((w) => w.endsWith('qemu-system-x86_64'));
  expect(binary).toBeGreaterThanOrEqual(0);
  return words.slice(binary + 1);
}

function configOf(argv: string[], build?: 'master' | 'groupft' | 'blk-server'): SimConfig {
  const result = parseArgv(build ? ['-sim-build', build, ...argv] : argv);
  if (!('config' in result)) throw new Error(`expected a config, got ${JSON.stringify(result)}`);
  return result.config;
}

/** The message parseArgv refuses argv with (it must refuse with an ArgvError). */
function errorOf(argv: string[], build?: 'master' | 'groupft' | 'blk-server'): string {
  try {
    parseArgv(build ? ['-sim-build', build, ...argv] : argv);
  } catch (err) {
    if (err instanceof ArgvError) return err.message;
    throw err;
  }
  throw new Error(`parseArgv accepted ${JSON.stringify(argv)}`);
}

const unixMonitor = (path: string, overrides: Partial<MonitorSpec> = {}): MonitorSpec => ({
  id: 'mon',
  mode: 'readline',
  listen: { kind: 'unix', path },
  server: true,
  wait: false,
  ...overrides,
});

// A valid base to which single options are added in the per-option tests.
const MON = [
  '-chardev',
  'socket,id=mon,path=/tmp/vm1.monitor,server,nowait',
  '-mon',
  'chardev=mon,mode=readline',
];

// ---------------------------------------------------------------------------------------
// Seed command lines (000_*.md: the Cuju lab manual; 002_*.md: the ITRI guide; the repo's
// gft_script/run_ft and recv_b; cuju-monitor.md §8)

const RUNVM_SH = `sudo ./x86_64-softmmu/qemu-system-x86_64 \\
 -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \\
 -device virtio-blk,drive=drive0 \\
 -m 1G -enable-kvm \\
 -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \\
 -cpu host \\
 -vga std -chardev socket,id=mon,path=/home/ubuntu/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline`;

const RECV_SH = `sudo x86_64-softmmu/qemu-system-x86_64 \\
 -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \\
 -device virtio-blk,drive=drive0 \\
 -m 1G -enable-kvm \\
 -net tap,ifname=tap1 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \\
 -vga std -chardev socket,id=mon,path=/home/ubuntu/vm1r.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \\
 -cpu host \\
 -incoming tcp:0:4441,ft_mode`;

const BLK_SERVER_SH = `sudo ./x86_64-softmmu/qemu-system-x86_64 \\
 -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \\
 -device virtio-blk,drive=drive0 \\
 -m 1G -enable-kvm \\
 -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \\
 -cpu host \\
 -vga std -chardev socket,id=mon,path=/home/ubuntu/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \\
 -ft-join-port 4000 -blk-server-listen :5001`;

const BLK_PRIMARY_SH = `sudo ./x86_64-softmmu/qemu-system-x86_64 \\
 -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \\
 -device virtio-blk,drive=drive0 \\
 -m 1G -enable-kvm \\
 -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \\
 -cpu host \\
 -vga std -chardev socket,id=mon,path=/home/ubuntu/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \\
 -blk-server 192.168.105.2:5001`;

const BLK_BACKUP_SH = `sudo x86_64-softmmu/qemu-system-x86_64 \\
 -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \\
 -device virtio-blk,drive=drive0 \\
 -m 1G -enable-kvm \\
 -net tap,ifname=tap1 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \\
 -vga std -chardev socket,id=mon,path=/home/ubuntu/vm1r.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \\
 -cpu host \\
 -incoming tcp:0:4441,ft_mode \\
 -blk-server 192.168.105.2:5001`;

// 002: run_ft as printed (the PDF's line breaks inside words joined back).
const ITRI_RUN_FT = `sudo gdb -ex 'set confirm off' --args x86_64-softmmu/qemu-system-x86_64 \\
-drive \\
if=none,id=drive0,cache=none,aio=native,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img -device virtio-blk,drive=drive0,scsi=off \\
-m 2G -enable-kvm -net tap,ifname=tap0 -net \\
nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:20 -ft-join-port 5000 -vga std \\
-chardev socket,id=mon,path=/mnt/nfs/chiyun-nfs/vm1.monitor,server,nowait -mon \\
chardev=mon,id=monitor,mode=readline -gft-id 0 -smp 1`;

const ITRI_RUN_FT2 = `sudo gdb -ex 'set confirm off' -ex run --args x86_64-softmmu/qemu-system-x86_64 \\
-drive \\
if=none,id=drive1,cache=none,aio=native,format=raw,file=/mnt/nfs/Ubuntu20G-1604-2.img -device virtio-blk,drive=drive1,scsi=off \\
-m 2G -enable-kvm -net tap,ifname=tap1 -net \\
nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:32 -ft-join-port 5003 -vga std \\
-chardev socket,id=mon,path=/mnt/nfs/chiyun-nfs/vm2.monitor,server,nowait -mon \\
chardev=mon,id=monitor,mode=readline -gft-id 1 -smp 1`;

const ITRI_BLK_SERVER = `sudo gdb -ex 'set confirm off' --args x86_64-softmmu/qemu-system-x86_64 -drive \\
if=none,id=drive0,cache=none,aio=native,format=raw,file=/mnt/nfs/disk.img -device virtio-blk,drive=drive0,scsi=off -m 2G \\
-enable-kvm -net tap,ifname=tap0 -net \\
nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:50 -ft-join-port 5000 -vga std \\
-chardev socket,id=mon,path=/mnt/nfs/vm1.monitor,server,nowait -mon \\
chardev=mon,id=monitor,mode=readline -gft-id 0 -blk-server-listen :5000`;

// Cuju-ft/Cuju gft_script/run_ft @2757a9a, verbatim.
const GFT_RUN_FT = `sudo gdb -ex 'set confirm off' --args x86_64-softmmu/qemu-system-x86_64 -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img -device virtio-blk,drive=drive0,scsi=off \\
-m 2G -enable-kvm -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:21 -vga std \\
-chardev socket,id=mon,path=/mnt/nfs/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline -gft-id 0 -ft-join-port 5000
`;

/** run_ft2/run_ft3 as cuju-monitor.md §8 describes them: vmN, tapN-1, MAC :2N, -gft-id N-1, join 5000+2(N-1). */
function gftPrimary(n: number): string {
  const smp = n === 2 ? ' -smp 1' : '';
  return GFT_RUN_FT.replace(/drive0/g, `drive${n - 1}`)
    .replace('tap0', `tap${2 * (n - 1)}`)
    .replace('00:21', `00:2${n}`)
    .replace('vm1.monitor', `vm${n}.monitor`)
    .replace('-gft-id 0 -ft-join-port 5000', `-gft-id ${n - 1} -ft-join-port ${5000 + 2 * (n - 1)}${smp}`);
}

/** recv_b's sed (gft_script/recv_b @d7350ac), generalised to member n: backup port 4440+n, join port +1. */
function gftBackup(primary: string, n: number): string {
  const join = 5000 + 2 * (n - 1);
  return primary
    .replace('mode=readline', `mode=readline -incoming tcp:0:${4440 + n},ft_mode`)
    .replace(`vm${n}.monitor`, `vm${n}r.monitor`)
    .replace(`tap${2 * (n - 1)}`, `tap${2 * (n - 1) + 1}`)
    .replace(String(join), String(join + 1));
}

describe('seed command lines start cuju-sim', () => {
  it('runvm.sh (primary)', () => {
    const c = configOf(scriptArgv(RUNVM_SH));
    expect(c.monitors).toEqual([unixMonitor('/home/ubuntu/vm1.monitor')]);
    expect(c.incoming).toBeUndefined();
    expect(c.nics).toEqual([{ model: 'virtio', vlan: 0, macaddr: 'ae:ae:00:00:00:25' }]);
    expect(c).toMatchObject({ memoryMiB: 1024, smp: 1, enableKvm: true, gftId: -1, ftJoinPort: 5000 });
    expect(c.build).toBe('master');
    expect(c).toMatchObject({
      blkServer: undefined,
      blkServerListen: undefined,
      daemonize: false,
      startPaused: false,
    });
    expect(c.progName).toBe('qemu-system-x86_64');
  });

  it('recv.sh (backup, -incoming tcp:0:4441,ft_mode)', () => {
    const c = configOf(scriptArgv(RECV_SH));
    expect(c.monitors).toEqual([unixMonitor('/home/ubuntu/vm1r.monitor')]);
    expect(c.incoming).toMatchObject({ host: '0.0.0.0', port: 4441, ftMode: true });
    expect(c.nics[0]?.macaddr).toBe('ae:ae:00:00:00:25');
  });

  it('blk_server.sh (-ft-join-port 4000 -blk-server-listen :5001) on the blk-server build', () => {
    const c = configOf(scriptArgv(BLK_SERVER_SH), 'blk-server');
    expect(c).toMatchObject({
      build: 'blk-server',
      ftJoinPort: 4000,
      blkServerListen: ':5001',
      blkServer: undefined,
      incoming: undefined,
    });
    expect(c.monitors).toEqual([unixMonitor('/home/ubuntu/vm1.monitor')]);
  });

  it('blk_primary.sh (-blk-server IP:5001) on the blk-server build', () => {
    const c = configOf(scriptArgv(BLK_PRIMARY_SH), 'blk-server');
    expect(c).toMatchObject({
      blkServer: '192.168.105.2:5001',
      blkServerListen: undefined,
      incoming: undefined,
    });
  });

  it('blk_backup.sh (-incoming ...,ft_mode -blk-server IP:5001) on the blk-server build', () => {
    const c = configOf(scriptArgv(BLK_BACKUP_SH), 'blk-server');
    expect(c.incoming).toMatchObject({ host: '0.0.0.0', port: 4441, ftMode: true });
    expect(c.blkServer).toBe('192.168.105.2:5001');
    expect(c.monitors).toEqual([unixMonitor('/home/ubuntu/vm1r.monitor')]);
  });

  it('ITRI run_ft (aio=native, scsi=off, -m 2G, -ft-join-port 5000, -gft-id 0, -smp 1)', () => {
    const c = configOf(scriptArgv(ITRI_RUN_FT), 'groupft');
    expect(c.monitors).toEqual([unixMonitor('/mnt/nfs/chiyun-nfs/vm1.monitor')]);
    expect(c).toMatchObject({ memoryMiB: 2048, smp: 1, gftId: 0, ftJoinPort: 5000, incoming: undefined });
    expect(c.nics).toEqual([{ model: 'virtio', vlan: 0, macaddr: 'ae:ae:00:00:00:20' }]);
  });

  it('ITRI run_ft2 (-gft-id 1, -ft-join-port 5003)', () => {
    const c = configOf(scriptArgv(ITRI_RUN_FT2), 'groupft');
    expect(c.monitors).toEqual([unixMonitor('/mnt/nfs/chiyun-nfs/vm2.monitor')]);
    expect(c).toMatchObject({ gftId: 1, ftJoinPort: 5003, smp: 1 });
    expect(c.nics[0]?.macaddr).toBe('ae:ae:00:00:00:32');
  });

  it('ITRI recv, corrected to tcp:0:4441,ft_mode (as the repository recv_b writes it)', () => {
    const backup = ITRI_RUN_FT.replace('mode=readline', 'mode=readline -incoming tcp:0:4441,ft_mode').replace(
      'vm1.monitor',
      'vm1r.monitor',
    );
    const c = configOf(scriptArgv(backup), 'groupft');
    expect(c.incoming).toMatchObject({ host: '0.0.0.0', port: 4441, ftMode: true });
    expect(c.monitors).toEqual([unixMonitor('/mnt/nfs/chiyun-nfs/vm1r.monitor')]);
  });

  it("ITRI recv as printed (sed gives tcp::0::4441,ft_mode): refused as QEMU's inet_parse + getaddrinfo do", () => {
    const backup = ITRI_RUN_FT.replace('mode=readline', 'mode=readline -incoming tcp::0::4441,ft_mode');
    expect(errorOf(scriptArgv(backup), 'groupft')).toBe(
      'qemu-system-x86_64: -incoming tcp::0::4441,ft_mode: address resolution failed for :0::4441: Servname not supported for ai_socktype',
    );
  });

  it('ITRI remote storage server (-blk-server-listen :5000) and its VM (-blk-server IP:5000)', () => {
    const server = configOf(scriptArgv(ITRI_BLK_SERVER), 'blk-server');
    expect(server).toMatchObject({ blkServerListen: ':5000', gftId: 0, ftJoinPort: 5000 });
    expect(server.nics[0]?.macaddr).toBe('ae:ae:00:00:00:50');
    const vm = configOf([...scriptArgv(ITRI_RUN_FT), '-blk-server', '192.168.111.3:5000'], 'blk-server');
    expect(vm.blkServer).toBe('192.168.111.3:5000');
  });

  it('gft_script/run_ft (verbatim) and recv_b (its sed applied)', () => {
    const primary = configOf(scriptArgv(GFT_RUN_FT), 'groupft');
    expect(primary.monitors).toEqual([unixMonitor('/mnt/nfs/vm1.monitor')]);
    expect(primary).toMatchObject({ gftId: 0, ftJoinPort: 5000, memoryMiB: 2048, incoming: undefined });
    expect(primary.nics[0]?.macaddr).toBe('ae:ae:00:00:00:21');

    const backup = configOf(scriptArgv(gftBackup(GFT_RUN_FT, 1)), 'groupft');
    expect(backup.monitors).toEqual([unixMonitor('/mnt/nfs/vm1r.monitor')]);
    expect(backup).toMatchObject({ gftId: 0, ftJoinPort: 5001 });
    expect(backup.incoming).toMatchObject({ host: '0.0.0.0', port: 4441, ftMode: true });
  });

  it.each([2, 3])('gft run_ft%i-like primary and its recv_b%i-like backup', (n) => {
    const primaryScript = gftPrimary(n);
    const primary = configOf(scriptArgv(primaryScript), 'groupft');
    expect(primary.monitors).toEqual([unixMonitor(`/mnt/nfs/vm${n}.monitor`)]);
    expect(primary).toMatchObject({ gftId: n - 1, ftJoinPort: 5000 + 2 * (n - 1), incoming: undefined });
    expect(primary.nics[0]?.macaddr).toBe(`ae:ae:00:00:00:2${n}`);
    if (n === 2) expect(primary.smp).toBe(1);

    const backup = configOf(scriptArgv(gftBackup(primaryScript, n)), 'groupft');
    expect(backup.monitors).toEqual([unixMonitor(`/mnt/nfs/vm${n}r.monitor`)]);
    expect(backup).toMatchObject({ gftId: n - 1, ftJoinPort: 5000 + 2 * (n - 1) + 1 });
    expect(backup.incoming).toMatchObject({ host: '0.0.0.0', port: 4440 + n, ftMode: true });
  });
});

// ---------------------------------------------------------------------------------------

describe('option lookup (vl.c lookup_opt)', () => {
  it('uses the impersonated binary name', () => {
    expect(PROG_NAME).toBe('qemu-system-x86_64');
  });

  it.each([
    [['-foo'], 'qemu-system-x86_64: -foo: invalid option'],
    [['--foo'], 'qemu-system-x86_64: --foo: invalid option'],
    [['-'], 'qemu-system-x86_64: -: invalid option'],
    [['--'], 'qemu-system-x86_64: --: invalid option'],
    [['---m', '1G'], 'qemu-system-x86_64: ---m: invalid option'],
    [['-qmp-pretty', 'unix:/x'], 'qemu-system-x86_64: -qmp-pretty: invalid option'],
  ])('%j is an invalid option', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });

  const ARG_OPTIONS = [
    'drive',
    'device',
    'm',
    'net',
    'netdev',
    'cpu',
    'vga',
    'smp',
    'display',
    'chardev',
    'mon',
    'qmp',
    'monitor',
    'incoming',
    'pidfile',
    'name',
    'serial',
    'vnc',
    'k',
    'boot',
    'machine',
    'M',
    'sim-build',
    'sim-monitor-delay',
    'sim-drop-ft-links-after',
    'sim-crash-at',
    'sim-slow-epoch',
  ];
  it.each(ARG_OPTIONS)('-%s without its argument: requires an argument', (name) => {
    expect(errorOf([...MON, `-${name}`])).toBe(`qemu-system-x86_64: -${name}: requires an argument`);
    expect(errorOf([`--${name}`])).toBe(`qemu-system-x86_64: --${name}: requires an argument`);
  });

  it('accepts --opt as -opt', () => {
    const c = configOf(['--m', '2G', '--enable-kvm', '--chardev', MON[1] ?? '', '--mon', MON[3] ?? '']);
    expect(c).toMatchObject({ memoryMiB: 2048, enableKvm: true });
    expect(c.monitors).toHaveLength(1);
  });

  it('an unknown option anywhere wins over everything, even an earlier -h (first pass)', () => {
    expect(errorOf(['-h', '-foo'])).toBe('qemu-system-x86_64: -foo: invalid option');
    expect(errorOf(['-m', 'abc', '-foo'])).toBe('qemu-system-x86_64: -foo: invalid option');
    expect(errorOf(['-version', '-m'])).toBe('qemu-system-x86_64: -m: requires an argument');
  });

  it.each([['-h'], ['-help'], ['--help'], ['--h']])('%s asks for help', (opt) => {
    expect(parseArgv([opt])).toEqual({ help: true });
  });

  it.each([['-version'], ['--version']])('%s asks for the version', (opt) => {
    expect(parseArgv([opt])).toEqual({ version: true });
  });

  it('-h stops the second pass where it stands: later bad values are not seen, earlier ones are', () => {
    expect(parseArgv(['-h', '-m', 'abc', '-incoming', 'bogus'])).toEqual({ help: true });
    expect(parseArgv(['-incoming', 'bogus', '-version'])).toEqual({ version: true }); // -incoming is checked after the loop
    expect(errorOf(['-m', 'abc', '-h'])).toMatch(
      /^qemu-system-x86_64: -m abc: Parameter 'size' expects a size/,
    );
  });

  it('accepts and ignores disk images (words without a dash)', () => {
    expect(configOf(['/mnt/nfs/disk.img', ...MON]).monitors).toHaveLength(1);
  });

  it('throws ArgvError with code ARGV', () => {
    expect(() => parseArgv(['-foo'])).toThrow(ArgvError);
    try {
      parseArgv(['-foo']);
    } catch (err) {
      expect((err as ArgvError).code).toBe('ARGV');
    }
  });

  it('has the documented defaults with no options', () => {
    expect(configOf([])).toEqual({
      build: 'master',
      progName: 'qemu-system-x86_64',
      monitors: [],
      incoming: undefined,
      ftJoinPort: 5000,
      gftId: -1,
      blkServer: undefined,
      blkServerListen: undefined,
      memoryMiB: 128,
      smp: 1,
      nics: [],
      name: undefined,
      daemonize: false,
      pidfile: undefined,
      startPaused: false,
      enableKvm: false,
      sim: {
        monitorDelayMs: 0,
        stallGreeting: false,
        dropFtLinksAfterMs: undefined,
        crashAt: undefined,
        slowEpochMs: 0,
        stdoutBuffered: false,
        usr2DropsFtLinks: false,
      },
    });
  });
});

describe('-m', () => {
  it.each([
    ['1G', 1024],
    ['2G', 2048],
    ['1024', 1024],
    ['512M', 512],
    ['1GB', 1024], // 2.8 reads only the first suffix character
    ['1.5G', 1536],
    ['0', 128], // vl.c: "-m 0" means the default
    ['size=4G', 4096],
    ['1048576k', 1024],
    ['1000K', 1], // 8 KiB-aligned, then rounded up to a whole MiB
  ])('-m %s is %i MiB', (value, mib) => {
    expect(configOf(['-m', value]).memoryMiB).toBe(mib);
  });

  it('merges repeated -m (merge_lists): the last size wins', () => {
    expect(configOf(['-m', '1G', '-m', '2G']).memoryMiB).toBe(2048);
  });

  const SIZE_HINT = 'You may use k, M, G or T suffixes for kilobytes, megabytes, gigabytes and terabytes.';
  it.each([
    ['abc', `qemu-system-x86_64: -m abc: Parameter 'size' expects a size\n${SIZE_HINT}`],
    ['1X', `qemu-system-x86_64: -m 1X: Parameter 'size' expects a size\n${SIZE_HINT}`],
    ['512m', `qemu-system-x86_64: -m 512m: Parameter 'size' expects a size\n${SIZE_HINT}`], // only k may be lower-case
    ['-1G', "qemu-system-x86_64: -m -1G: Parameter 'size' expects a non-negative number below 2^64"],
    ['size=', "qemu-system-x86_64: -m size=: missing 'size' option value"],
    ['99999999999999', "qemu-system-x86_64: -m 99999999999999: too large 'size' option value"],
    ['1G,foo=1', "qemu-system-x86_64: -m 1G,foo=1: Invalid parameter 'foo'"],
    ['1G,slots=x', "qemu-system-x86_64: -m 1G,slots=x: Parameter 'slots' expects a number"],
    ['1G,slots=2', "qemu-system-x86_64: -m 1G,slots=2: invalid -m option value: missing 'maxmem' option"],
    ['1G,maxmem=2G', "qemu-system-x86_64: -m 1G,maxmem=2G: invalid -m option value: missing 'slots' option"],
    [
      '1G,maxmem=512M,slots=1',
      'qemu-system-x86_64: -m 1G,maxmem=512M,slots=1: invalid value of -m option maxmem: maximum memory size (0x20000000) must be at least the initial memory size (0x40000000)',
    ],
    [
      '1G,maxmem=2G,slots=0',
      'qemu-system-x86_64: -m 1G,maxmem=2G,slots=0: invalid value of -m option: maxmem was specified, but no hotplug slots were specified',
    ],
    [
      '1G,maxmem=1G,slots=2',
      'qemu-system-x86_64: -m 1G,maxmem=1G,slots=2: invalid value of -m option maxmem: memory slots were specified but maximum memory size (0x40000000) is equal to the initial memory size (0x40000000)',
    ],
  ])('-m %s is refused', (value, message) => {
    expect(errorOf(['-m', value])).toBe(message);
  });

  it('accepts maxmem with slots', () => {
    expect(configOf(['-m', '1G,maxmem=4G,slots=2']).memoryMiB).toBe(1024);
  });
});

describe('-smp', () => {
  it.each([
    ['1', 1],
    ['4', 4],
    ['0', 1],
    ['0x2', 2],
    ['cpus=2,sockets=1,cores=2,threads=1', 2],
    ['sockets=2,cores=2', 4],
    ['4,maxcpus=8', 4],
  ])('-smp %s is %i CPUs', (value, cpus) => {
    expect(configOf(['-smp', value]).smp).toBe(cpus);
  });

  it.each([
    ['abc', "qemu-system-x86_64: -smp abc: Parameter 'cpus' expects a number"],
    ['1.5', "qemu-system-x86_64: -smp 1.5: Parameter 'cpus' expects a number"],
    ['2,foo=1', "qemu-system-x86_64: -smp 2,foo=1: Invalid parameter 'foo'"],
    [
      '300',
      "qemu-system-x86_64: Number of SMP CPUs requested (300) exceeds max CPUs supported by machine 'pc-i440fx-2.8' (255)",
    ],
    ['cpus=4,maxcpus=2', 'qemu-system-x86_64: maxcpus must be equal to or greater than smp'],
    [
      'cpus=8,sockets=1,cores=2,threads=2',
      'qemu-system-x86_64: cpu topology: sockets (1) * cores (2) * threads (2) < smp_cpus (8)',
    ],
  ])('-smp %s is refused', (value, message) => {
    expect(errorOf(['-smp', value])).toBe(message);
  });
});

describe('-chardev and -mon', () => {
  const monitorsOf = (...argv: string[]): MonitorSpec[] => configOf(argv).monitors;

  it('server,nowait and server=on,wait=off are the same; server alone waits', () => {
    const nowait = monitorsOf('-chardev', 'socket,id=mon,path=/tmp/a,server,nowait', '-mon', 'chardev=mon');
    const wait = monitorsOf(
      '-chardev',
      'socket,id=mon,path=/tmp/a,server=on,wait=off',
      '-mon',
      'chardev=mon',
    );
    expect(nowait).toEqual([unixMonitor('/tmp/a')]);
    expect(wait).toEqual(nowait);
    expect(monitorsOf('-chardev', 'socket,id=mon,path=/tmp/a,server', '-mon', 'chardev=mon')).toEqual([
      unixMonitor('/tmp/a', { wait: true }),
    ]);
    expect(monitorsOf('-chardev', 'socket,id=mon,path=/tmp/a,server,wait=on', '-mon', 'mon')[0]?.wait).toBe(
      true,
    );
  });

  it('mode=control is QMP; no mode is readline; the implied key of -mon is chardev', () => {
    expect(
      monitorsOf('-chardev', 'socket,id=q,path=/tmp/q,server,nowait', '-mon', 'chardev=q,mode=control'),
    ).toEqual([unixMonitor('/tmp/q', { id: 'q', mode: 'control' })]);
    expect(monitorsOf('-chardev', 'socket,id=h,path=/tmp/h,server,nowait', '-mon', 'h')[0]?.mode).toBe(
      'readline',
    );
  });

  it('the TCP form: host and port, with an empty or 0 host meaning every address', () => {
    const tcp = (host: string) =>
      monitorsOf(
        '-chardev',
        `socket,id=m,host=${host},port=4444,server,nowait`,
        '-mon',
        'chardev=m,mode=control',
      )[0]?.listen;
    expect(tcp('127.0.0.1')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 4444 });
    expect(tcp('')).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 4444 });
    expect(tcp('0')).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 4444 });
    expect(tcp('localhost')).toEqual({ kind: 'tcp', host: 'localhost', port: 4444 });
  });

  it('keeps argv order and allows several monitors', () => {
    const monitors = monitorsOf(
      '-chardev',
      'socket,id=hmp,path=/tmp/h,server,nowait',
      '-chardev',
      'socket,id=qmp,path=/tmp/q,server,nowait',
      '-mon',
      'chardev=hmp,mode=readline',
      '-mon',
      'chardev=qmp,mode=control',
    );
    expect(monitors.map((m) => [m.id, m.mode])).toEqual([
      ['hmp', 'readline'],
      ['qmp', 'control'],
    ]);
  });

  it('ignores chardevs no monitor uses, client sockets included', () => {
    const c = configOf([
      '-chardev',
      'socket,id=c,host=10.0.0.1,port=9',
      '-chardev',
      'null,id=n',
      '-chardev',
      'stdio,id=s',
    ]);
    expect(c.monitors).toEqual([]);
  });

  it('unescapes ,, in values', () => {
    expect(
      monitorsOf('-chardev', 'socket,id=mon,path=/tmp/a,,b,server,nowait', '-mon', 'mon')[0]?.listen,
    ).toEqual({
      kind: 'unix',
      path: '/tmp/a,b',
    });
  });

  const ID_HINT = "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.";
  it.each([
    [
      ['-chardev', 'socket,id=mon,path=/x,server,nowait,bogus=1'],
      "qemu-system-x86_64: -chardev socket,id=mon,path=/x,server,nowait,bogus=1: Invalid parameter 'bogus'",
    ],
    [
      ['-chardev', 'socket,id=mon,path=/x,server=yes'],
      "qemu-system-x86_64: -chardev socket,id=mon,path=/x,server=yes: Parameter 'server' expects 'on' or 'off'",
    ],
    [
      ['-chardev', 'socket,id=1mon,path=/x,server'],
      `qemu-system-x86_64: -chardev socket,id=1mon,path=/x,server: Parameter 'id' expects an identifier\n${ID_HINT}`,
    ],
    [
      ['-chardev', 'socket,id=mon,path=/x,server', '-chardev', 'socket,id=mon,path=/y,server'],
      "qemu-system-x86_64: -chardev socket,id=mon,path=/y,server: Duplicate ID 'mon' for chardev",
    ],
    [
      ['-chardev', 'socket,path=/x,server'],
      'qemu-system-x86_64: -chardev socket,path=/x,server: chardev: no id specified',
    ],
    [['-chardev', 'id=mon'], 'qemu-system-x86_64: -chardev id=mon: chardev: "mon" missing backend'],
    [
      ['-chardev', 'bogus,id=mon'],
      'qemu-system-x86_64: -chardev bogus,id=mon: chardev: backend "bogus" not found',
    ],
    [
      ['-chardev', 'socket,id=mon,server,nowait'],
      'qemu-system-x86_64: -chardev socket,id=mon,server,nowait: chardev: socket: no host given',
    ],
    [
      ['-chardev', 'socket,id=mon,host=0,server,nowait'],
      'qemu-system-x86_64: -chardev socket,id=mon,host=0,server,nowait: chardev: socket: no port given',
    ],
    [
      ['-chardev', 'socket,id=mon,host=0,port=abc,server,nowait'],
      'qemu-system-x86_64: -chardev socket,id=mon,host=0,port=abc,server,nowait: address resolution failed for 0:abc: Servname not supported for ai_socktype',
    ],
    [
      ['-chardev', 'socket,id=mon,host=0,port=70000,server,nowait'],
      'qemu-system-x86_64: -chardev socket,id=mon,host=0,port=70000,server,nowait: port 70000 out of range',
    ],
    [
      ['-chardev', 'socket,id=mon,path=/x,server,tls-creds=t'],
      'qemu-system-x86_64: -chardev socket,id=mon,path=/x,server,tls-creds=t: TLS can only be used over TCP socket',
    ],
    [['-mon', 'chardev=x'], 'qemu-system-x86_64: -mon chardev=x: chardev "x" not found'],
    [['-mon', 'mode=readline'], "qemu-system-x86_64: -mon mode=readline: Parameter 'chardev' is missing"],
    [
      [...MON.slice(0, 2), '-mon', 'chardev=mon,mode=foo'],
      'qemu-system-x86_64: -mon chardev=mon,mode=foo: unknown monitor mode "foo"',
    ],
    [
      [...MON.slice(0, 2), '-mon', 'chardev=mon,bogus=1'],
      "qemu-system-x86_64: -mon chardev=mon,bogus=1: Invalid parameter 'bogus'",
    ],
    [
      [...MON.slice(0, 2), '-mon', 'chardev=mon,id=m', '-mon', 'chardev=mon,id=m'],
      "qemu-system-x86_64: -mon chardev=mon,id=m: Duplicate ID 'm' for mon",
    ],
    [
      [...MON, '-mon', 'chardev=mon,mode=control'],
      "qemu-system-x86_64: -mon chardev=mon,mode=control: Device 'mon' is in use",
    ],
  ])('%j is refused', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });

  it.each([
    [
      ['-chardev', 'socket,id=mon,path=/tmp/m', '-mon', 'chardev=mon'],
      "qemu-system-x86_64: -chardev socket,id=mon,path=/tmp/m: cuju-sim only listens: chardev 'mon' is a client socket (add server,nowait)",
    ],
    [
      ['-chardev', 'socket,id=mon,host=10.0.0.1,port=4444', '-mon', 'chardev=mon'],
      "qemu-system-x86_64: -chardev socket,id=mon,host=10.0.0.1,port=4444: cuju-sim only listens: chardev 'mon' is a client socket (add server,nowait)",
    ],
    [
      ['-chardev', 'stdio,id=mon', '-mon', 'chardev=mon'],
      "qemu-system-x86_64: -mon chardev=mon: cuju-sim serves monitors on socket chardevs only; chardev 'mon' is 'stdio'",
    ],
    [
      ['-chardev', 'socket,id=mon,host=0,port=4444,server,nowait,telnet', '-mon', 'chardev=mon'],
      "qemu-system-x86_64: -chardev socket,id=mon,host=0,port=4444,server,nowait,telnet: cuju-sim does not simulate 'telnet' on a monitor chardev",
    ],
    [
      ['-chardev', 'socket,id=mon,path=/tmp/m,server,nowait,mux=on', '-mon', 'chardev=mon'],
      "qemu-system-x86_64: -chardev socket,id=mon,path=/tmp/m,server,nowait,mux=on: cuju-sim does not simulate 'mux' on a monitor chardev",
    ],
    [
      ['-chardev', 'socket,id=mon,path=,server,nowait', '-mon', 'chardev=mon'],
      'qemu-system-x86_64: -chardev socket,id=mon,path=,server,nowait: cuju-sim needs an explicit unix socket path',
    ],
  ])('%j is valid QEMU that cuju-sim does not simulate: refused', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });
});

describe('-qmp and -monitor', () => {
  it('-qmp unix:PATH,server,nowait is a control monitor named compat_monitor0', () => {
    expect(configOf(['-qmp', 'unix:/tmp/q.sock,server,nowait']).monitors).toEqual([
      unixMonitor('/tmp/q.sock', { id: 'compat_monitor0', mode: 'control' }),
    ]);
  });

  it('-qmp tcp:HOST:PORT,server,nowait and tcp::PORT', () => {
    expect(configOf(['-qmp', 'tcp:127.0.0.1:4444,server,nowait']).monitors[0]?.listen).toEqual({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 4444,
    });
    expect(configOf(['-qmp', 'tcp::4444,server,nowait']).monitors[0]).toEqual({
      id: 'compat_monitor0',
      mode: 'control',
      listen: { kind: 'tcp', host: '0.0.0.0', port: 4444 },
      server: true,
      wait: false,
    });
    expect(configOf(['-qmp', 'tcp:localhost:4444,server']).monitors[0]?.wait).toBe(true);
  });

  it('-monitor is readline; compat monitors are numbered in order', () => {
    const c = configOf([
      '-monitor',
      'unix:/tmp/h.sock,server,nowait',
      '-qmp',
      'unix:/tmp/q.sock,server=on,wait=off',
    ]);
    expect(c.monitors).toEqual([
      unixMonitor('/tmp/h.sock', { id: 'compat_monitor0', mode: 'readline' }),
      unixMonitor('/tmp/q.sock', { id: 'compat_monitor1', mode: 'control' }),
    ]);
  });

  it('-monitor none (anything starting with none) makes no monitor', () => {
    expect(configOf(['-monitor', 'none']).monitors).toEqual([]);
  });

  it('-qmp chardev:ID uses an existing chardev', () => {
    expect(configOf([...MON.slice(0, 2), '-qmp', 'chardev:mon']).monitors).toEqual([
      unixMonitor('/tmp/vm1.monitor', { mode: 'control' }),
    ]);
    expect(errorOf(['-qmp', 'chardev:nope'])).toBe(
      'qemu-system-x86_64: -qmp chardev:nope: chardev "nope" not found',
    );
  });

  it('mixes with -mon', () => {
    const c = configOf([...MON, '-qmp', 'unix:/tmp/q,server,nowait']);
    expect(c.monitors.map((m) => `${m.id}:${m.mode}`)).toEqual(['mon:readline', 'compat_monitor0:control']);
  });

  it.each([
    [
      ['-qmp', 'garbage'],
      "qemu-system-x86_64: -qmp garbage: 'garbage' is not a valid char driver\nqemu-system-x86_64: -qmp garbage: parse error: garbage",
    ],
    [['-qmp', 'tcp:'], 'qemu-system-x86_64: -qmp tcp:: parse error: tcp:'],
    [
      ['-qmp', 'unix:/x,server,bogus=1'],
      "qemu-system-x86_64: -qmp unix:/x,server,bogus=1: Invalid parameter 'bogus'\nqemu-system-x86_64: -qmp unix:/x,server,bogus=1: parse error: unix:/x,server,bogus=1",
    ],
    [
      ['-qmp', 'unix:/tmp/q.sock'],
      "qemu-system-x86_64: -qmp unix:/tmp/q.sock: cuju-sim only listens: chardev 'compat_monitor0' is a client socket (add server,nowait)",
    ],
    [
      ['-monitor', 'stdio'],
      "qemu-system-x86_64: -monitor stdio: cuju-sim serves monitors on socket chardevs only; chardev 'compat_monitor0' is 'stdio'",
    ],
    [
      ['-monitor', 'telnet::4444,server,nowait'],
      "qemu-system-x86_64: -monitor telnet::4444,server,nowait: cuju-sim does not simulate 'telnet' on a monitor chardev",
    ],
    [
      ['-qmp', 'tcp::abc,server,nowait'],
      'qemu-system-x86_64: -qmp tcp::abc,server,nowait: address resolution failed for :abc: Servname not supported for ai_socktype',
    ],
  ])('%j is refused', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });
});

describe('-incoming', () => {
  const incoming = (uri: string) => configOf(['-incoming', uri]).incoming;

  it.each([
    ['tcp:0:4441,ft_mode', { host: '0.0.0.0', port: 4441, ftMode: true }],
    ['tcp::4441,ft_mode', { host: '0.0.0.0', port: 4441, ftMode: true }],
    ['tcp:192.168.111.2:4442,ft_mode', { host: '192.168.111.2', port: 4442, ftMode: true }],
    ['tcp:0:4441', { host: '0.0.0.0', port: 4441, ftMode: false }],
    ['tcp:0:4441,', { host: '0.0.0.0', port: 4441, ftMode: false }],
    ['tcp:0:4441,ft_mode,ipv4', { host: '0.0.0.0', port: 4441, ftMode: false }], // ft_mode must end the URI
    ['tcp:0:4441,xft_mode', { host: '0.0.0.0', port: 4441, ftMode: true }], // strstr + strcmp, as Cuju does
    ['tcp:[::1]:4441,ft_mode', { host: '::1', port: 4441, ftMode: true }],
    ['tcp:localhost:0', { host: 'localhost', port: 0, ftMode: false }],
  ])('-incoming %s', (uri, spec) => {
    expect(incoming(uri)).toEqual({ ...spec, text: uri });
  });

  it('the last -incoming wins', () => {
    expect(configOf(['-incoming', 'tcp:0:1', '-incoming', 'tcp:0:4441,ft_mode']).incoming?.port).toBe(4441);
  });

  it.each([
    [
      'tcp::0::4441,ft_mode',
      'qemu-system-x86_64: -incoming tcp::0::4441,ft_mode: address resolution failed for :0::4441: Servname not supported for ai_socktype',
    ],
    [
      'tcp:0:http',
      'qemu-system-x86_64: -incoming tcp:0:http: address resolution failed for 0:http: Servname not supported for ai_socktype',
    ],
    ['tcp:0:70000', 'qemu-system-x86_64: -incoming tcp:0:70000: port 70000 out of range'],
    ['tcp:0', "qemu-system-x86_64: -incoming tcp:0: error parsing address '0'"],
    ['tcp:', "qemu-system-x86_64: -incoming tcp:: error parsing address ''"],
    ['tcp::', "qemu-system-x86_64: -incoming tcp::: error parsing port in address ':'"],
    ['tcp:[::1', "qemu-system-x86_64: -incoming tcp:[::1: error parsing IPv6 address '[::1'"],
    ['tcp:0:4441,to=x', 'qemu-system-x86_64: -incoming tcp:0:4441,to=x: error parsing to= argument'],
    ['udp:0:4441', 'qemu-system-x86_64: -incoming udp:0:4441: unknown migration protocol: udp:0:4441'],
    ['0:4441', 'qemu-system-x86_64: -incoming 0:4441: unknown migration protocol: 0:4441'],
    [
      'unix:/tmp/m',
      'qemu-system-x86_64: -incoming unix:/tmp/m: cuju-sim simulates incoming migration over tcp: only',
    ],
    [
      'exec:cat',
      'qemu-system-x86_64: -incoming exec:cat: cuju-sim simulates incoming migration over tcp: only',
    ],
    ['defer', 'qemu-system-x86_64: -incoming defer: cuju-sim simulates incoming migration over tcp: only'],
  ])('-incoming %s is refused', (uri, message) => {
    expect(errorOf(['-incoming', uri])).toBe(message);
  });

  it('reports as -incoming even when typed --incoming (vl.c prints "-incoming %s: ")', () => {
    expect(errorOf(['--incoming', 'tcp:0'])).toBe(
      "qemu-system-x86_64: -incoming tcp:0: error parsing address '0'",
    );
  });

  it('is checked after everything else, as vl.c starts it last', () => {
    expect(errorOf(['-incoming', 'bogus', '-mon', 'chardev=x'])).toBe(
      'qemu-system-x86_64: -mon chardev=x: chardev "x" not found',
    );
  });
});

describe('-net and -netdev', () => {
  it('collects -net nic in order, canonical MACs; -net tap is accepted (no tap is created)', () => {
    const c = configOf([
      '-net',
      'tap,ifname=tap0,script=no,downscript=no',
      '-net',
      'nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25',
      '-net',
      'nic,model=e1000,macaddr=AE-AE-0-0-0-26',
      '-net',
      'nic',
    ]);
    expect(c.nics).toEqual([
      { model: 'virtio', vlan: 0, macaddr: 'ae:ae:00:00:00:25' },
      { model: 'e1000', macaddr: 'ae:ae:00:00:00:26' },
      {},
    ]);
  });

  it('-netdev with -device NICs: the device NICs follow the -net ones', () => {
    const c = configOf([
      '-netdev',
      'tap,id=n0,ifname=tap0',
      '-device',
      'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56',
      '-net',
      'nic,macaddr=ae:ae:00:00:00:21',
    ]);
    expect(c.nics).toEqual([
      { macaddr: 'ae:ae:00:00:00:21' },
      { model: 'virtio-net-pci', macaddr: '52:54:00:12:34:56' },
    ]);
  });

  it('accepts the other -net types without checking their keys', () => {
    expect(configOf(['-net', 'user,hostfwd=tcp::2222-:22', '-net', 'none']).nics).toEqual([]);
  });

  it.each([
    [
      ['-net', 'nic,model=virtio,vlan=0,macaddr=zz:ae:00:00:00:25'],
      'qemu-system-x86_64: -net nic,model=virtio,vlan=0,macaddr=zz:ae:00:00:00:25: invalid syntax for ethernet address',
    ],
    [
      ['-net', 'nic,macaddr=ae:ae:00:00:25'],
      'qemu-system-x86_64: -net nic,macaddr=ae:ae:00:00:25: invalid syntax for ethernet address',
    ],
    [
      ['-net', 'nic,macaddr=ae:ae:00:00:00:250'],
      'qemu-system-x86_64: -net nic,macaddr=ae:ae:00:00:00:250: invalid syntax for ethernet address',
    ],
    [['-net', 'nic,macaddr='], 'qemu-system-x86_64: -net nic,macaddr=: invalid syntax for ethernet address'],
    [
      ['-net', 'nic,macaddr=af:ae:00:00:00:25'],
      'qemu-system-x86_64: -net nic,macaddr=af:ae:00:00:00:25: NIC cannot have multicast MAC address (odd 1st byte)',
    ],
    [
      ['-net', 'nic,vlan=abc'],
      "qemu-system-x86_64: -net nic,vlan=abc: Parameter 'vlan' expects an int64 value",
    ],
    [['-net', 'bogus'], "qemu-system-x86_64: -net bogus: Invalid parameter 'bogus'"],
    [['-net', 'vlan=0'], "qemu-system-x86_64: -net vlan=0: Parameter 'type' is missing"],
    [['-net', 'nic,bogus=1'], "qemu-system-x86_64: -net nic,bogus=1: Invalid parameter 'bogus'"],
    [
      ['-net', 'tap,ifname=tap0,bogus=1'],
      "qemu-system-x86_64: -net tap,ifname=tap0,bogus=1: Invalid parameter 'bogus'",
    ],
    [['-net', 'nic,netdev=n0'], "qemu-system-x86_64: -net nic,netdev=n0: netdev 'n0' not found"],
    [
      ['-netdev', 'tap,ifname=tap0'],
      "qemu-system-x86_64: -netdev tap,ifname=tap0: Parameter 'id' is missing",
    ],
    [
      ['-netdev', 'nic,id=n0'],
      "qemu-system-x86_64: -netdev nic,id=n0: Parameter 'type' expects a netdev backend type",
    ],
    [['-netdev', 'bogus,id=n0'], "qemu-system-x86_64: -netdev bogus,id=n0: Invalid parameter 'bogus'"],
    [
      ['-netdev', 'tap,id=n0', '-netdev', 'tap,id=n0'],
      "qemu-system-x86_64: -netdev tap,id=n0: Duplicate ID 'n0' for netdev",
    ],
    [
      ['-device', 'virtio-net-pci,netdev=nope'],
      "qemu-system-x86_64: -device virtio-net-pci,netdev=nope: Property 'virtio-net-device.netdev' can't find value 'nope'",
    ],
    [
      ['-device', 'e1000,mac=zz'],
      "qemu-system-x86_64: -device e1000,mac=zz: Property 'e1000.mac' doesn't take value 'zz'",
    ],
  ])('%j is refused', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });
});

describe('-drive and -device', () => {
  it('accepts the seed forms; the file need not exist', () => {
    const c = configOf([
      '-drive',
      'if=none,id=drive0,cache=none,aio=native,format=raw,file=/does/not/exist.img',
      '-device',
      'virtio-blk,drive=drive0,scsi=off',
      '-drive',
      'file=/a,,b.qcow2,format=qcow2,if=virtio,snapshot=on',
      '-drive',
      'if=none,id=d2,aio=native,cache.direct=on',
      '-device',
      'virtio-blk-pci,drive=d2',
    ]);
    expect(c.nics).toEqual([]);
  });

  it.each([
    [['-drive', 'if=foo,file=x'], "qemu-system-x86_64: -drive if=foo,file=x: unsupported bus type 'foo'"],
    [['-drive', 'cache=bogus,file=x'], 'qemu-system-x86_64: -drive cache=bogus,file=x: invalid cache option'],
    [['-drive', 'aio=bogus,file=x'], 'qemu-system-x86_64: -drive aio=bogus,file=x: invalid aio option'],
    [
      ['-drive', 'if=none,id=d,aio=native,file=x'],
      'qemu-system-x86_64: -drive if=none,id=d,aio=native,file=x: aio=native was specified, but it requires cache.direct=on, which was not specified.',
    ],
    [
      ['-drive', 'format=bogus,file=x'],
      "qemu-system-x86_64: -drive format=bogus,file=x: Unknown driver 'bogus'",
    ],
    [
      ['-drive', 'media=floppy,file=x'],
      "qemu-system-x86_64: -drive media=floppy,file=x: 'floppy' invalid media",
    ],
    [
      ['-drive', 'snapshot=yes,file=x'],
      "qemu-system-x86_64: -drive snapshot=yes,file=x: Parameter 'snapshot' expects 'on' or 'off'",
    ],
    [['-drive', '=x'], "qemu-system-x86_64: -drive =x: Invalid parameter ''"],
    [
      ['-drive', 'id=1d,file=x'],
      "qemu-system-x86_64: -drive id=1d,file=x: Parameter 'id' expects an identifier\nIdentifiers consist of letters, digits, '-', '.', '_', starting with a letter.",
    ],
    [
      ['-drive', 'if=none,id=drive0', '-drive', 'if=none,id=drive0'],
      "qemu-system-x86_64: -drive if=none,id=drive0: Duplicate ID 'drive0' for drive",
    ],
    [
      ['-device', 'virtio-blk,drive=nope'],
      "qemu-system-x86_64: -device virtio-blk,drive=nope: Property 'virtio-blk-device.drive' can't find value 'nope'",
    ],
    [['-device', 'drive=drive0'], "qemu-system-x86_64: -device drive=drive0: Parameter 'driver' is missing"],
    [['-device', ',scsi=off'], "qemu-system-x86_64: -device ,scsi=off: '' is not a valid device model name"],
  ])('%j is refused', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });
});

describe('-vga, -display and the harmless extras', () => {
  it('accepts what QEMU users pass', () => {
    const c = configOf([
      '-S',
      '-nodefaults',
      '-serial',
      'none',
      '-vnc',
      ':1',
      '-nographic',
      '-k',
      'en-us',
      '-boot',
      'order=c,menu=on',
      '-boot',
      'c',
      '-machine',
      'pc,accel=kvm',
      '-M',
      'pc',
      '-cpu',
      'host',
      '-vga',
      'std,retrace=precise',
      '-display',
      'none',
      '-display',
      'vnc=:2',
      '-display',
      'sdl',
    ]);
    expect(c).toMatchObject({ startPaused: true, enableKvm: true });
  });

  it('-machine accel=kvm:tcg enables KVM; accel=tcg does not', () => {
    expect(configOf(['-machine', 'accel=kvm:tcg']).enableKvm).toBe(true);
    expect(configOf(['-M', 'pc,accel=tcg']).enableKvm).toBe(false);
  });

  it.each(['std', 'cirrus', 'vmware', 'qxl', 'virtio', 'none'])('-vga %s', (vga) => {
    expect(() => configOf(['-vga', vga])).not.toThrow();
  });

  it.each([
    [['-vga', 'foo'], 'qemu-system-x86_64: unknown vga type: foo'],
    [['-vga', 'stdx'], 'qemu-system-x86_64: unknown vga type: stdx'],
    [['-vga', 'std,retrace=fast'], 'qemu-system-x86_64: unknown vga type: std,retrace=fast'],
    [['-display', 'foo'], 'qemu-system-x86_64: -display foo: Unknown display type'],
    [['-display', 'vnc'], 'qemu-system-x86_64: -display vnc: VNC requires a display argument vnc=<display>'],
    [['-boot', 'menu=maybe'], "qemu-system-x86_64: -boot menu=maybe: Parameter 'menu' expects 'on' or 'off'"],
    [['-boot', 'c,bogus=1'], "qemu-system-x86_64: -boot c,bogus=1: Invalid parameter 'bogus'"],
  ])('%j is refused', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });
});

describe('-sim-build and the options each build knows', () => {
  it.each(['master', 'groupft', 'blk-server'] as const)(
    '-sim-build %s (anywhere on the line; the last wins)',
    (build) => {
      expect(configOf(['-m', '1G', '-sim-build', build]).build).toBe(build);
      expect(configOf(['--sim-build', 'groupft', '-sim-build', build]).build).toBe(build);
    },
  );

  it('refuses an unknown build before anything else, naming the builds', () => {
    expect(errorOf(['-foo', '-sim-build', 'watchdog'])).toBe(
      "qemu-system-x86_64: -sim-build watchdog: Parameter 'sim-build' expects one of master, groupft, blk-server",
    );
  });

  // cuju-builds.md §3: master rejects all four as invalid options; groupft has the first two.
  const CUJU_OPTIONS: Array<[string, string]> = [
    ['-ft-join-port', '5001'],
    ['-gft-id', '1'],
    ['-blk-server', '192.168.105.2:5001'],
    ['-blk-server-listen', ':5001'],
  ];
  const ACCEPTED = {
    master: [],
    groupft: ['-ft-join-port', '-gft-id'],
    'blk-server': ['-ft-join-port', '-gft-id', '-blk-server', '-blk-server-listen'],
  } as const;
  it.each(['master', 'groupft', 'blk-server'] as const)(
    'the %s build accepts exactly its Cuju options; the others are invalid options, even missing their argument',
    (build) => {
      for (const [option, value] of CUJU_OPTIONS) {
        if ((ACCEPTED[build] as readonly string[]).includes(option)) {
          expect(() => configOf([option, value], build)).not.toThrow();
          expect(errorOf([...MON, option], build)).toBe(
            `qemu-system-x86_64: ${option}: requires an argument`,
          );
        } else {
          expect(errorOf([option, value], build)).toBe(`qemu-system-x86_64: ${option}: invalid option`);
          expect(errorOf([`-${option}`, value], build)).toBe(
            `qemu-system-x86_64: -${option}: invalid option`,
          );
          expect(errorOf([...MON, option], build)).toBe(`qemu-system-x86_64: ${option}: invalid option`);
        }
      }
    },
  );

  it('-sim-gft-resync is gone: GFT_RESYNC is off at the groupft tip, and no build has a switch for it', () => {
    expect(errorOf(['-sim-gft-resync', 'on'], 'groupft')).toBe(
      'qemu-system-x86_64: -sim-gft-resync: invalid option',
    );
  });
});

describe("Cuju's options (blk-server, the build that has all four)", () => {
  it.each([
    [['-ft-join-port', '5001'], { ftJoinPort: 5001 }],
    [['-ft-join-port', '65535'], { ftJoinPort: 65535 }],
    [['-gft-id', '0'], { gftId: 0 }],
    [['-gft-id', '9'], { gftId: 9 }],
    [['-blk-server', '192.168.105.2:5001'], { blkServer: '192.168.105.2:5001' }],
    [['-blk-server', 'blkserver.local:5001'], { blkServer: 'blkserver.local:5001' }],
    [['-blk-server-listen', ':5001'], { blkServerListen: ':5001' }],
    [['-blk-server-listen', '0.0.0.0:5001'], { blkServerListen: '0.0.0.0:5001' }],
  ])('%j', (argv, fields) => {
    expect(configOf(argv, 'blk-server')).toMatchObject(fields);
  });

  it.each(['abc', '0', '65536', '', '-1', '5000x', '+5000'])('-ft-join-port %j is refused', (value) => {
    expect(errorOf(['-ft-join-port', value], 'blk-server')).toBe(
      `qemu-system-x86_64: -ft-join-port ${value}: Parameter 'ft-join-port' expects a port number (1-65535)`,
    );
  });

  it.each(['x', '-1', '1.5', '', '2147483648', ' 1'])('-gft-id %j is refused', (value) => {
    expect(errorOf(['-gft-id', value], 'blk-server')).toBe(
      `qemu-system-x86_64: -gft-id ${value}: Parameter 'gft-id' expects a non-negative integer`,
    );
  });

  it.each([
    '192.168.105.2',
    ':5001',
    '192.168.105.2:0',
    '192.168.105.2:abc',
    '192.168.105.2:70000',
    '[server IP]:5001',
  ])('-blk-server %j is refused', (value) => {
    expect(errorOf(['-blk-server', value], 'blk-server')).toBe(
      `qemu-system-x86_64: -blk-server ${value}: Parameter 'blk-server' expects IP:PORT`,
    );
  });

  it.each(['5001', ':0', ':x', '', 'a:b:5001'])('-blk-server-listen %j is refused', (value) => {
    expect(errorOf(['-blk-server-listen', value], 'blk-server')).toBe(
      `qemu-system-x86_64: -blk-server-listen ${value}: Parameter 'blk-server-listen' expects [IP]:PORT`,
    );
  });
});

describe('process options', () => {
  it('-daemonize, -pidfile, -name, -S', () => {
    const c = configOf(['-daemonize', '-pidfile', '/tmp/vm1.pid', '-name', 'vm1', '-S']);
    expect(c).toMatchObject({ daemonize: true, pidfile: '/tmp/vm1.pid', name: 'vm1', startPaused: true });
  });

  it('-name guest=...,process=... and merged -name', () => {
    expect(configOf(['-name', 'guest=vm2,process=qemu-vm2,debug-threads=on']).name).toBe('vm2');
    expect(configOf(['-name', 'vm1', '-name', 'process=p']).name).toBe('vm1');
  });

  it('-daemonize with -nographic needs -nodefaults', () => {
    expect(errorOf(['-daemonize', '-nographic'])).toBe(
      'qemu-system-x86_64: -nographic cannot be used with -daemonize',
    );
    expect(configOf(['-daemonize', '-nographic', '-nodefaults']).daemonize).toBe(true);
  });

  it.each([
    [['-name', 'vm1,bogus=1'], "qemu-system-x86_64: -name vm1,bogus=1: Invalid parameter 'bogus'"],
    [
      ['-name', 'vm1,debug-threads=maybe'],
      "qemu-system-x86_64: -name vm1,debug-threads=maybe: Parameter 'debug-threads' expects 'on' or 'off'",
    ],
    [['-pidfile', ''], 'qemu-system-x86_64: could not acquire pid file: No such file or directory'],
  ])('%j is refused', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });
});

describe('-sim-* fault injection (cuju-sim only)', () => {
  it('parses every -sim-* option', () => {
    const c = configOf([
      '-sim-monitor-delay',
      '250',
      '-sim-stall-greeting',
      '-sim-drop-ft-links-after',
      '1000',
      '-sim-crash-at',
      'ft-first-epoch',
      '--sim-slow-epoch',
      '20',
      '-sim-stdout-buffered',
      '-sim-usr2-drops-ft-links',
    ]);
    expect(c.sim).toEqual({
      monitorDelayMs: 250,
      stallGreeting: true,
      dropFtLinksAfterMs: 1000,
      usr2DropsFtLinks: true,
      crashAt: 'ft-first-epoch',
      slowEpochMs: 20,
      stdoutBuffered: true,
    });
    expect(configOf(MON).sim.stdoutBuffered).toBe(false);
  });

  it('zero delays, and the largest timer value', () => {
    const c = configOf(['-sim-monitor-delay', '0', '-sim-drop-ft-links-after', '2147483647']);
    expect(c.sim).toMatchObject({ monitorDelayMs: 0, dropFtLinksAfterMs: 2147483647 });
  });

  it.each(CRASH_STEPS)('-sim-crash-at %s', (step) => {
    expect(configOf(['-sim-crash-at', step]).sim.crashAt).toBe(step);
  });

  it.each([
    ['sim-monitor-delay', 'abc'],
    ['sim-monitor-delay', '-1'],
    ['sim-monitor-delay', '1.5'],
    ['sim-drop-ft-links-after', '2147483648'],
    ['sim-drop-ft-links-after', ''],
    ['sim-slow-epoch', '5ms'],
  ])('-%s %j is refused', (option, value) => {
    expect(errorOf([`-${option}`, value])).toBe(
      `qemu-system-x86_64: -${option} ${value}: Parameter '${option}' expects milliseconds (0-2147483647)`,
    );
  });

  it('-sim-crash-at names its steps when refusing', () => {
    expect(errorOf(['-sim-crash-at', 'boom'])).toBe(
      "qemu-system-x86_64: -sim-crash-at boom: Parameter 'sim-crash-at' expects one of ft-connect, ft-initial-sync, ft-first-epoch, gft-init, gft-join",
    );
  });

  it('-sim-stall-greeting and -sim-stdout-buffered take no argument', () => {
    expect(configOf(['-sim-stall-greeting', ...MON]).sim.stallGreeting).toBe(true);
    expect(configOf(['-sim-stdout-buffered', ...MON]).sim.stdoutBuffered).toBe(true);
  });
});
