/**
 * `npm run demo -- --engine colo`: the FT pair story on QEMU COLO (stock
 * qemu-system-x86_64, TCG, diskless, NIC-less) through the same FtPair: up, protected,
 * the primary killed, the failover, a new secondary from the survivor, protected again,
 * each step with its measured time; everything stopped at the end.
 */
import { FtPair, type Host } from '@cuju/sdk';
import { say } from './run-pair.js';

export interface ColoJob {
  host: Host;
  /** A directory on the host for the monitors and logs. */
  workDir: string;
  ftPort: number;
  /** x-checkpoint-delay (ms). */
  checkpointDelayMs: number;
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await work();
  say(`${what} in ${Math.round(performance.now() - start)} ms`);
  return result;
}

export async function runColo(job: ColoJob): Promise<number> {
  const pair = new FtPair({
    engine: 'colo',
    primary: job.host,
    backup: job.host,
    vm: { name: 'vm1', memory: 64, monitorPath: `${job.workDir}/vm1.qmp` },
    binary: { path: 'qemu-system-x86_64' },
    ftPort: job.ftPort,
    colo: { checkpointDelayMs: job.checkpointDelayMs },
    // TCG on a shared machine: generous deadlines (they are limits, not expectations).
    timeouts: { launchMs: 60_000, syncMs: 120_000, failoverMs: 60_000 },
    watchdog: { thresholdMs: 120_000 },
  });
  pair.on('state', (c) =>
    say(`state ${c.state}${c.reason ? ` (${c.reason})` : ''}${c.detail ? `: ${c.detail}` : ''}`),
  );
  const stop = async () => {
    say('stopping both VMs');
    await pair.down();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    say(`engine: QEMU COLO (x-colo, x-checkpoint-delay ${job.checkpointDelayMs} ms), FT port ${job.ftPort}`);
    await timed('protected (primary MIGRATION colo, secondary COLO mode secondary)', () => pair.up());
    say('killing the primary (SIGKILL) to prove it');
    const report = await pair.testFailover();
    say(
      `failover: first sign ${report.firstSign} ${report.deathToDetectionMs ?? '?'} ms after the primary died, the secondary ran the guest ${report.deathToRunningMs ?? '?'} ms after it (via ${report.via})`,
    );
    await timed('protected again by a new secondary from the survivor', () => pair.restartSecondary());
    return 0;
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await stop();
  }
}
