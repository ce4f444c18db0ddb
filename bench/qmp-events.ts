/**
 * The qmp-events suite: events per second one connection can take in, the path an FT
 * service watching hundreds of VMs lives on. QEMU cannot emit a million events on
 * demand, so a flood server (peers/event-flood.mjs, plain Node, one process per
 * contender) answers `x-flood {"count": N}` with N events in QEMU's own line format and
 * then its `return`, as fast as the client reads.
 *
 * - raw-floor: node:net, lines split on LF, each line JSON.parse'd and handed to a
 *   callback: the least a client can do to give a caller each event as an object.
 * - cuju-qmp: our client with an `on('event')` listener (what the floor's callback is).
 * - cuju-qmp-stream: our client's `events()` async iterator (default buffer, drop-oldest).
 *
 * Each contender takes 1 M events in 20 interleaved rounds. Heap retained after the
 * rounds (a full collection before and after) shows that memory stays bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCujuQmp } from './lib/cuju-qmp.js';
import { BenchFailure, guarded, type Peer } from './lib/guard.js';
import { interleave, timed } from './lib/measure.js';
import { Teardown, watchChild } from './lib/qemu.js';
import { RawQmpLines } from './lib/raw-qmp-lines.js';
import { type BenchRecord, note, printRecord, round, settledHeapKb } from './lib/stats.js';

const EVENTS = 1_000_000;
const ROUNDS = 20;
const WARMUP_EVENTS = 100_000;
const ROUND_DEADLINE_MS = 120_000;
const START_DEADLINE_MS = 10_000;

export const TARGET_VS_FLOOR = 0.8;

const SERVER = fileURLToPath(new URL('./peers/event-flood.mjs', import.meta.url));

type ContenderName = 'raw-floor' | 'cuju-qmp' | 'cuju-qmp-stream';

interface Flooder {
  /** Asks for `count` events and resolves once all of them reached the consumer. */
  flood(count: number): Promise<void>;
  /** Events the consumer got (and, for a stream, lost to its overflow policy). */
  received(): { events: number; dropped: number };
  close(): Promise<void>;
}

interface Contender {
  name: ContenderName;
  flooder: Flooder;
  peer: Peer;
}

/** Starts a flood server on a fresh socket; resolves once it listens. */
async function startServer(teardown: Teardown, role: string): Promise<{ path: string; peer: Peer }> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-flood-'));
  const path = join(dir, 'flood.sock');
  const child: ChildProcess = spawn(process.execPath, [SERVER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { exited, stderr } = watchChild(child);
  teardown.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const peer: Peer = { name: `flood server pid ${child.pid} (${role})`, exited, stderr };
  const listening = new Promise<void>((resolve) => {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      if (s.includes('listening')) resolve();
    });
  });
  await guarded(`qmp-events: starting the flood server for ${role}`, listening, {
    timeoutMs: START_DEADLINE_MS,
    peers: [peer],
  });
  return { path, peer };
}

/** The floor: split, JSON.parse, hand over (lib/raw-qmp-lines.ts). */
async function openRawFloor(path: string): Promise<Flooder> {
  let events = 0;
  const lines = await RawQmpLines.connect(path, 'raw floor', {
    oob: true,
    onEvent: () => {
      events++;
    },
  });
  return {
    flood: async (count) => {
      await lines.send(`{"execute":"x-flood","arguments":{"count":${count}},"id":0}\n`);
    },
    received: () => ({ events, dropped: 0 }),
    close: () => lines.close(),
  };
}

async function openCuju(path: string, mode: 'listener' | 'stream'): Promise<Flooder> {
  const { QmpClient } = await loadCujuQmp();
  const client = await QmpClient.connect({ path });
  let events = 0;
  let dropped = 0;
  const flood = (count: number) =>
    client.execute('x-flood', { count }, { timeoutMs: ROUND_DEADLINE_MS }) as Promise<unknown>;
  if (mode === 'listener') {
    client.on('event', () => {
      events++;
    });
    return {
      flood: async (count) => {
        await flood(count);
      },
      received: () => ({ events, dropped }),
      close: () => client.close(),
    };
  }
  return {
    flood: async (count) => {
      const stream = client.events();
      const target = events + count;
      const consumed = (async () => {
        for await (const _ of stream) {
          events++;
          if (events + stream.dropped >= target) break;
        }
      })();
      await Promise.all([flood(count), consumed]);
      dropped += stream.dropped;
      stream.close();
    },
    received: () => ({ events, dropped }),
    close: () => client.close(),
  };
}

const CONTENDERS: ReadonlyArray<{ name: ContenderName; open: (path: string) => Promise<Flooder> }> = [
  { name: 'raw-floor', open: openRawFloor },
  { name: 'cuju-qmp', open: (path) => openCuju(path, 'listener') },
  { name: 'cuju-qmp-stream', open: (path) => openCuju(path, 'stream') },
];

export async function run(): Promise<void> {
  const teardown = new Teardown();
  try {
    const contenders: Contender[] = [];
    for (const { name, open } of CONTENDERS) {
      const { path, peer } = await startServer(teardown, name);
      const flooder = await guarded(`qmp-events: connecting ${name}`, open(path), {
        timeoutMs: START_DEADLINE_MS,
        peers: [peer],
      });
      teardown.add(() => flooder.close());
      contenders.push({ name, flooder, peer });
    }
    const guard = (c: Contender, step: string, work: () => Promise<number>) =>
      guarded(`qmp-events: ${c.name} ${step}`, work(), { timeoutMs: ROUND_DEADLINE_MS, peers: [c.peer] });

    note(`qmp-events: warming up (${WARMUP_EVENTS} events each)`);
    for (const c of contenders) await guard(c, 'warm-up', () => timed(() => c.flooder.flood(WARMUP_EVENTS)));
    const before = contenders.map((c) => c.flooder.received());
    const heapBefore = settledHeapKb();

    note(`qmp-events: ${EVENTS} events each in ${ROUNDS} interleaved rounds`);
    const wall = contenders.map(() => 0);
    await interleave(contenders.length, ROUNDS, async (i) => {
      const c = contenders[i]!;
      wall[i]! += await guard(c, 'flood round', () => timed(() => c.flooder.flood(EVENTS / ROUNDS)));
    });
    const retainedKb = settledHeapKb() - heapBefore;

    const rates = new Map<ContenderName, number>();
    contenders.forEach((c, i) => {
      const got = c.flooder.received();
      const events = got.events - before[i]!.events;
      const dropped = got.dropped - before[i]!.dropped;
      if (events + dropped !== EVENTS) {
        throw new BenchFailure(
          `qmp-events: ${c.name} got ${events} events (+${dropped} dropped), not ${EVENTS}`,
        );
      }
      const rate = EVENTS / (wall[i]! / 1000);
      rates.set(c.name, rate);
      printRecord({
        suite: 'qmp-events',
        client: c.name,
        events: EVENTS,
        delivered: events,
        dropped,
        wall_ms: round(wall[i]!),
        events_per_s: Math.round(rate),
      });
    });
    const ratio = rates.get('cuju-qmp')! / rates.get('raw-floor')!;
    const record: BenchRecord = {
      suite: 'qmp-events',
      summary: true,
      events_vs_floor: round(ratio, 3),
      target: TARGET_VS_FLOOR,
      target_met: ratio >= TARGET_VS_FLOOR,
      stream_vs_floor: round(rates.get('cuju-qmp-stream')! / rates.get('raw-floor')!, 3),
      // Everything the three connections keep after 3 M events (history rings, buffers).
      retained_after_kb: round(retainedKb),
    };
    printRecord(record);
  } finally {
    await teardown.run();
  }
}
