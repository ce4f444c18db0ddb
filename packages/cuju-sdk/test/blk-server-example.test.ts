/**
 * examples/blk-server.ts: one command for the seed manual's blk_server.sh, blk_primary.sh,
 * blk_backup.sh and ft_mode. Its --dry-run lines are the manual's (copied here verbatim,
 * `[server IP]` given), its command line is checked before anything starts, and a --local
 * run on cuju-sim gets to protected, fails over and leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { noneLeft } from './helpers/pair.js';
import { freePort } from './helpers/sim.js';
import { processesMentioning } from './helpers/sshd.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** The manual's three scripts (Block server, 2. Build Block server), as written there. */
const BLK_SERVER_SH = String.raw`sudo ./x86_64-softmmu/qemu-system-x86_64 \ -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \ -device virtio-blk,drive=drive0 \ -m 1G -enable-kvm \ -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \ -cpu host \ -vga std -chardev socket,id=mon,path=/home/[your username]/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \ -ft-join-port 4000 -blk-server-listen :5001`;
const BLK_PRIMARY_SH = String.raw`sudo ./x86_64-softmmu/qemu-system-x86_64 \ -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \ -device virtio-blk,drive=drive0 \ -m 1G -enable-kvm \ -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \ -cpu host \ -vga std -chardev socket,id=mon,path=/home/[your username]/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \ -blk-server [server IP]:5001`;
const BLK_BACKUP_SH = String.raw`sudo x86_64-softmmu/qemu-system-x86_64 \ -drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img \ -device virtio-blk,drive=drive0 \ -m 1G -enable-kvm \ -net tap,ifname=tap1 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 \ -vga std -chardev socket,id=mon,path=/home/[your username]/vm1r.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline \ -cpu host \ -incoming tcp:0:4441,ft_mode \ -blk-server [server IP]:5001 `;
/** ft_mode's two lines (the manual's sample: `echo LINE | nc -U vm1.monitor`). */
const FT_MODE = ['migrate_set_capability cuju-ft on', 'migrate -d -c tcp:192.168.105.1:4441'];
const SERVER_IP = '192.168.105.1';
const BINARY = './x86_64-softmmu/qemu-system-x86_64';

/** A script's line as argv text: no sudo, the binary as ours, no line continuations, `[server IP]` given. */
function seedLine(script: string): string {
  return script
    .replace(/^sudo (\.\/)?x86_64-softmmu\/qemu-system-x86_64/, BINARY)
    .replaceAll(' \\ ', ' ')
    .replaceAll('[server IP]', SERVER_IP)
    .trim();
}

/** The options of a line as `-opt value` pairs, sorted: the same options in any order. */
function optionSet(line: string): string[] {
  const words = line.split(' -').slice(1);
  return words.map((w) => `-${w}`).sort();
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function example(args: readonly string[], timeout = 60_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(TSX, [join(ROOT, 'examples', 'blk-server.ts'), ...args], { timeout }, (err, stdout, stderr) => {
      const code = err === null ? 0 : (err as { code?: unknown }).code;
      if (typeof code !== 'number') return reject(err);
      resolve({ code, stdout, stderr });
    });
  });
}

const SSH_DRY_RUN = [
  '--dry-run',
  '--primary',
  'root@192.168.105.2',
  '--backup',
  `root@${SERVER_IP}`,
  '--key',
  '/nonexistent/key',
  '--cuju',
  BINARY,
  '--work-dir',
  '/home/[your username]',
];

describe('examples/blk-server.ts --dry-run', () => {
  it("prints the manual's three command lines in its order, then ft_mode's two lines, connecting nothing", async () => {
    const r = await example(SSH_DRY_RUN);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const comments = lines.filter((l) => l.startsWith('#'));
    expect(comments.map((c) => c.split(' ')[1])).toEqual(['block-server', 'primary', 'backup', 'ft_mode,']);
    const [server, primary, backup, ...ftMode] = lines.filter((l) => !l.startsWith('#'));
    expect(server).toBe(seedLine(BLK_SERVER_SH));
    expect(primary).toBe(seedLine(BLK_PRIMARY_SH));
    // blk_backup.sh's options, all of them; the order is recv.sh's (QEMU reads both the same:
    // the last -cpu wins, and -incoming listens only once the whole line is read).
    expect(optionSet(backup!)).toEqual(optionSet(seedLine(BLK_BACKUP_SH)));
    expect(backup!.startsWith(`${BINARY} -drive `)).toBe(true);
    expect(ftMode).toEqual(FT_MODE);
    // The block server runs on the backup's host; the primary on its own.
    expect(comments[0]).toContain(`root@${SERVER_IP}`);
    expect(comments[1]).toContain('root@192.168.105.2');
  });

  it('--local --dry-run starts nothing', async () => {
    const r = await example(['--local', '--dry-run']);
    expect(r.code).toBe(0);
    const dir = /^# work dir (\S+)/m.exec(r.stdout)?.[1];
    expect(dir).toBeDefined();
    expect(r.stdout).toContain('-blk-server-listen :5001');
    expect(processesMentioning(dir!)).toEqual([]);
  });
});

describe('examples/blk-server.ts checks its command line before anything starts', () => {
  it.each([
    [['--local', '--listen-port', '0'], '--listen-port must be a whole number'],
    [['--local', '--server-ip', '10.0.0.1'], '--local takes no --server-ip'],
    [['--local', '--bogus'], "Unknown option '--bogus'"],
    [[...SSH_DRY_RUN, '--server-ip', 'not-an-ip'], '--server-ip must be an IPv4 address'],
    [['--primary', 'root@192.168.105.2'], 'missing --backup, --key, --cuju, --work-dir'],
  ])('%j: exit 2', async (args, message) => {
    const r = await example(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('the same port twice: the placement rule refuses it (exit 1), nothing started', async () => {
    const r = await example(['--local', '--dry-run', '--listen-port', '4441']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CUJU_BLK_SERVER_PLACEMENT');
  });
});

describe('examples/blk-server.ts --local', () => {
  it('runs the three processes on cuju-sim to protected, fails over, and leaves nothing behind', async () => {
    const ports = [await freePort(), await freePort(), await freePort()].map(String);
    const r = await example(
      ['--local', '--listen-port', ports[0]!, '--join-port', ports[1]!, '--port', ports[2]!],
      180_000,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('syncing -> protected');
    expect(r.stdout).toMatch(/failing-over -> failed-over/);
    expect(r.stdout).toMatch(/-> stopped/);
    const dir = /^# work dir (\S+)/m.exec(r.stdout)?.[1];
    expect(await noneLeft(dir!)).toEqual([]);
  }, 200_000);
});
