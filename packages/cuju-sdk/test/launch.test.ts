import { describe, expect, it } from 'vitest';
// cuju-sim parses argv the way Cuju's vl.c does (its own tests hold it to that): a line it
// refuses would be refused by Cuju too.
import { parseArgv } from '../../cuju-sim/src/argv.js';
import { CujuArgumentError } from '../src/errors.js';
import { blockClientArgv, blockServerArgv, primaryArgv, receiverArgv } from '../src/launch.js';
import type { CujuVmSpec } from '../src/spec.js';

/**
 * A script's command line as the seed prints it (one line, ` \ ` where the script breaks
 * lines): without `sudo`, gdb and the binary, continuations joined.
 */
function scriptLine(text: string): string {
  return text
    .replace(/\\\s+/g, ' ')
    .replace(
      /^sudo (?:gdb -ex 'set confirm off' (?:-ex run )?--args )?(?:\.\/)?x86_64-softmmu\/qemu-system-x86_64 /,
      '',
    )
    .replace(/\s+/g, ' ')
    .trim();
}

/** `-opt value` groups as a sorted list: the same options, whatever their order. */
function optionSet(line: string): string[] {
  const words = line.split(' ');
  const groups: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    const next = words[i + 1];
    if (next !== undefined && !next.startsWith('-')) {
      groups.push(`${word} ${next}`);
      i++;
    } else groups.push(word);
  }
  return groups.sort();
}

/** Moves `option` (text like `-cpu host`) to just before `before`, or to the end. */
function moveOption(line: string, option: string, before?: string): string {
  expect(line).toContain(` ${option}`);
  const without = line.replace(` ${option}`, '');
  return before === undefined
    ? `${without} ${option}`
    : without.replace(` ${before}`, ` ${option} ${before}`);
}

// ---------------------------------------------------------------------------------------
// The seeds' lines, verbatim (seed 000: the Cuju lab manual; seed 002: the ITRI guide).

const RUNVM_SH = scriptLine(
  String.raw`sudo ./x86_64-softmmu/qemu-system-x86_64 \ -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \ -device virtio-blk,drive=drive0 \ -m 1G -enable-kvm \ -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \ -cpu host \ -vga std -chardev socket,id=mon,path=/home/[your username]/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline`,
);

const RECV_SH = scriptLine(
  String.raw`sudo x86_64-softmmu/qemu-system-x86_64 \ -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \ -device virtio-blk,drive=drive0 \ -m 1G -enable-kvm \ -net tap,ifname=tap1 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \ -vga std -chardev socket,id=mon,path=/home/[your username]/vm1r.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \ -cpu host \ -incoming tcp:0:4441,ft_mode`,
);

const BLK_SERVER_SH = scriptLine(
  String.raw`sudo ./x86_64-softmmu/qemu-system-x86_64 \ -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \ -device virtio-blk,drive=drive0 \ -m 1G -enable-kvm \ -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \ -cpu host \ -vga std -chardev socket,id=mon,path=/home/[your username]/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \ -ft-join-port 4000 -blk-server-listen :5001`,
);

// `[server IP]` is the manual's placeholder; 192.168.105.2 is server2's 10G address there.
const SERVER_IP = '192.168.105.2';
const BLK_PRIMARY_SH = scriptLine(
  String.raw`sudo ./x86_64-softmmu/qemu-system-x86_64 \ -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \ -device virtio-blk,drive=drive0 \ -m 1G -enable-kvm \ -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \ -cpu host \ -vga std -chardev socket,id=mon,path=/home/[your username]/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \ -blk-server [server IP]:5001`,
).replace('[server IP]', SERVER_IP);

const BLK_BACKUP_SH = scriptLine(
  String.raw`sudo x86_64-softmmu/qemu-system-x86_64 \ -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \ -device virtio-blk,drive=drive0 \ -m 1G -enable-kvm \ -net tap,ifname=tap1 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \ -vga std -chardev socket,id=mon,path=/home/[your username]/vm1r.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \ -cpu host \ -incoming tcp:0:4441,ft_mode \ -blk-server [server IP]:5001`,
).replace('[server IP]', SERVER_IP);

// Seed 002's run_ft, a PDF extract: its line breaks (`Ubuntu20G- \ 1604.img`, `-net \ nic,...`,
// `-mon \ chardev=...`) fall inside words and are joined back here; the trailing
// `# ./run_ft` / `(gdb) r` lines are the manual's, not the script's.
const ITRI_RUN_FT = scriptLine(
  "sudo gdb -ex 'set confirm off' --args x86_64-softmmu/qemu-system-x86_64 " +
    '-drive if=none,id=drive0,cache=none,aio=native,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img ' +
    '-device virtio-blk,drive=drive0,scsi=off -m 2G -enable-kvm -net tap,ifname=tap0 ' +
    '-net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:20 -ft-join-port 5000 -vga std ' +
    '-chardev socket,id=mon,path=/mnt/nfs/chiyun-nfs/vm1.monitor,server,nowait ' +
    '-mon chardev=mon,id=monitor,mode=readline -gft-id 0 -smp 1',
);

// The Cuju repository's gft_script/run_ft and sql_ft (@2757a9a), which reference §8 describes.
const CUJU_RUN_FT =
  scriptLine(String.raw`sudo gdb -ex 'set confirm off' --args x86_64-softmmu/qemu-system-x86_64 -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img -device virtio-blk,drive=drive0,scsi=off \
-m 2G -enable-kvm -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:21 -vga std \
-chardev socket,id=mon,path=/mnt/nfs/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline -gft-id 0 -ft-join-port 5000`);

const CUJU_SQL_FT =
  scriptLine(String.raw`sudo gdb -ex 'set confirm off' --args x86_64-softmmu/qemu-system-x86_64 \
-drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/sql2.img \
-device virtio-blk,drive=drive0,scsi=off -m 2G -enable-kvm -net tap,ifname=tap2 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:22 \
-vga std -chardev socket,id=mon,path=/mnt/nfs/vm2.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline -gft-id 1 -ft-join-port 5002 -smp 1 `);

// ---------------------------------------------------------------------------------------
// The seeds' values as specs

const IMAGE = '/mnt/nfs/Ubuntu20G-1604.img';
const MAC = 'ae:ae:00:00:00:25';

const primary: CujuVmSpec = {
  image: IMAGE,
  memory: '1G',
  nic: { tap: 'tap0', mac: MAC },
  monitorPath: '/home/[your username]/vm1.monitor',
};
const backup: CujuVmSpec = {
  ...primary,
  nic: { tap: 'tap1', mac: MAC },
  monitorPath: '/home/[your username]/vm1r.monitor',
};
const gftPrimary: CujuVmSpec = {
  image: IMAGE,
  drive: { scsi: false },
  memory: '2G',
  cpu: null,
  nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:21' },
  monitorPath: '/mnt/nfs/vm1.monitor',
  gftId: 0,
  joinPort: 5000,
};

const line = (argv: string[]) => argv.join(' ');

describe('primaryArgv', () => {
  it('compares with the bare options of the seed lines', () => {
    for (const seed of [
      RUNVM_SH,
      RECV_SH,
      BLK_SERVER_SH,
      BLK_PRIMARY_SH,
      BLK_BACKUP_SH,
      ITRI_RUN_FT,
      CUJU_RUN_FT,
    ]) {
      expect(seed.startsWith('-drive if=none,id=drive0,')).toBe(true);
      expect(seed).not.toMatch(/sudo|gdb|qemu-system|\\| {2}/);
    }
  });

  it("is runvm.sh's line", () => {
    expect(line(primaryArgv(primary))).toBe(RUNVM_SH);
  });

  it('keeps a path with a space as one argument (argv, no shell)', () => {
    const argv = primaryArgv(primary);
    expect(argv[argv.indexOf('-chardev') + 1]).toBe(
      'socket,id=mon,path=/home/[your username]/vm1.monitor,server,nowait',
    );
  });

  it("is blk_primary.sh's line with a blockServer", () => {
    expect(line(primaryArgv({ ...primary, blockServer: { host: SERVER_IP, port: 5001 } }))).toBe(
      BLK_PRIMARY_SH,
    );
  });

  it("is Cuju's gft_script/run_ft and sql_ft (no -cpu, scsi=off, -gft-id then -ft-join-port then -smp)", () => {
    expect(line(primaryArgv(gftPrimary))).toBe(CUJU_RUN_FT);
    const sql: CujuVmSpec = {
      ...gftPrimary,
      image: '/mnt/nfs/sql2.img',
      nic: { tap: 'tap2', mac: 'ae:ae:00:00:00:22' },
      monitorPath: '/mnt/nfs/vm2.monitor',
      gftId: 1,
      joinPort: 5002,
      smp: 1,
    };
    expect(line(primaryArgv(sql))).toBe(CUJU_SQL_FT);
  });

  it("is the ITRI guide's run_ft but for where -ft-join-port stands (that guide puts it before -vga)", () => {
    const itri: CujuVmSpec = {
      ...gftPrimary,
      drive: { aio: 'native', scsi: false },
      nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:20' },
      monitorPath: '/mnt/nfs/chiyun-nfs/vm1.monitor',
      smp: 1,
    };
    const ours = line(primaryArgv(itri));
    expect(optionSet(ours)).toEqual(optionSet(ITRI_RUN_FT));
    expect(moveOption(ours, '-ft-join-port 5000', '-vga std')).toBe(ITRI_RUN_FT);
  });

  it('gives no -drive/-device without an image (cuju-sim, the demo)', () => {
    expect(primaryArgv({ monitorPath: '/tmp/vm1.monitor', kvm: false })).toEqual([
      '-cpu',
      'host',
      '-vga',
      'std',
      '-chardev',
      'socket,id=mon,path=/tmp/vm1.monitor,server,nowait',
      '-mon',
      'chardev=mon,id=monitor,mode=readline',
    ]);
  });

  it('adds -name, -qmp, -smp and extra arguments; a number of MiB is written with M', () => {
    const argv = primaryArgv({
      name: 'vm1',
      memory: 512,
      smp: 2,
      cpu: null,
      vga: null,
      kvm: false,
      monitorPath: 'vm1.monitor',
      qmpPath: 'vm1.qmp',
      extraArgs: ['-display', 'none'],
    });
    expect(line(argv)).toBe(
      '-name vm1 -m 512M -chardev socket,id=mon,path=vm1.monitor,server,nowait ' +
        '-mon chardev=mon,id=monitor,mode=readline -qmp unix:vm1.qmp,server,nowait -smp 2 -display none',
    );
  });

  it('writes a NIC model and the drive options it is given', () => {
    const argv = line(
      primaryArgv({
        ...primary,
        drive: { aio: 'threads', scsi: true },
        nic: { tap: 't0', mac: MAC, model: 'e1000' },
      }),
    );
    expect(argv).toContain(
      '-drive if=none,id=drive0,cache=none,aio=threads,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img',
    );
    expect(argv).toContain('-device virtio-blk,drive=drive0,scsi=on');
    expect(argv).toContain('-net nic,model=e1000,vlan=0,macaddr=ae:ae:00:00:00:25');
  });
});

describe('receiverArgv', () => {
  it("is what recv.sh's sed makes of runvm.sh (-incoming after the monitor, vm1r.monitor, tap1)", () => {
    const sed = RUNVM_SH.replace(/mode=readline/g, 'mode=readline -incoming tcp:0:4441,ft_mode')
      .replace(/vm1\.monitor/g, 'vm1r.monitor')
      .replace(/tap0/g, 'tap1');
    expect(line(receiverArgv(backup, { port: 4441 }))).toBe(sed);
  });

  it("is recv.sh's line but for where -cpu stands (recv.sh moved it after the monitor)", () => {
    const ours = line(receiverArgv(backup, { port: 4441 }));
    expect(optionSet(ours)).toEqual(optionSet(RECV_SH));
    expect(moveOption(RECV_SH, '-cpu host', '-vga std')).toBe(ours);
  });

  it('puts -incoming last, after the block server and the extra arguments', () => {
    const argv = receiverArgv(
      { ...backup, blockServer: { host: SERVER_IP, port: 5001 }, extraArgs: ['-display', 'none'] },
      { port: 4441 },
    );
    expect(argv.slice(-2)).toEqual(['-incoming', 'tcp:0:4441,ft_mode']);
  });

  it('is blk_backup.sh (a backup using the block server) with -incoming moved last', () => {
    const ours = line(
      receiverArgv({ ...backup, blockServer: { host: SERVER_IP, port: 5001 } }, { port: 4441 }),
    );
    expect(optionSet(ours)).toEqual(optionSet(BLK_BACKUP_SH));
    const reordered = moveOption(
      moveOption(BLK_BACKUP_SH, '-cpu host', '-vga std'),
      '-incoming tcp:0:4441,ft_mode',
    );
    expect(reordered).toBe(ours);
  });

  it("is gft_script/recv_b's sed of run_ft with -incoming moved last (join port taken as given)", () => {
    const recvB = CUJU_RUN_FT.replace(/mode=readline/g, 'mode=readline -incoming tcp:0:4441,ft_mode')
      .replace(/vm1\.monitor/g, 'vm1r.monitor')
      .replace(/tap0/g, 'tap1')
      .replace(/5000/g, '5001');
    const gftBackup: CujuVmSpec = {
      ...gftPrimary,
      nic: { tap: 'tap1', mac: 'ae:ae:00:00:00:21' },
      monitorPath: '/mnt/nfs/vm1r.monitor',
      joinPort: 5001,
    };
    expect(moveOption(recvB, '-incoming tcp:0:4441,ft_mode')).toBe(
      line(receiverArgv(gftBackup, { port: 4441 })),
    );
  });

  it('listens on a given address', () => {
    expect(receiverArgv(backup, { port: 4442, host: '192.168.111.2' }).at(-1)).toBe(
      'tcp:192.168.111.2:4442,ft_mode',
    );
  });

  it('refuses a bad port or host, and a block server as receiver', () => {
    expect(() => receiverArgv(backup, { port: 0 })).toThrow(
      'incoming.port must be an integer 1-65535, got 0',
    );
    expect(() => receiverArgv(backup, { port: 4441, host: 'backup.lan' })).toThrow(/^incoming\.host must be/);
    expect(() => receiverArgv({ ...backup, blockServerListen: 5001 }, { port: 4441 })).toThrow(
      /^spec\.blockServerListen cannot be set on a receiver/,
    );
  });
});

describe('blockServerArgv and blockClientArgv', () => {
  it("blockServerArgv is blk_server.sh's line", () => {
    expect(line(blockServerArgv({ ...primary, joinPort: 4000 }, 5001))).toBe(BLK_SERVER_SH);
  });

  it("blockClientArgv is blk_primary.sh's line; the argument wins over spec.blockServer", () => {
    expect(line(blockClientArgv(primary, { host: SERVER_IP, port: 5001 }))).toBe(BLK_PRIMARY_SH);
    const other = { ...primary, blockServer: { host: '10.0.0.9', port: 7000 } };
    expect(line(blockClientArgv(other, { host: SERVER_IP, port: 5001 }))).toBe(BLK_PRIMARY_SH);
  });

  it('refuses a server that is also a client, and bad endpoints', () => {
    expect(() => blockServerArgv({ ...primary, blockServer: { host: SERVER_IP, port: 5001 } }, 5002)).toThrow(
      /^spec\.blockServer cannot be set on the block server/,
    );
    expect(() => blockServerArgv(primary, 70000)).toThrow('listenPort must be an integer 1-65535, got 70000');
    expect(() => blockClientArgv(primary, { host: '[server IP]', port: 5001 })).toThrow(
      /^server\.host must be/,
    );
    expect(() => blockClientArgv(primary, { host: SERVER_IP, port: 0 })).toThrow(/^server\.port must be/);
    expect(() =>
      blockClientArgv({ ...primary, blockServerListen: 5001 }, { host: SERVER_IP, port: 5001 }),
    ).toThrow(/^spec\.blockServerListen cannot be set on a block-server client/);
  });
});

describe('every field is checked', () => {
  // [what, the spec with one bad field, the field the error names]
  const bad: Array<[string, CujuVmSpec, string]> = [
    ['name with a comma', { ...primary, name: 'vm,1' }, 'spec.name'],
    ['empty image', { ...primary, image: '' }, 'spec.image'],
    ['image with a comma', { ...primary, image: '/mnt/a,b.img' }, 'spec.image'],
    ['image read as a protocol', { ...primary, image: 'nbd:host:10809' }, 'spec.image'],
    ['image with a newline', { ...primary, image: '/mnt/a\n.img' }, 'spec.image'],
    ['drive without image', { monitorPath: '/tmp/m', drive: { scsi: false } }, 'spec.drive'],
    ['bad aio', { ...primary, drive: { aio: 'io_uring' as 'native' } }, 'spec.drive.aio'],
    ['scsi not boolean', { ...primary, drive: { scsi: 'off' as unknown as boolean } }, 'spec.drive.scsi'],
    ['memory 0', { ...primary, memory: 0 }, 'spec.memory'],
    ['memory fraction of MiB', { ...primary, memory: 1.5 }, 'spec.memory'],
    ['memory text', { ...primary, memory: '1 GB' }, 'spec.memory'],
    ['smp 0', { ...primary, smp: 0 }, 'spec.smp'],
    ['smp 256', { ...primary, smp: 256 }, 'spec.smp'],
    ['cpu with a space', { ...primary, cpu: 'host -smp 4' }, 'spec.cpu'],
    ['unknown vga', { ...primary, vga: 'vesa' as 'std' }, 'spec.vga'],
    ['kvm not boolean', { ...primary, kvm: 1 as unknown as boolean }, 'spec.kvm'],
    ['nic not an object', { ...primary, nic: 'tap0' as unknown as CujuVmSpec['nic'] }, 'spec.nic'],
    ['tap too long', { ...primary, nic: { tap: 'tap0123456789abc', mac: MAC } }, 'spec.nic.tap'],
    ['tap with a comma', { ...primary, nic: { tap: 'tap0,script=/x', mac: MAC } }, 'spec.nic.tap'],
    ['MAC with dashes', { ...primary, nic: { tap: 'tap0', mac: 'ae-ae-00-00-00-25' } }, 'spec.nic.mac'],
    ['multicast MAC', { ...primary, nic: { tap: 'tap0', mac: '01:00:5e:00:00:01' } }, 'spec.nic.mac'],
    [
      'NIC model with a comma',
      { ...primary, nic: { tap: 'tap0', mac: MAC, model: 'virtio,x=1' } },
      'spec.nic.model',
    ],
    ['no monitorPath', { ...primary, monitorPath: undefined as unknown as string }, 'spec.monitorPath'],
    ['monitorPath with a comma', { ...primary, monitorPath: '/tmp/a,server=off' }, 'spec.monitorPath'],
    [
      'monitorPath too long for a socket',
      { ...primary, monitorPath: `/tmp/${'m'.repeat(103)}` },
      'spec.monitorPath',
    ],
    ['qmpPath with a comma', { ...primary, qmpPath: '/tmp/q,x' }, 'spec.qmpPath'],
    ['qmpPath same as monitorPath', { ...primary, qmpPath: primary.monitorPath }, 'spec.qmpPath'],
    ['negative gftId', { ...primary, gftId: -1 }, 'spec.gftId'],
    ['gftId 2^31', { ...primary, gftId: 2 ** 31 }, 'spec.gftId'],
    ['joinPort 0', { ...primary, joinPort: 0 }, 'spec.joinPort'],
    ['joinPort as text', { ...primary, joinPort: '5000' as unknown as number }, 'spec.joinPort'],
    [
      'blockServer host name',
      { ...primary, blockServer: { host: 'blk', port: 5001 } },
      'spec.blockServer.host',
    ],
    [
      'blockServer port',
      { ...primary, blockServer: { host: SERVER_IP, port: 65536 } },
      'spec.blockServer.port',
    ],
    ['blockServerListen', { ...primary, blockServerListen: 1.5 }, 'spec.blockServerListen'],
    [
      'server and client at once',
      { ...primary, blockServer: { host: SERVER_IP, port: 5001 }, blockServerListen: 5002 },
      'spec.blockServerListen',
    ],
    ['extraArgs not an array', { ...primary, extraArgs: '-S' as unknown as string[] }, 'spec.extraArgs'],
    ['extraArgs with a NUL', { ...primary, extraArgs: ['-S', 'a\u0000b'] }, 'spec.extraArgs[1]'],
    [
      'extraArgs with -incoming',
      { ...primary, extraArgs: ['-incoming', 'tcp:0:1,ft_mode'] },
      'spec.extraArgs[0]',
    ],
  ];

  it.each(bad)('refuses %s, naming the field', (_what, spec, field) => {
    for (const build of [() => primaryArgv(spec), () => receiverArgv(spec, { port: 4441 })]) {
      let thrown: unknown;
      try {
        build();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(CujuArgumentError);
      const error = thrown as CujuArgumentError;
      expect(error.code).toBe('CUJU_INVALID_ARGUMENT');
      expect(error.field).toBe(field);
      expect(error.message.startsWith(`${field} `)).toBe(true);
    }
  });

  it('does not quote refused paths or extra arguments (they may hold secrets)', () => {
    expect(() => primaryArgv({ ...primary, monitorPath: '/tmp/s3cret,x' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    );
    expect(() => primaryArgv({ ...primary, extraArgs: [42 as unknown as string] })).toThrow(
      'spec.extraArgs[0] must be a string, got a number',
    );
  });

  it('quotes refused addresses and numbers', () => {
    expect(() => primaryArgv({ ...primary, joinPort: 70000 })).toThrow(
      'spec.joinPort must be an integer 1-65535, got 70000',
    );
    expect(() => primaryArgv({ ...primary, nic: { tap: 'tap0', mac: 'ae:ae:00:00:00' } })).toThrow(
      'spec.nic.mac must be a MAC address like ae:ae:00:00:00:25, got "ae:ae:00:00:00"',
    );
  });
});

describe("Cuju's command-line parser (as cuju-sim reproduces it) accepts every line", () => {
  const lines: Array<[string, string[]]> = [
    ['primary', primaryArgv(primary)],
    ['receiver', receiverArgv(backup, { port: 4441 })],
    ['block server', blockServerArgv({ ...primary, joinPort: 4000 }, 5001)],
    ['block client', blockClientArgv(primary, { host: SERVER_IP, port: 5001 })],
    ['GFT primary', primaryArgv({ ...gftPrimary, smp: 1, qmpPath: '/mnt/nfs/vm1.qmp', name: 'vm1' })],
    ['no disk', primaryArgv({ monitorPath: '/tmp/vm1.monitor', kvm: false })],
  ];

  it.each(lines)('%s', (_what, argv) => {
    const result = parseArgv(argv);
    expect('config' in result).toBe(true);
  });

  it('reads the receiver as an FT receiver on port 4441', () => {
    const result = parseArgv(receiverArgv(backup, { port: 4441 }));
    if (!('config' in result)) throw new Error('not a config');
    expect(result.config.incoming).toMatchObject({ port: 4441, ftMode: true });
  });
});
