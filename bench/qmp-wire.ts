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

// The id is fixed: the floor does not match replies, and a fixed id keeps the byte count fixed.
const VARIANTS: ReadonlyArray<{ name: string; line: string }> = [
  { name: 'no-id', line: '{"execute":"query-status"}\n' },
  { name: 'id', line: '{"execute":"query-status","id":1000}\n' },
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

async function openFloors(teardown: Teardown): Promise<RawQmpFloor[]> {
  const floors: RawQmpFloor[] = [];
  for (const { line } of VARIANTS) {
    const qemu = await startIdleQemu();
    teardown.add(() => qemu.stop());
    const floor = await RawQmpFloor.connect(qemu.qmpPath, { oob: true, commandLine: () => line });
    teardown.add(() => floor.close());
    floors.push(floor);
  }
  return floors;
}

export async function run(): Promise<void> {
  const teardown = new Teardown();
  try {
    const floors = await openFloors(teardown);
    note(`qmp-wire: ${VARIANTS.map((v) => v.name).join(', ')}`);
    for (const floor of floors) {
      for (let i = 0; i < WARMUP; i++) await floor.queryStatus();
    }
    const samples = floors.map((): number[] => []);
    const serialWall = floors.map(() => 0);
    await interleave(floors.length, SERIAL_N / SERIAL_BLOCK, async (i) => {
      serialWall[i]! += await serialBlock(() => floors[i]!.queryStatus(), SERIAL_BLOCK, samples[i]!);
    });
    const pipelinedWall = floors.map(() => 0);
    await interleave(floors.length, PIPELINED_ROUNDS, async (i) => {
      pipelinedWall[i]! += await timed(() => floors[i]!.pipeline(PIPELINED_N / PIPELINED_ROUNDS, OOB_WINDOW));
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
