/**
 * The qmp-wire suite: how QEMU's cost per command grows with the bytes of the command.
 *
 * QEMU 7.2's monitor asks its chardev for one byte at a time (monitor_can_read() returns
 * 1 while the monitor is not suspended), so every byte of a command costs a read() and a
 * main-loop dispatch in QEMU. This suite sends the same `query-status` through the raw
 * floor with more or fewer bytes (no id, an id, JSON whitespace padding), one QEMU per
 * variant, measured in interleaved blocks, and fits microseconds per byte. It explains
 * the qmp suite: a client that sends fewer bytes per command is faster, whatever its own
 * code does.
 */
import { guarded, type Peer } from './lib/guard.js';
import { interleave, serialBlock, timed } from './lib/measure.js';
import { startIdleQemu, Teardown } from './lib/qemu.js';
import { note, opsPerSecond, printRecord, round, summarizeLatencies } from './lib/stats.js';
import { RawQmpFloor } from './qmp-floor.js';

const WARMUP = 1000;
const SERIAL_N = 2000;
const SERIAL_BLOCK = 100;
const PIPELINED_N = 3000;
const PIPELINED_ROUNDS = 3;
const OOB_WINDOW = 8;
/** Deadline for one block of work; a QEMU that dies fails the suite at once (lib/guard.ts). */
const BLOCK_DEADLINE_MS = 60_000;

// The id is fixed: the floor does not match replies, and a fixed id keeps the byte count fixed.
const VARIANTS: ReadonlyArray<{ name: string; line: string }> = [
  { name: 'no-id', line: '{"execute":"query-status"}\n' },
  { name: 'id-1-digit', line: '{"execute":"query-status","id":1}\n' },
  { name: 'id-4-digits', line: '{"execute":"query-status","id":1000}\n' },
  { name: 'no-id+16sp', line: `{"execute":"query-status"${' '.repeat(16)}}\n` },
  { name: 'no-id+32sp', line: `{"execute":"query-status"${' '.repeat(32)}}\n` },
];

/** Least-squares slope of y over x. */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

interface Variant {
  floor: RawQmpFloor;
  peer: Peer;
  name: string;
}

async function openFloors(teardown: Teardown): Promise<Variant[]> {
  const floors: Variant[] = [];
  for (const { name, line } of VARIANTS) {
    const qemu = await startIdleQemu();
    teardown.add(() => qemu.stop());
    const peer: Peer = { name: `QEMU pid ${qemu.pid} (${name})`, exited: qemu.exited, stderr: qemu.stderr };
    const floor = await guarded(
      `qmp-wire: connecting ${name}`,
      RawQmpFloor.connect(qemu.qmpPath, { oob: true, commandLine: () => line, name: `raw floor ${name}` }),
      { timeoutMs: BLOCK_DEADLINE_MS, peers: [peer] },
    );
    teardown.add(() => floor.close());
    floors.push({ floor, peer, name });
  }
  return floors;
}

function guard<T>(v: Variant, step: string, work: () => Promise<T>): Promise<T> {
  return guarded(`qmp-wire: ${v.name} ${step}`, work(), { timeoutMs: BLOCK_DEADLINE_MS, peers: [v.peer] });
}

export async function run(): Promise<void> {
  const teardown = new Teardown();
  try {
    const floors = await openFloors(teardown);
    note(`qmp-wire: ${VARIANTS.map((v) => v.name).join(', ')}`);
    for (const v of floors) {
      await guard(v, 'warm-up', () => serialBlock(() => v.floor.queryStatus(), WARMUP, []));
    }
    const samples = floors.map((): number[] => []);
    const serialWall = floors.map(() => 0);
    await interleave(floors.length, SERIAL_N / SERIAL_BLOCK, async (i) => {
      const v = floors[i]!;
      serialWall[i]! += await guard(v, 'serial block', () =>
        serialBlock(() => v.floor.queryStatus(), SERIAL_BLOCK, samples[i]!),
      );
    });
    const pipelinedWall = floors.map(() => 0);
    await interleave(floors.length, PIPELINED_ROUNDS, async (i) => {
      const v = floors[i]!;
      pipelinedWall[i]! += await guard(v, 'pipelined round', () =>
        timed(() => v.floor.pipeline(PIPELINED_N / PIPELINED_ROUNDS, OOB_WINDOW)),
      );
    });
    const points: Array<[number, number]> = [];
    VARIANTS.forEach(({ name, line }, i) => {
      const serial = summarizeLatencies(samples[i]!, serialWall[i]!);
      const bytes = Buffer.byteLength(line);
      points.push([bytes, serial.p50_us]);
      printRecord({
        suite: 'qmp-wire',
        variant: name,
        request_bytes: bytes,
        serial_p50_us: serial.p50_us,
        serial_p99_us: serial.p99_us,
        pipelined_ops_per_s: round(opsPerSecond(PIPELINED_N, pipelinedWall[i]!)),
      });
    });
    printRecord({ suite: 'qmp-wire', summary: true, serial_us_per_request_byte: round(slope(points), 2) });
  } finally {
    await teardown.run();
  }
}
