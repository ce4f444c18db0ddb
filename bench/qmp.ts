/**
 * The QMP suite: `query-status` against `qemu-system-x86_64 -M none -S`, for a raw-socket
 * floor, our client (@cuju/qmp) and node-qemu, each connected to its own fresh QEMU.
 *
 * - serial: one command at a time (round-trip latency);
 * - pipelined: many commands issued at once, each client queueing them its own way
 *   (throughput); node-qemu's pipelined mode is its FIFO queue, one in flight;
 * - pending: 10 000 calls issued in one synchronous loop: CPU per call to issue them and
 *   heap held per pending call while they wait (QEMU answers none until the loop ends).
 *
 * `query-status` is chosen because QEMU does almost nothing to answer it, so the numbers
 * are about the monitor path and the client. The clients are measured in interleaved
 * blocks (see lib/measure.ts); every block runs under a deadline and fails the suite if
 * the contender's QEMU dies (lib/guard.ts).
 */
import { QMPClient } from 'node-qemu';
import { loadCujuQmp } from './lib/cuju-qmp.js';
import { guarded, type Peer } from './lib/guard.js';
import { interleave, serialBlock, timed } from './lib/measure.js';
import { type QemuProcess, qemuVersion, startIdleQemu, Teardown } from './lib/qemu.js';
import {
  type BenchRecord,
  type LatencySummary,
  median,
  note,
  opsPerSecond,
  printRecord,
  round,
  settledHeapKb,
  summarizeLatencies,
} from './lib/stats.js';
import { OOB_WINDOW, RawQmpFloor } from './qmp-floor.js';

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
/** Calls left pending at once when measuring a client's memory and CPU per queued call. */
const PENDING = 10_000;
/** Pending measurements per client; the median is reported (the first, a warm-up, is not). */
const PENDING_REPEATS = 5;
/** Deadline for one block of work (a serial block, a pipelined round, 10 000 pending calls). */
const BLOCK_DEADLINE_MS = 60_000;

export const TARGETS = {
  serialP50VsFloor: 1.1,
  pipelinedVsNodeQemuPipelined: 1,
  bytesPerPendingCall: 700,
  issueUsPerCall: 10,
};

type ClientName = 'raw-floor' | 'cuju-qmp' | 'node-qemu';

/** What one client offers the measurement loops. */
interface Driver {
  /** One `query-status`, awaited. */
  serial(): Promise<unknown>;
  /** `n` `query-status` commands issued together; resolves when all are answered. */
  pipelined(n: number): Promise<void>;
  /** One `query-status` that may be issued while others are pending. */
  concurrent(): Promise<unknown>;
  /** Name of the pipelined mode, which differs by what the client can do. */
  pipelinedMode: string;
  /** Bytes of one `query-status` request on the wire. */
  requestBytes: number;
  /** Extra fields for the JSON lines. */
  info: BenchRecord;
  close(): Promise<void>;
}

interface Contender {
  name: ClientName;
  driver: Driver;
  peer: Peer;
}

interface PipelinedSummary {
  n: number;
  wall_ms: number;
  ops_per_s: number;
}

interface PendingSummary {
  pending: number;
  bytes_per_pending_call: number;
  bytes_min: number;
  bytes_max: number;
  issue_us_per_call: number;
  issue_us_min: number;
  issue_us_max: number;
  issue_cpu_us_per_call: number;
  retained_after_kb: number;
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
    concurrent: () => floor.call(OOB_WINDOW),
    pipelinedMode: 'pipelined-oob',
    requestBytes: Buffer.byteLength('{"execute":"query-status","id":0}\n'),
    info: { oob: true, window: OOB_WINDOW },
    close: async () => {
      if (floor.unexpectedLines > 0) note(`raw floor: ${floor.unexpectedLines} unexpected lines (events?)`);
      await floor.close();
    },
  };
}

async function openCuju(path: string): Promise<Driver> {
  const { QmpClient } = await loadCujuQmp();
  // The request size, read from a traced connection of its own: the largest of the last
  // calls of a burst as long as the measurement's, since ids may grow with use.
  let requestBytes = 0;
  let traced = 0;
  const probe = await QmpClient.connect({
    path,
    trace: (e) => {
      if (e.direction === 'out' && e.command === 'query-status' && ++traced > PENDING - 100) {
        requestBytes = Math.max(requestBytes, e.bytes);
      }
    },
  });
  await Promise.all(Array.from({ length: PENDING }, () => probe.execute('query-status')));
  await probe.close();
  const client = await QmpClient.connect({ path });
  const call = () => client.execute('query-status');
  return {
    serial: call,
    // The client itself keeps at most 7 in flight and queues the rest.
    pipelined: allAtOnce(call),
    concurrent: call,
    pipelinedMode: client.oob ? 'pipelined-oob' : 'pipelined',
    requestBytes,
    info: { oob: client.oob },
    close: () => client.close(),
  };
}

async function openNodeQemu(path: string): Promise<Driver> {
  const client = new QMPClient({ socketPath: path });
  await client.connect();
  const call = () => client.execute('query-status');
  return {
    serial: call,
    // node-qemu sends one command at a time and queues the rest FIFO: its pipelined mode.
    pipelined: allAtOnce(call),
    concurrent: call,
    pipelinedMode: 'pipelined-fifo',
    // No id, and a CRLF line end.
    requestBytes: Buffer.byteLength('{"execute":"query-status"}\r\n'),
    info: { oob: false },
    close: () => client.close(),
  };
}

const CLIENTS: ReadonlyArray<{ name: ClientName; open: (path: string) => Promise<Driver> }> = [
  { name: 'raw-floor', open: openRawFloor },
  { name: 'cuju-qmp', open: openCuju },
  { name: 'node-qemu', open: openNodeQemu },
];

export function qemuPeer(qemu: QemuProcess, role: string): Peer {
  return { name: `QEMU pid ${qemu.pid} (${role})`, exited: qemu.exited, stderr: qemu.stderr };
}

/** One QEMU per client, so no monitor state leaks from one client's run into another's. */
async function openContenders(teardown: Teardown): Promise<Contender[]> {
  const contenders: Contender[] = [];
  for (const { name, open } of CLIENTS) {
    const qemu = await startIdleQemu();
    teardown.add(() => qemu.stop());
    const peer = qemuPeer(qemu, name);
    const driver = await guarded(`qmp: connecting ${name}`, open(qemu.qmpPath), {
      timeoutMs: BLOCK_DEADLINE_MS,
      peers: [peer],
    });
    teardown.add(() => driver.close());
    contenders.push({ name, driver, peer });
  }
  return contenders;
}

function guard<T>(c: Contender, step: string, work: () => Promise<T>): Promise<T> {
  return guarded(`qmp: ${c.name} ${step}`, work(), { timeoutMs: BLOCK_DEADLINE_MS, peers: [c.peer] });
}

async function warmUp(c: Contender): Promise<void> {
  for (let i = 0; i < WARMUP / SERIAL_BLOCK; i++) {
    await guard(c, 'warm-up', () => serialBlock(c.driver.serial, SERIAL_BLOCK, []));
  }
  await guard(c, 'warm-up (pipelined)', () => c.driver.pipelined(WARMUP));
}

async function measureSerial(contenders: Contender[]): Promise<LatencySummary[]> {
  const samples = contenders.map((): number[] => []);
  const wall = contenders.map(() => 0);
  await interleave(contenders.length, SERIAL_N / SERIAL_BLOCK, async (i) => {
    const c = contenders[i]!;
    wall[i]! += await guard(c, 'serial block', () => serialBlock(c.driver.serial, SERIAL_BLOCK, samples[i]!));
  });
  return contenders.map((_, i) => summarizeLatencies(samples[i]!, wall[i]!));
}

async function measurePipelined(contenders: Contender[]): Promise<PipelinedSummary[]> {
  const perRound = PIPELINED_N / PIPELINED_ROUNDS;
  const wall = contenders.map(() => 0);
  await interleave(contenders.length, PIPELINED_ROUNDS, async (i) => {
    const c = contenders[i]!;
    wall[i]! += await guard(c, 'pipelined round', () => timed(() => c.driver.pipelined(perRound)));
  });
  return wall.map((ms) => ({
    n: PIPELINED_N,
    wall_ms: round(ms),
    ops_per_s: round(opsPerSecond(PIPELINED_N, ms)),
  }));
}

/**
 * One pass: a full collection, `PENDING` calls issued in one synchronous loop (timed),
 * a full collection while they all wait (no reply can be handled during synchronous
 * code), then the same once all are answered. The caller's own promises are included,
 * the same for every client.
 */
interface PendingPass {
  bytes: number;
  issueUs: number;
  cpuUs: number;
  retainedKb: number;
}

async function pendingPass(driver: Driver): Promise<PendingPass> {
  const before = settledHeapKb();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const calls = Array.from({ length: PENDING }, driver.concurrent);
  const issueMs = performance.now() - start;
  const cpuUsed = process.cpuUsage(cpu);
  const pending = settledHeapKb();
  await Promise.all(calls);
  calls.length = 0;
  const after = settledHeapKb();
  return {
    bytes: ((pending - before) * 1024) / PENDING,
    issueUs: (issueMs * 1000) / PENDING,
    // CPU of every thread of the process (GC helpers included), not only wall time.
    cpuUs: (cpuUsed.user + cpuUsed.system) / PENDING,
    retainedKb: after - before,
  };
}

async function measurePending(c: Contender): Promise<PendingSummary> {
  const passes: PendingPass[] = [];
  for (let i = 0; i <= PENDING_REPEATS; i++) {
    const pass = await guard(c, `${PENDING} pending calls`, () => pendingPass(c.driver));
    // The first pass warms up what a first burst of calls allocates lazily.
    if (i > 0) passes.push(pass);
  }
  const bytes = passes.map((p) => p.bytes);
  const issue = passes.map((p) => p.issueUs);
  return {
    pending: PENDING,
    bytes_per_pending_call: Math.round(median(bytes)),
    bytes_min: Math.round(Math.min(...bytes)),
    bytes_max: Math.round(Math.max(...bytes)),
    issue_us_per_call: round(median(issue), 2),
    issue_us_min: round(Math.min(...issue), 2),
    issue_us_max: round(Math.max(...issue), 2),
    issue_cpu_us_per_call: round(median(passes.map((p) => p.cpuUs)), 2),
    retained_after_kb: round(median(passes.map((p) => p.retainedKb))),
  };
}

interface Results {
  serial: Map<ClientName, LatencySummary>;
  pipelined: Map<ClientName, PipelinedSummary>;
  pending: Map<ClientName, PendingSummary>;
  requestBytes: Map<ClientName, number>;
}

function summary({ serial, pipelined, pending, requestBytes }: Results): BenchRecord {
  const cuju = (m: Map<ClientName, number>) => m.get('cuju-qmp')!;
  const ratio = (a: number, b: number, digits = 3) => round(a / b, digits);
  const serialRatio = serial.get('cuju-qmp')!.p50_us / serial.get('raw-floor')!.p50_us;
  const pipelinedRatio = pipelined.get('cuju-qmp')!.ops_per_s / pipelined.get('node-qemu')!.ops_per_s;
  const bytes = new Map([...pending].map(([k, v]) => [k, v.bytes_per_pending_call]));
  const issue = new Map([...pending].map(([k, v]) => [k, v.issue_us_per_call]));
  return {
    suite: 'qmp',
    summary: true,
    serial_p50_ratio_vs_floor: round(serialRatio, 3),
    serial_p50_target: TARGETS.serialP50VsFloor,
    serial_p50_target_met: serialRatio <= TARGETS.serialP50VsFloor,
    pipelined_vs_node_qemu_pipelined: round(pipelinedRatio, 3),
    pipelined_target: TARGETS.pipelinedVsNodeQemuPipelined,
    pipelined_target_met: pipelinedRatio >= TARGETS.pipelinedVsNodeQemuPipelined,
    pipelined_vs_floor: ratio(pipelined.get('cuju-qmp')!.ops_per_s, pipelined.get('raw-floor')!.ops_per_s),
    // What node-qemu's way costs QEMU: the floor's pipelined rate over node-qemu's.
    floor_pipelined_vs_node_qemu_pipelined: ratio(
      pipelined.get('raw-floor')!.ops_per_s,
      pipelined.get('node-qemu')!.ops_per_s,
    ),
    bytes_per_pending_call: cuju(bytes),
    bytes_target: TARGETS.bytesPerPendingCall,
    bytes_target_met: cuju(bytes) <= TARGETS.bytesPerPendingCall,
    pending_bytes_vs_floor: ratio(cuju(bytes), bytes.get('raw-floor')!),
    pending_bytes_vs_node_qemu: ratio(cuju(bytes), bytes.get('node-qemu')!),
    issue_us_per_call: cuju(issue),
    issue_target: TARGETS.issueUsPerCall,
    issue_target_met: cuju(issue) <= TARGETS.issueUsPerCall,
    issue_us_vs_floor: ratio(cuju(issue), issue.get('raw-floor')!),
    issue_us_vs_node_qemu: ratio(cuju(issue), issue.get('node-qemu')!),
    issue_cpu_us_per_call: pending.get('cuju-qmp')!.issue_cpu_us_per_call,
    request_bytes: cuju(requestBytes),
    floor_request_bytes: requestBytes.get('raw-floor')!,
    node_qemu_request_bytes: requestBytes.get('node-qemu')!,
    qemu: qemuVersion(),
  };
}

export async function run(): Promise<void> {
  const teardown = new Teardown();
  try {
    const contenders = await openContenders(teardown);
    const names = contenders.map((c) => c.name);
    note(`qmp: warming up ${names.join(', ')}`);
    for (const c of contenders) await warmUp(c);
    note(`qmp: serial, ${SERIAL_N} calls each in blocks of ${SERIAL_BLOCK}`);
    const serial = await measureSerial(contenders);
    note(`qmp: pipelined, ${PIPELINED_N} calls each in ${PIPELINED_ROUNDS} rounds`);
    const pipelined = await measurePipelined(contenders);
    note(`qmp: ${PENDING} pending calls, ${PENDING_REPEATS} passes each`);
    const pending: PendingSummary[] = [];
    for (const c of contenders) pending.push(await measurePending(c));
    contenders.forEach(({ name, driver }, i) => {
      const base = { suite: 'qmp', client: name, request_bytes: driver.requestBytes, ...driver.info };
      printRecord({ ...base, mode: 'serial', ...serial[i]! });
      printRecord({ ...base, mode: driver.pipelinedMode, ...pipelined[i]! });
      printRecord({ ...base, mode: 'pending', ...pending[i]! });
    });
    // Targets are reported, never enforced: a benchmark on a shared machine is not a test.
    const byName = <T>(list: T[]) => new Map(names.map((name, i) => [name, list[i]!]));
    printRecord(
      summary({
        serial: byName(serial),
        pipelined: byName(pipelined),
        pending: byName(pending),
        requestBytes: new Map(contenders.map((c) => [c.name, c.driver.requestBytes])),
      }),
    );
  } finally {
    await teardown.run();
  }
}
