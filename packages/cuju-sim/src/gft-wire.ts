/**
 * Group-FT control messages (migration/group_ft.h): native ints (little-endian int32)
 * written one after another, and the GroupFTMember / GroupFTBackup structs with C's
 * natural alignment. IPs are char[16] buffers: Cuju copies exactly 16 bytes (IP_LEN),
 * so longer host names are cut (reference §2.2).
 */
export const GFT = {
  ADD_HOST: 7,
  INIT: 8,
  INIT_ACK: 9,
  NEW: 10,
  MIGRATION_DONE: 11,
  MIGRATION_ALL: 12,
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

export function encodeMember(m: GftMember): Buffer {
  const b = Buffer.alloc(MEMBER_BYTES);
  b.writeInt32LE(m.gftId, 0);
  writeIp(b, 4, m.masterIp);
  b.writeInt32LE(m.masterGftPort, 20);
  m.mac.copy(b, 24, 0, 6);
  writeIp(b, 32, m.slaveIp);
  b.writeInt32LE(m.slaveFtPort, 48);
  b.writeInt32LE(m.slaveJoinPort, 52);
  return b;
}

export function decodeMember(b: Buffer): GftMember {
  return {
    gftId: b.readInt32LE(0),
    masterIp: readIp(b, 4),
    masterGftPort: b.readInt32LE(20),
    mac: Buffer.from(b.subarray(24, 30)),
    slaveIp: readIp(b, 32),
    slaveFtPort: b.readInt32LE(48),
    slaveJoinPort: b.readInt32LE(52),
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

/** `%x:%x:%x:%x:%x:%x` as Cuju's sscanf reads a MAC; undefined where it would fail. */
export function parseMac(text: string): Buffer | undefined {
  const parts = text.split(':');
  if (parts.length !== 6) return undefined;
  const bytes: number[] = [];
  for (const p of parts) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(p)) return undefined;
    bytes.push(Number.parseInt(p, 16));
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
