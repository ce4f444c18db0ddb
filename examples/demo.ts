/**
 * npm run demo: an FT pair of Cuju VMs on cuju-sim, as Cuju's master build (21f9f0b, the
 * default branch; `-sim-build master`) runs them, across two simulated hosts,
 * 127.0.0.2 (primary) and 127.0.0.3 (backup), each reached over SSH through a real
 * OpenSSH sshd that the demo starts when it runs as root (otherwise both run here
 * through LocalHost, and it says so). It shows each step, kills the primary, reports
 * the failover with the measured detection time, and stops every process it started.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Host, LocalHost, SshHost } from '@cuju/sdk';
import { simBinary } from '@cuju/sim';
// A throwaway sshd on a loopback address: temporary host and user keys, high port.
import { SSHD, type Sshd, startSshd } from '../scripts/lib/loopback-sshd.js';
import { parseCommandLine, runMain, UsageError } from './lib/cli.js';
import { runColo } from './lib/run-colo.js';
import { runPair, say } from './lib/run-pair.js';

const USAGE = `usage: npm run demo   (or: tsx examples/demo.ts)

An FT pair of Cuju VMs on cuju-sim: primary on 127.0.0.2, backup on 127.0.0.3, each
reached over SSH through its own loopback sshd when run as root (else both through
LocalHost). It kills the primary, reports the failover, and stops everything it started.

  --engine cuju|colo   cuju (default): the above. colo: QEMU COLO on stock
                       qemu-system-x86_64 (TCG, both VMs here): up, protected, the
                       primary killed, failover, a new secondary, protected again,
                       with measured times
  --help   this text

Exit status: 0 the pair was protected and failed over; 1 it was not.`;

/** The Cuju build the demo runs: master, Cuju's default branch (groupft and blk-server are the others). */
const BUILD = 'master';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function sshHost(address: string, sshds: Sshd[]): Promise<Host> {
  const sshd = await startSshd({ host: address });
  sshds.push(sshd);
  say(`sshd for ${address} on port ${sshd.port} (host key ${sshd.hostFingerprint})`);
  return SshHost.connect({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.userKey,
    hostKey: { sha256: sshd.hostFingerprint },
    address,
  });
}

/** Debian's QEMU 7.2 deadlocks a COLO primary at its first periodic checkpoint: the demo keeps them out of its way. */
const COLO_CHECKPOINT_DELAY_MS = 3_600_000;

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, { usage: USAGE, options: { engine: { type: 'string' } } });
  if (!parsed) return 0;
  const engine = parsed.values.engine ?? 'cuju';
  if (engine !== 'cuju' && engine !== 'colo')
    throw new UsageError(`--engine must be cuju or colo, got '${engine}'`);
  if (engine === 'colo') return demoColo();
  const workDir = mkdtempSync(join(tmpdir(), 'cuju-demo-'));
  const sshds: Sshd[] = [];
  const hosts: Host[] = [];
  try {
    const viaSsh = process.getuid?.() === 0 && existsSync(SSHD);
    if (viaSsh) {
      say('running as root: each simulated host gets its own sshd on loopback');
      hosts.push(await sshHost('127.0.0.2', sshds), await sshHost('127.0.0.3', sshds));
    } else {
      say('not root (or no /usr/sbin/sshd): both VMs run here through LocalHost, no SSH');
      hosts.push(new LocalHost({ address: '127.0.0.2' }), new LocalHost({ address: '127.0.0.3' }));
    }
    const [primary, backup] = hosts as [Host, Host];
    return await runPair({
      primary,
      backup,
      // The simulator is told the build the SDK is told: one source for both.
      binary: { ...simBinary, args: [...simBinary.args, '-sim-build', BUILD] },
      build: BUILD,
      workDir,
      ftPort: await freePort(),
    });
  } finally {
    await Promise.allSettled(hosts.map((h) => h.close()));
    await Promise.allSettled(sshds.map((s) => s.stop()));
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function demoColo(): Promise<number> {
  const workDir = mkdtempSync(join(tmpdir(), 'cuju-demo-colo-'));
  const host = new LocalHost({ address: '127.0.0.1' });
  try {
    say('QEMU COLO: both VMs run here through LocalHost, on loopback');
    return await runColo({
      host,
      workDir,
      ftPort: await freePort(),
      checkpointDelayMs: COLO_CHECKPOINT_DELAY_MS,
    });
  } finally {
    await host.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

runMain(USAGE, () => main(process.argv.slice(2)));
