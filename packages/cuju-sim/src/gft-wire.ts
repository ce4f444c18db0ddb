/**
 * Group-FT control messages (migration/group_ft.h@d2e55fe): native ints (little-endian
 * int32) written one after another, and the GroupFTMember / GroupFTBackup structs with
 * C's natural alignment: char arrays are not padded, so in GroupFTMember `master_mac[6]`
 * ends at 30 and `slave_host_ip` starts there; the next int32 is aligned to 48. IPs are
 * char[16] buffers: Cuju copies exactly 16 bytes (IP_LEN), so longer host names are cut.
 */
export const GFT = {
  ADD_HOST: 7,
  INIT: 8,
  INIT_ACK: 9,
  NEW: 10,
  MIGRATION_DONE: 11,
  MIGRATION_ALL: 12,
  EPOCH_COMMIT2: 13,
  ADDING_MEMBER: 14,
} as const;

export const IP_LEN = 16;
export const MEMBER_BYTES = 56;
export const BACKUP_BYTES = 24;

export interface GftMember {
  gftId: number;
  masterIp: string;
  masterGftPort: number;
  mac: Buffer;
  slaveIp: string;
  slaveFtPort: number;
  slaveJoinPort: number;
}

export interface GftBackup {
  slaveIp: string;
  slaveGftPort: number;
  slaveIncomingPort: number;
}

/** What Cuju keeps of an IP string: the first 15 characters (16 bytes with the NUL). */
export function ipField(ip: string): string {
  return ip.slice(0, IP_LEN - 1);
}

function writeIp(buf: Buffer, offset: number, ip: string): void {
  buf.fill(0, offset, offset + IP_LEN);
  buf.write(ipField(ip), offset, 'latin1');
}

function readIp(buf: Buffer, offset: number): string {
  const raw = buf.subarray(offset, offset + IP_LEN);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? IP_LEN : nul).toString('latin1');
}

export function int(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  return b;
}

/** GroupFTMember field offsets (sizeof 56). */
export const MEMBER_OFFSETS = {
  gftId: 0,
  masterIp: 4,
  masterGftPort: 20,
  mac: 24,
  slaveIp: 30,
  slaveFtPort: 48,
  slaveJoinPort: 52,
} as const;

export function encodeMember(m: GftMember): Buffer {
  const o = MEMBER_OFFSETS;
  const b = Buffer.alloc(MEMBER_BYTES);
  b.writeInt32LE(m.gftId, o.gftId);
  writeIp(b, o.masterIp, m.masterIp);
  b.writeInt32LE(m.masterGftPort, o.masterGftPort);
  m.mac.copy(b, o.mac, 0, 6);
  writeIp(b, o.slaveIp, m.slaveIp);
  b.writeInt32LE(m.slaveFtPort, o.slaveFtPort);
  b.writeInt32LE(m.slaveJoinPort, o.slaveJoinPort);
  return b;
}

export function decodeMember(b: Buffer): GftMember {
  const o = MEMBER_OFFSETS;
  return {
    gftId: b.readInt32LE(o.gftId),
    masterIp: readIp(b, o.masterIp),
    masterGftPort: b.readInt32LE(o.masterGftPort),
    mac: Buffer.from(b.subarray(o.mac, o.mac + 6)),
    slaveIp: readIp(b, o.slaveIp),
    slaveFtPort: b.readInt32LE(o.slaveFtPort),
    slaveJoinPort: b.readInt32LE(o.slaveJoinPort),
  };
}

export function encodeBackup(x: GftBackup): Buffer {
  const b = Buffer.alloc(BACKUP_BYTES);
  writeIp(b, 0, x.slaveIp);
  b.writeInt32LE(x.slaveGftPort, 16);
  b.writeInt32LE(x.slaveIncomingPort, 20);
  return b;
}

export function decodeBackup(b: Buffer): GftBackup {
  return { slaveIp: readIp(b, 0), slaveGftPort: b.readInt32LE(16), slaveIncomingPort: b.readInt32LE(20) };
}

/**
 * migrate_join_mac_to_array: `sscanf(mac, "%x:%x:%x:%x:%x:%x")` must read 6 values, each
 * kept as a char (migration.c@d2e55fe:3828-3840). Looser than a strict pattern: %x
 * skips leading blanks, takes an optional sign and 0x, any number of hex digits, and
 * ignores what follows the sixth value. Undefined where sscanf would read fewer than 6.
 */
export function parseMac(text: string): Buffer | undefined {
  const bytes: number[] = [];
  let p = 0;
  for (let i = 0; i < 6; i++) {
    if (i > 0) {
      if (text[p] !== ':') return undefined;
      p++;
    }
    const m = /^\s*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)/.exec(text.slice(p));
    if (!m) return undefined;
    const value = Number.parseInt(m[2]!.slice(-8), 16) * (m[1] === '-' ? -1 : 1);
    bytes.push(value & 0xff);
    p += m[0].length;
  }
  return Buffer.from(bytes);
}

/** Reads exact byte counts from a socket's data as it arrives. */
export class ByteReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiters: Array<{ n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void }> = [];
  private ended: Error | undefined;

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    this.serve();
  }

  end(error: Error): void {
    this.ended = error;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  read(n: number): Promise<Buffer> {
    if (this.ended && this.buffer.length < n) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiters.push({ n, resolve, reject });
      this.serve();
    });
  }

  async readInt(): Promise<number> {
    return (await this.read(4)).readInt32LE(0);
  }

  private serve(): void {
    while (this.waiters.length && this.buffer.length >= this.waiters[0]!.n) {
      const w = this.waiters.shift()!;
      const out = Buffer.from(this.buffer.subarray(0, w.n));
      this.buffer = this.buffer.subarray(w.n);
      w.resolve(out);
    }
  }
}
