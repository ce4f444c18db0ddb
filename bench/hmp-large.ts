/**
 * The hmp-large suite: one HMP command with about 1 MB of output (`xp /65536wx 0`, a hex
 * dump of the first 256 KiB of guest memory, 1 032 192 bytes) on a
 * `qemu-system-x86_64 -M pc -m 64 -S` that has both a readline monitor and a QMP monitor,
 * four ways in the same run:
 *
 * - hmp-floor: node:net on the readline socket, done when the bytes end with the prompt;
 * - cuju-hmp: our HmpClient on the readline socket;
 * - qmp-floor: node:net on the QMP socket, `human-monitor-command`, the reply line
 *   joined and JSON.parse'd (the least that hands a caller the text);
 * - cuju-qmp-hmp: our QmpClient's `hmp()`.
 *
 * Each monitor serves one client at a time, so contenders take turns in interleaved
 * rounds: connect, run a few commands (each timed), close. Connecting is not timed.
 */
import { RawHmpFloor } from './hmp-floor.js';
import { loadCujuQmp } from './lib/cuju-qmp.js';
import { BenchFailure, guarded, type Peer } from './lib/guard.js';
import { interleave } from './lib/measure.js';
import { startQemu, Teardown } from './lib/qemu.js';
import { RawQmpLines } from './lib/raw-qmp-lines.js';
import { note, printRecord, quantile, round } from './lib/stats.js';

const COMMAND = 'xp /65536wx 0';
const ROUNDS = 5;
const CALLS_PER_ROUND = 6;
const WARMUP_CALLS = 5;
const BLOCK_DEADLINE_MS = 120_000;
const CALL_TIMEOUT_MS = 60_000;

export const TARGET_QMP_HMP_VS_HMP_CLIENT = 1.1;

type ContenderName = 'hmp-floor' | 'cuju-hmp' | 'qmp-floor' | 'cuju-qmp-hmp';

interface Session {
  /** Runs the command; resolves with the output's length in characters (or bytes, for the HMP floor). */
  call(): Promise<number>;
  close(): Promise<void>;
}

/** human-monitor-command over a bare socket: reply line joined once, parsed once (lib/raw-qmp-lines.ts). */
async function openQmpFloor(path: string): Promise<Session> {
  const lines = await RawQmpLines.connect(path, 'qmp-floor', { oob: false });
  const command = `{"execute":"human-monitor-command","arguments":{"command-line":"${COMMAND}"},"id":0}\n`;
  return {
    call: async () => ((await lines.send(command)).return as string).length,
    close: () => lines.close(),
  };
}

export async function run(): Promise<void> {
  const teardown = new Teardown();
  try {
    const qemu = await startQemu({ machine: 'pc', hmp: true });
    teardown.add(() => qemu.stop());
    const peer: Peer = { name: `QEMU pid ${qemu.pid}`, exited: qemu.exited, stderr: qemu.stderr };
    const guard = <T>(what: string, work: () => Promise<T>) =>
      guarded(`hmp-large: ${what}`, work(), { timeoutMs: BLOCK_DEADLINE_MS, peers: [peer] });
    const { HmpClient, QmpClient } = await loadCujuQmp();

    const openers: Record<ContenderName, () => Promise<Session>> = {
      'hmp-floor': async () => {
        const floor = await RawHmpFloor.connect(qemu.hmpPath);
        return {
          call: async () => {
            await floor.run(COMMAND);
            return floor.received;
          },
          close: () => floor.close(),
        };
      },
      'cuju-hmp': async () => {
        const client = await HmpClient.connect({ path: qemu.hmpPath });
        return {
          call: async () => (await client.run(COMMAND, { timeoutMs: CALL_TIMEOUT_MS })).length,
          close: () => client.close(),
        };
      },
      'qmp-floor': () => openQmpFloor(qemu.qmpPath),
      'cuju-qmp-hmp': async () => {
        const client = await QmpClient.connect({ path: qemu.qmpPath });
        return {
          call: async () => (await client.hmp(COMMAND, { timeoutMs: CALL_TIMEOUT_MS })).length,
          close: () => client.close(),
        };
      },
    };
    const names = Object.keys(openers) as ContenderName[];

    // Our two clients must return the same text, or there is nothing to compare.
    const lengths = await guard('output check', async () => {
      const out: Record<string, number> = {};
      for (const name of ['cuju-hmp', 'cuju-qmp-hmp'] as const) {
        const s = await openers[name]();
        out[name] = await s.call();
        await s.close();
      }
      return out;
    });
    if (lengths['cuju-hmp'] !== lengths['cuju-qmp-hmp'] || (lengths['cuju-hmp'] ?? 0) < 1_000_000) {
      throw new BenchFailure(`hmp-large: outputs differ or are short: ${JSON.stringify(lengths)}`);
    }

    const samples = new Map<ContenderName, number[]>(names.map((n) => [n, []]));
    const block = async (name: ContenderName, n: number, keep: boolean) => {
      const session = await openers[name]();
      try {
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await session.call();
          if (keep) samples.get(name)!.push(performance.now() - t0);
        }
      } finally {
        await session.close();
      }
    };
    note(`hmp-large: warming up (${WARMUP_CALLS} calls each)`);
    for (const name of names) await guard(`${name} warm-up`, () => block(name, WARMUP_CALLS, false));
    note(`hmp-large: ${ROUNDS} rounds of ${CALLS_PER_ROUND} '${COMMAND}' per contender`);
    await interleave(names.length, ROUNDS, (i) =>
      guard(`${names[i]} round`, () => block(names[i]!, CALLS_PER_ROUND, true)),
    );

    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const means = new Map<ContenderName, number>();
    for (const name of names) {
      const xs = samples.get(name)!;
      const sorted = [...xs].sort((a, b) => a - b);
      means.set(name, mean(xs));
      printRecord({
        suite: 'hmp-large',
        client: name,
        command: COMMAND,
        output_chars: lengths['cuju-hmp']!,
        n: xs.length,
        p50_ms: round(quantile(sorted, 0.5), 2),
        mean_ms: round(mean(xs), 2),
        max_ms: round(sorted[sorted.length - 1]!, 2),
      });
    }
    const ratio = (a: ContenderName, b: ContenderName) => round(means.get(a)! / means.get(b)!, 3);
    const qmpOverHmp = means.get('cuju-qmp-hmp')! / means.get('cuju-hmp')!;
    printRecord({
      suite: 'hmp-large',
      summary: true,
      qmp_hmp_over_hmp_client: round(qmpOverHmp, 3),
      target: TARGET_QMP_HMP_VS_HMP_CLIENT,
      target_met: qmpOverHmp <= TARGET_QMP_HMP_VS_HMP_CLIENT,
      hmp_client_over_floor: ratio('cuju-hmp', 'hmp-floor'),
      qmp_hmp_over_floor: ratio('cuju-qmp-hmp', 'qmp-floor'),
    });
  } finally {
    await teardown.run();
  }
}
