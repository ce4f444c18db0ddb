/**
 * The FT pair job shared by `npm run demo` and examples/ft-pair.ts: start the pair,
 * show every step, prove the protection by killing the primary, report the failover
 * and its detection time, and stop everything.
 */
import {
  type CujuBinary,
  type CujuBuildName,
  cujuBuild,
  FtPair,
  type FtPairRecord,
  type Host,
} from '@cuju/sdk';

export interface PairJob {
  primary: Host;
  backup: Host;
  binary: CujuBinary;
  /** The Cuju build the binary is (default master, Cuju's default branch). */
  build?: CujuBuildName;
  /** A directory that exists on both hosts (monitors and logs go there). */
  workDir: string;
  ftPort: number;
  /** Kill the primary once protected and measure the takeover (default true). */
  testFailover?: boolean;
  /** The guest's raw disk image, on both hosts (default: no disk). */
  image?: string;
  /**
   * Leave the protected pair running: called with its record once protected, then the
   * pair is detached (its VMs run on) instead of stopped. No failover test.
   */
  leaveRunning?: (record: FtPairRecord) => void;
}

const t0 = Date.now();
const stamp = () => `${String(Date.now() - t0).padStart(6)} ms`;
export const say = (text: string) => console.log(`${stamp()}  ${text}`);

export async function runPair(job: PairJob): Promise<number> {
  const build = cujuBuild(job.build ?? 'master');
  const pair = new FtPair({
    primary: job.primary,
    backup: job.backup,
    build,
    vm: {
      name: 'vm1',
      memory: '1G',
      nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:25' },
      monitorPath: `${job.workDir}/vm1.monitor`,
      ...(job.image ? { image: job.image } : {}),
    },
    binary: job.binary,
    ftPort: job.ftPort,
  });
  pair.on('state', (c) =>
    say(`state ${c.state}${c.reason ? ` (${c.reason})` : ''}${c.detail ? `: ${c.detail}` : ''}`),
  );
  pair.on('marker', (m) => say(`  ${m.side} stdout: ${m.line}`));
  let leftRunning = false;
  const stop = async () => {
    if (leftRunning) return;
    say('stopping both VMs');
    await pair.down();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    say(`Cuju build: ${build.name} (${build.commit}): ${build.summary}`);
    say(`primary on ${job.primary.name}, backup on ${job.backup.name} (FT port ${job.ftPort})`);
    await pair.up();
    say('the VM is protected: every epoch is committed on the backup');
    if (job.leaveRunning) {
      job.leaveRunning(pair.record());
      await pair.detach();
      leftRunning = true;
      return 0;
    }
    if (job.testFailover !== false) {
      say('killing the primary (SIGKILL) to prove it');
      const report = await pair.testFailover();
      const ms = (v: number | undefined) => (v === undefined ? 'unknown' : String(v));
      say(
        `failover detected via ${report.via} (first sign: ${report.firstSign}): death to detection ` +
          `${ms(report.deathToDetectionMs)} ms, death to running ${ms(report.deathToRunningMs)} ms; the backup runs the VM`,
      );
      say(
        `  (counted from the death as the primary's host recorded it, its monotonic stamp; the kill itself took ${ms(report.killMs)} ms, kill to death ${ms(report.killToDeathMs)} ms)`,
      );
    }
    return 0;
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await stop();
  }
}
