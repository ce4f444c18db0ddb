/**
 * What goes over Cuju's 4 FT connections, as far as the simulator's two ends need it.
 *
 * The transaction header is Cuju's CujuFtTransHdr (include/migration/cuju-ft-trans-file.h
 * @21f9f0b:78): serial u64, magic u32, payload_len u32, cmd u16, id u16, seq u16, native
 * byte order (little-endian on x86). The struct is not packed, so sizeof is 24: the u64
 * gives it 8-byte alignment and 2 bytes of tail padding follow `seq`.
 *
 * The connections, in the order the primary opens them (migration.c@21f9f0b:747-762):
 * 0 is MigrationState 0's device fd and first carries the initial plain migration
 * stream, 1 is MigrationState 1's device fd, 2 is MigrationState 0's RAM fd, 3 is
 * MigrationState 1's. Headers go over the device fds; RAM pages over the RAM fds, and
 * COMMIT1's payload_len says how many RAM bytes the epoch has (it is not followed by a
 * payload on the device fd: cuju-ft-trans-file.c@21f9f0b:475, 678).
 *
 * Not Cuju's: the bytes themselves. The initial stream is a stand-in (QEMU_VM_FILE_MAGIC,
 * version, a length, that many bytes, an EOF byte) and pages and device states are
 * zeros; only simulated processes ever read them.
 */
export const FT_MAGIC = 0xa5a6a7a8;
export const HEADER_BYTES = 24;

/** CUJU_QEMU_VM_TRANSACTION_STATE (cuju-ft-trans-file.h@21f9f0b:18-34). */
export const FT_CMD = {
  NACK: 0xffff, // -1 as u16
  INIT: 0,
  BEGIN: 1,
  CONTINUE: 2,
  COMMIT: 3,
  CANCEL: 4,
  ATOMIC: 5,
  ACK: 6,
  ACK1: 7,
  COMMIT1: 8,
  NOCOPY: 9,
  DEV_HEADER: 10,
  DEV_STATES: 11,
  ALIVE: 12,
  CHECKALIVE: 13,
} as const;

/** `1 << CUJU_FT_ALIVE_HEADER` (15): the backup's ACK1 after a CHECKALIVE (cuju-ft-trans-file.c@21f9f0b:605). */
export const ALIVE_FLAG = 1 << 15;

/** Device fd index of MigrationState `ms`, and its RAM fd index. */
export const devConn = (ms: 0 | 1): number => ms;
export const ramConn = (ms: 0 | 1): number => ms + 2;

export interface FtMessage {
  serial: bigint;
  cmd: number;
  id: number;
  seq: number;
  /** payload_len as sent (for COMMIT1: the epoch's RAM bytes). */
  payloadLen: number;
  /** The bytes that follow the header (CONTINUE and DEV_STATES only). */
  payload: Buffer;
}

/** Whether a header is followed by payload_len bytes on the same fd. */
function carriesPayload(cmd: number): boolean {
  const base = cmd & ~ALIVE_FLAG;
  return base === FT_CMD.CONTINUE || base === FT_CMD.DEV_STATES;
}

export function encode(msg: {
  serial: bigint;
  cmd: number;
  id?: number;
  seq?: number;
  payloadLen?: number;
  payload?: Buffer;
}): Buffer {
  const payload = msg.payload ?? Buffer.alloc(0);
  const out = Buffer.alloc(HEADER_BYTES + payload.length);
  out.writeBigUInt64LE(msg.serial, 0);
  out.writeUInt32LE(FT_MAGIC, 8);
  out.writeUInt32LE(msg.payloadLen ?? payload.length, 12);
  out.writeUInt16LE(msg.cmd, 16);
  out.writeUInt16LE(msg.id ?? 0, 18);
  out.writeUInt16LE(msg.seq ?? 0, 20);
  // 22-23: struct padding, zero.
  payload.copy(out, HEADER_BYTES);
  return out;
}

/** Accumulates a device fd's bytes and yields whole messages; throws on a bad magic. */
export class FtDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): FtMessage[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: FtMessage[] = [];
    while (this.buffer.length >= HEADER_BYTES) {
      const magic = this.buffer.readUInt32LE(8);
      const cmd = this.buffer.readUInt16LE(16);
      // The backup's ACK1|ALIVE is taken before the magic check (cuju-ft-trans-file.c@21f9f0b:475).
      if (magic !== FT_MAGIC && cmd !== (ALIVE_FLAG | FT_CMD.ACK1))
        throw new Error(`bad FT header magic 0x${magic.toString(16)}`);
      const payloadLen = this.buffer.readUInt32LE(12);
      const trailing = carriesPayload(cmd) ? payloadLen : 0;
      if (this.buffer.length < HEADER_BYTES + trailing) break;
      out.push({
        serial: this.buffer.readBigUInt64LE(0),
        cmd,
        id: this.buffer.readUInt16LE(18),
        seq: this.buffer.readUInt16LE(20),
        payloadLen,
        payload: Buffer.from(this.buffer.subarray(HEADER_BYTES, HEADER_BYTES + trailing)),
      });
      this.buffer = this.buffer.subarray(HEADER_BYTES + trailing);
    }
    return out;
  }

  /** Bytes received after the last whole message. */
  take(): Buffer {
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}

/** QEMU_VM_FILE_MAGIC ("QEVM") and QEMU_VM_FILE_VERSION, big-endian as qemu_put_be32 writes them. */
const STREAM_MAGIC = 0x5145564d;
const STREAM_VERSION = 3;
const QEMU_VM_EOF = 0x00;

/** The initial plain migration stream (a stand-in: see the file comment). */
export function encodeInitialStream(bytes: number): Buffer {
  const out = Buffer.alloc(12 + bytes + 1);
  out.writeUInt32BE(STREAM_MAGIC, 0);
  out.writeUInt32BE(STREAM_VERSION, 4);
  out.writeUInt32BE(bytes, 8);
  out.writeUInt8(QEMU_VM_EOF, 12 + bytes);
  return out;
}

/**
 * Reads the initial stream off connection 0; `push` returns the bytes after its end
 * (the first FT headers) once it has ended, undefined before. Throws on a bad stream.
 */
export class InitialStreamReader {
  private buffer: Buffer = Buffer.alloc(0);
  private done = false;

  push(chunk: Buffer): Buffer | undefined {
    if (this.done) return chunk;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    if (this.buffer.length < 12) return undefined;
    if (this.buffer.readUInt32BE(0) !== STREAM_MAGIC || this.buffer.readUInt32BE(4) !== STREAM_VERSION) {
      throw new Error('not a migration stream');
    }
    const end = 12 + this.buffer.readUInt32BE(8) + 1;
    if (this.buffer.length < end) return undefined;
    if (this.buffer.readUInt8(end - 1) !== QEMU_VM_EOF) throw new Error('migration stream without EOF');
    this.done = true;
    const rest = this.buffer.subarray(end);
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}
