/**
 * The QMP suite: `query-status` against `qemu-system-x86_64 -M none -S`, for a raw-socket
 * floor, our client (@cuju/qmp) and node-qemu, each connected to its own fresh QEMU.
 *
 * Serial mode is one command at a time (round-trip latency); pipelined mode issues many
 * commands at once (throughput). `query-status` is chosen because QEMU does almost nothing
 * to answer it, so the numbers are about the monitor path and the client.
 *
 * The clients are measured in interleaved blocks (see lib/measure.ts).
 */
import { QMPClient } from 'node-qemu';
import { loadCujuQmp } from './lib/cuju-qmp.js';
import { interleave, serialBlock, timed } from './lib/measure.js';
import { qemuVersion, startIdleQemu, Teardown } from './lib/qemu.js';
import {
  type BenchRecord,
  type LatencySummary,
  note,
  opsPerSecond,
  printRecord,
  round,
  settledHeapKb,
  summarizeLatencies,
} from './lib/stats.js';
import { RawQmpFloor } from './qmp-floor.js';

/**
 * Calls per client before timing. Larger than usual on purpose: our client has more code
 * for V8 to tier up than the others, and with 200 calls its optimising compiles were
 * still running (on a background thread competing with QEMU for 2 cores) during the
 * timed calls, which showed as a p99 several times the others'.
 */
const WARMUP = 2000;
const SERIAL_N = 3000;
/** Serial calls per client before switching to the next one. */
const SERIAL_BLOCK = 100;
const PIPELINED_N = 5000;
const PIPELINED_ROUNDS = 5;
/** Calls left pending at once when measuring a client's memory per queued call. */
const MEMORY_PENDING = 5000;
/** QMP_REQ_QUEUE_LEN_MAX in QEMU: with oob negotiated it queues at most 8 in-band commands. */
const OOB_WINDOW = 8;

const TARGET_SERIAL_P50_RATIO = 1.1;
const TARGET_PIPELINED_VS_NODE_QEMU = 2;

type ClientName = 'raw-floor' | 'cuju-qmp' | 'node-qemu';

/** What one client offers the measurement loops. */
interface Driver {
  /** One `query-status`, awaited. */
  serial(): Promise<unknown>;
  /** `n` `query-status` commands issued together; resolves when all are answered. */
  pipelined(n: number): Promise<void>;
  /** Name of the pipelined mode, which differs by what the client can do. */
  pipelinedMode: string;
  /** Whether `serial()` may be called many times without awaiting (the floor keeps one waiter). */
  concurrentCalls: boolean;
  /** Extra fields for the JSON lines. */
  info: BenchRecord;
  close(): Promise<void>;
}

interface Contender {
  name: ClientName;
  driver: Driver;
}

interface PipelinedSummary {
  n: number;
  wall_ms: number;
  ops_per_s: number;
}

/** Issues `n` calls at once and lets the client queue them however it does. */
function allAtOnce(call: () => Promise<unknown>): (n: number) => Promise<void> {
  return async (n) => {
    await Promise.all(Array.from({ length: n }, call));
  };
}

async function openRawFloor(path: string): Promise<Driver> {
  const floor = await RawQmpFloor.connect(path, { oob: true });
  return {
    serial: () => floor.queryStatus(),
    pipelined: (n) => floor.pipeline(n, OOB_WINDOW),
    pipelinedMode: 'pipelined-oob',
    concurrentCalls: false,
    info: { oob: true },
    close: async () => {
      if (floor.unexpectedLines > 0) note(`raw floor: ${floor.unexpectedLines} unexpected lines (events?)`);
      await floor.close();
    },
  };
}

async function openCuju(path: string): Promise<Driver> {
  const { QmpClient } = await loadCujuQmp();
  const client = await QmpClient.connect({ path });
  return {
    serial: () => client.execute('query-status'),
    // The client itself keeps at most 8 in flight and queues the rest.
    pipelined: allAtOnce(() => client.execute('query-status')),
    pipelinedMode: client.oob ? 'pipelined-oob' : 'pipelined',
    concurrentCalls: true,
    info: { oob: client.oob },
    close: () => client.close(),
  };
}

async function openNodeQemu(path: string): Promise<Driver> {
  const client = new QMPClient({ socketPath: path });
  await client.connect();
  return {
    serial: () => client.execute('query-status'),
    // node-qemu sends one command at a time and queues the rest FIFO: its best case.
    pipelined: allAtOnce(() => client.execute('query-status')),
    pipelinedMode: 'pipelined-fifo',
    concurrentCalls: true,
    info: { oob: false },
    close: () => client.close(),
  };
}

const CLIENTS: ReadonlyArray<{ name: ClientName; open: (path: string) => Promise<Driver> }> = [
  { name: 'raw-floor', open: openRawFloor },
  { name: 'cuju-qmp', open: openCuju },
  { name: 'node-qemu', open: openNodeQemu },
];

/** One QEMU per client, so no monitor state leaks from one client's run into another's. */
async function openContenders(teardown: Teardown): Promise<Contender[]> {
  const contenders: Contender[] = [];
  for (const { name, open } of CLIENTS) {
    const qemu = await startIdleQemu();
    teardown.add(() => qemu.stop());
    const driver = await open(qemu.qmpPath);
    teardown.add(() => driver.close());
    contenders.push({ name, driver });
  }
  return contenders;
}

async function warmUp(driver: Driver): Promise<void> {
  for (let i = 0; i < WARMUP; i++) await driver.serial();
  await driver.pipelined(WARMUP);
}

async function measureSerial(contenders: Contender[]): Promise<LatencySummary[]> {
  const samples = contenders.map((): number[] => []);
  const wall = contenders.map(() => 0);
  await interleave(contenders.length, SERIAL_N / SERIAL_BLOCK, async (i) => {
    wall[i]! += await serialBlock(contenders[i]!.driver.serial, SERIAL_BLOCK, samples[i]!);
  });
  return contenders.map((_, i) => summarizeLatencies(samples[i]!, wall[i]!));
}

async function measurePipelined(contenders: Contender[]): Promise<PipelinedSummary[]> {
  const perRound = PIPELINED_N / PIPELINED_ROUNDS;
  const wall = contenders.map(() => 0);
  await interleave(contenders.length, PIPELINED_ROUNDS, async (i) => {
    wall[i]! += await timed(() => contenders[i]!.driver.pipelined(perRound));
  });
  return wall.map((ms) => ({
    n: PIPELINED_N,
    wall_ms: round(ms),
    ops_per_s: round(opsPerSecond(PIPELINED_N, ms)),
  }));
}

/**
 * Heap held per pending call: a full collection while `MEMORY_PENDING` calls are queued
 * or in flight (no reply can arrive during the synchronous collection), and another once
 * all are answered, which should give back everything (a leak shows up as retained KiB).
 * The caller's own promises are included, the same for every client.
 */
async function measurePendingMemory(driver: Driver): Promise<BenchRecord> {
  const before = settledHeapKb();
  const calls = Array.from({ length: MEMORY_PENDING }, driver.serial);
  const pending = settledHeapKb();
  await Promise.all(calls);
  calls.length = 0;
  const after = settledHeapKb();
  return {
    pending: MEMORY_PENDING,
    bytes_per_pending_call: Math.round(((pending - before) * 1024) / MEMORY_PENDING),
    retained_after_kb: round(after - before),
  };
}

interface Results {
  serial: Map<ClientName, LatencySummary>;
  pipelined: Map<ClientName, PipelinedSummary>;
}

function summary({ serial, pipelined }: Results): BenchRecord {
  const serialRatio = serial.get('cuju-qmp')!.p50_us / serial.get('raw-floor')!.p50_us;
  const nodeQemuSerial = serial.get('node-qemu')!.ops_per_s;
  const pipelinedRatio = pipelined.get('cuju-qmp')!.ops_per_s / nodeQemuSerial;
  return {
    suite: 'qmp',
    summary: true,
    serial_p50_ratio_vs_floor: round(serialRatio, 3),
    serial_p50_target: TARGET_SERIAL_P50_RATIO,
    serial_p50_target_met: serialRatio <= TARGET_SERIAL_P50_RATIO,
    pipelined_vs_node_qemu_serial: round(pipelinedRatio, 2),
    pipelined_target: TARGET_PIPELINED_VS_NODE_QEMU,
    pipelined_target_met: pipelinedRatio >= TARGET_PIPELINED_VS_NODE_QEMU,
    // What the pipelined ratio could be at best: the floor's pipelined rate over the same divisor.
    floor_pipelined_vs_node_qemu_serial: round(pipelined.get('raw-floor')!.ops_per_s / nodeQemuSerial, 2),
    qemu: qemuVersion(),
  };
}

export async function run(): Promise<void> {
  const teardown = new Teardown();
  try {
    const contenders = await openContenders(teardown);
    const names = contenders.map((c) => c.name);
    note(`qmp: warming up ${names.join(', ')}`);
    for (const { driver } of contenders) await warmUp(driver);
    note(`qmp: serial, ${SERIAL_N} calls each in blocks of ${SERIAL_BLOCK}`);
    const serial = await measureSerial(contenders);
    note(`qmp: pipelined, ${PIPELINED_N} calls each in ${PIPELINED_ROUNDS} rounds`);
    const pipelined = await measurePipelined(contenders);
    contenders.forEach(({ name, driver }, i) => {
      printRecord({ suite: 'qmp', client: name, mode: 'serial', ...serial[i]!, ...driver.info });
      printRecord({
        suite: 'qmp',
        client: name,
        mode: driver.pipelinedMode,
        ...pipelined[i]!,
        ...driver.info,
      });
    });
    for (const { name, driver } of contenders) {
      if (!driver.concurrentCalls) continue;
      // The first pass only warms up what a first burst of 5000 calls allocates lazily.
      await measurePendingMemory(driver);
      printRecord({ suite: 'qmp', client: name, mode: 'memory', ...(await measurePendingMemory(driver)) });
    }
    // Targets are reported, never enforced: a benchmark on a shared machine is not a test.
    printRecord(
      summary({
        serial: new Map(names.map((name, i) => [name, serial[i]!])),
        pipelined: new Map(names.map((name, i) => [name, pipelined[i]!])),
      }),
    );
  } finally {
    await teardown.run();
  }
}
