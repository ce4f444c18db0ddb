/**
 * The FT links byte by byte (cuju-builds.md §6), against raw peers: a fake backup for a
 * simulated primary, a fake primary for a simulated backup. Only simulated processes
 * ever read these bytes, so what matters is that both ends agree with Cuju's layout:
 * a 24-byte header (the struct is not packed), link 0 = MigrationState 0's device fd
 * carrying the initial stream first, 1 = MigrationState 1's device fd, 2 and 3 their RAM.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, port, RawHmp, startSim, tempDir } from './helpers/sim-process.js';

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0)) c();
});

const MAGIC = 0xa5a6a7a8;
const CMD = { BEGIN: 1, CONTINUE: 2, ACK: 6, ACK1: 7, COMMIT1: 8, CHECKALIVE: 13 } as const;

function header(cmd: number, serial = 0n, payloadLen = 0): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(serial, 0);
  b.writeUInt32LE(MAGIC, 8);
  b.writeUInt32LE(payloadLen, 12);
  b.writeUInt16LE(cmd, 16);
  return b;
}

/** Bytes of one link as they arrive, read in exact amounts. */
class Link {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  ended = false;
  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake?.();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`link ended with ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** One header: its fields, and the 2 padding bytes, which must be zero. */
  async header(): Promise<{ serial: bigint; magic: number; len: number; cmd: number; pad: number }> {
    const h = await this.read(24);
    return {
      serial: h.readBigUInt64LE(0),
      magic: h.readUInt32LE(8),
      len: h.readUInt32LE(12),
      cmd: h.readUInt16LE(16),
      pad: h.readUInt16LE(22),
    };
  }
}

function monitor(d: string, name: string): string[] {
  return [
    '-chardev',
    `socket,id=mon,path=${join(d, `${name}.monitor`)},server,nowait`,
    '-mon',
    'chardev=mon,id=monitor,mode=readline',
  ];
}

function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('the FT wire, master build', () => {
  it('a primary: 4 links in order, the initial stream on link 0, then epochs over 0/2 and 1/3 with 24-byte headers', async () => {
    const accepted: Link[] = [];
    const backup = createServer((s) => accepted.push(new Link(s)));
    await new Promise<void>((r) => backup.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const l of accepted) l.socket.destroy();
      backup.close();
    });
    const ftPort = (backup.address() as { port: number }).port;
    const d = dir();
    const primary = startSim(monitor(d, 'vm1'));
    await primary.waitForStdout('VM init finished');
    const hmp = await RawHmp.open(join(d, 'vm1.monitor'));
    // `migrate -c` returns once its 4 links are connected (connect_sync).
    expect(await hmp.run(`migrate -c tcp:127.0.0.1:${ftPort}`)).toBe('');
    for (let i = 0; i < 500 && accepted.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(accepted).toHaveLength(4);
    const [dev0, dev1, ram0, ram1] = accepted as [Link, Link, Link, Link];
    // The initial (plain) migration stream, on link 0: QEMU_VM_FILE_MAGIC, version 3.
    const head = await dev0.read(12);
    expect(head.readUInt32BE(0)).toBe(0x5145564d);
    expect(head.readUInt32BE(4)).toBe(3);
    expect((await dev0.read(head.readUInt32BE(8) + 1)).at(-1)).toBe(0);
    await primary.waitForStdout('start cuju process\n');
    dev0.socket.write(header(CMD.ACK)); // the backup's ACK, on MigrationState 0's device link
    for (const [serial, dev, ram] of [
      [1n, dev0, ram0],
      [2n, dev1, ram1],
      [3n, dev0, ram0],
    ] as const) {
      const begin = await dev.header();
      expect(begin).toEqual({ serial, magic: MAGIC, len: 0, cmd: CMD.BEGIN, pad: 0 });
      const cont = await dev.header();
      expect(cont).toMatchObject({ serial, cmd: CMD.CONTINUE, pad: 0 });
      await dev.read(cont.len); // the device state follows CONTINUE on the same link
      const commit = await dev.header();
      expect(commit).toMatchObject({ serial, magic: MAGIC, cmd: CMD.COMMIT1, pad: 0 });
      // COMMIT1's payload_len is the epoch's RAM bytes, sent on the RAM link, not after it.
      expect(commit.len).toBeGreaterThan(0);
      await ram.read(commit.len);
      dev.socket.write(header(CMD.ACK1, serial));
    }
    // cuju-migrate-cancel: CHECKALIVE on both device links.
    expect(await hmp.run('cuju-migrate-cancel')).toBe('');
    for (const dev of [dev0, dev1]) {
      let h = await dev.header();
      while (h.cmd !== CMD.CHECKALIVE) {
        if (h.cmd === CMD.CONTINUE) await dev.read(h.len);
        h = await dev.header();
      }
      expect(h).toMatchObject({ magic: MAGIC, cmd: CMD.CHECKALIVE, len: 0, pad: 0 });
    }
  });

  it('a backup: ACK after loading the stream, ACK1 per commit, and ACK1|ALIVE then exit 0 after CHECKALIVE', async () => {
    const d = dir();
    const ftPort = await port();
    const backup = startSim([...monitor(d, 'vm1r'), '-incoming', `tcp:127.0.0.1:${ftPort},ft_mode`]);
    await backup.waitForStdout('VM init finished');
    const links: Link[] = [];
    for (let i = 0; i < 4; i++) {
      const s = createConnection({ host: '127.0.0.1', port: ftPort });
      await new Promise<void>((r) => s.once('connect', () => r()));
      links.push(new Link(s));
    }
    cleanups.push(() => {
      for (const l of links) l.socket.destroy();
    });
    const [dev0, dev1, ram0, ram1] = links as [Link, Link, Link, Link];
    const stream = Buffer.alloc(12 + 100 + 1);
    stream.writeUInt32BE(0x5145564d, 0);
    stream.writeUInt32BE(3, 4);
    stream.writeUInt32BE(100, 8);
    dev0.socket.write(stream);
    expect(await dev0.header()).toEqual({ serial: 0n, magic: MAGIC, len: 0, cmd: CMD.ACK, pad: 0 });
    await backup.waitForStdout('enter cuju FT mode (incoming)\n');
    expect(backup.stdout()).toBe('VM init finished\nenter cuju FT mode (incoming)\n');
    const epoch = (serial: bigint, dev: Link, ram: Link) => {
      ram.socket.write(Buffer.alloc(4096));
      dev.socket.write(
        Buffer.concat([header(CMD.BEGIN, serial), header(CMD.CONTINUE, serial, 8), Buffer.alloc(8)]),
      );
      dev.socket.write(header(CMD.COMMIT1, serial, 4096));
    };
    epoch(1n, dev0, ram0);
    expect(await dev0.header()).toMatchObject({ serial: 1n, cmd: CMD.ACK1, pad: 0 });
    await backup.waitForStdout('first commit\n');
    // cuju-migrate-cancel on the primary sends CHECKALIVE; the next commit is answered
    // with ACK1 | 1 << 15, and the backup exits 0 (cuju-ft-trans-file.c@21f9f0b:605-610).
    dev1.socket.write(header(CMD.CHECKALIVE));
    epoch(2n, dev1, ram1);
    expect(await dev1.header()).toMatchObject({ serial: 2n, cmd: 0x8000 | CMD.ACK1 });
    expect(await backup.exited).toEqual({ code: 0, signal: null });
    expect(backup.stdout()).not.toContain('cuju_ft_trans_close');
  });
});
