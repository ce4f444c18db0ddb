/**
 * Cuju's FT transaction header (include/migration/cuju-ft-trans-file.h), native byte
 * order (little-endian on x86), packed: serial u64, magic u32, payload_len u32, cmd u16,
 * id u16, seq u16 — 22 bytes. Whether the C struct is packed is not in the reference;
 * the simulator packs it (a real Cuju peer is never on the other end of these links).
 */
export const FT_MAGIC = 0xa5a6a7a8;
export const HEADER_BYTES = 22;

/** CUJU_QEMU_VM_TRANSACTION_STATE values. */
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
} as const;

export interface FtMessage {
  serial: bigint;
  cmd: number;
  id: number;
  seq: number;
  payload: Buffer;
}

export function encode(msg: Omit<FtMessage, 'payload'> & { payload?: Buffer }): Buffer {
  const payload = msg.payload ?? Buffer.alloc(0);
  const out = Buffer.alloc(HEADER_BYTES + payload.length);
  out.writeBigUInt64LE(msg.serial, 0);
  out.writeUInt32LE(FT_MAGIC, 8);
  out.writeUInt32LE(payload.length, 12);
  out.writeUInt16LE(msg.cmd, 16);
  out.writeUInt16LE(msg.id, 18);
  out.writeUInt16LE(msg.seq, 20);
  payload.copy(out, HEADER_BYTES);
  return out;
}

/** Accumulates bytes and yields whole messages; throws on a bad magic (a corrupt stream). */
export class FtDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): FtMessage[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: FtMessage[] = [];
    while (this.buffer.length >= HEADER_BYTES) {
      const magic = this.buffer.readUInt32LE(8);
      if (magic !== FT_MAGIC) throw new Error(`bad FT header magic 0x${magic.toString(16)}`);
      const len = this.buffer.readUInt32LE(12);
      if (this.buffer.length < HEADER_BYTES + len) break;
      out.push({
        serial: this.buffer.readBigUInt64LE(0),
        cmd: this.buffer.readUInt16LE(16),
        id: this.buffer.readUInt16LE(18),
        seq: this.buffer.readUInt16LE(20),
        payload: Buffer.from(this.buffer.subarray(HEADER_BYTES, HEADER_BYTES + len)),
      });
      this.buffer = this.buffer.subarray(HEADER_BYTES + len);
    }
    return out;
  }
}
