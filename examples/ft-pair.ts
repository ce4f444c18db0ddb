/**
 * An FT pair on two hosts, from the command line:
 *
 *   tsx examples/ft-pair.ts --local
 *   tsx examples/ft-pair.ts --primary root@192.168.111.1 --backup root@192.168.111.2 \
 *       --key ~/.ssh/id_ed25519 [--known-hosts ~/.ssh/known_hosts] \
 *       --cuju /opt/cuju/x86_64-softmmu/qemu-system-x86_64 --work-dir /home/cuju [--port 4441] [--no-failover-test]
 *
 * With --local both VMs are cuju-sim processes on this machine. Over SSH the host keys
 * are checked against known_hosts (there is no accept-any switch), and the Cuju binary
 * and the work directory must exist on both hosts.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Host, LocalHost } from '@cuju/sdk';
import { connectSsh, Options, runMain } from './lib/cli.js';
import { runPair } from './lib/run-pair.js';

const USAGE =
  'usage: tsx examples/ft-pair.ts --local | --primary USER@HOST[:PORT] --backup USER@HOST[:PORT] --key FILE [--known-hosts FILE] --cuju BINARY --work-dir DIR [--port 4441] [--no-failover-test]';

async function main(argv: string[]): Promise<number> {
  const opts = new Options(argv, USAGE);
  const str = (k: string) => opts.str(k);
  const port = Number(str('port') ?? 4441);
  const testFailover = !opts.has('no-failover-test');
  if (opts.has('local')) {
    const sim = fileURLToPath(new URL('../packages/cuju-sim/bin/cuju-sim.mjs', import.meta.url));
    const { mkdtempSync, rmSync } = await import('node:fs');
    const workDir = mkdtempSync(join((await import('node:os')).tmpdir(), 'cuju-ft-pair-'));
    try {
      const host = new LocalHost();
      return await runPair({
        primary: host,
        backup: host,
        binary: { path: process.execPath, args: [sim] },
        workDir,
        ftPort: port,
        testFailover,
      });
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
  const [primaryTarget, backupTarget, key, cuju, workDir] = [
    'primary',
    'backup',
    'key',
    'cuju',
    'work-dir',
  ].map(str);
  if (!primaryTarget || !backupTarget || !key || !cuju || !workDir) {
    console.error(USAGE);
    return 2;
  }
  const knownHosts = str('known-hosts');
  const hosts: Host[] = [];
  try {
    hosts.push(
      await connectSsh(primaryTarget, key, knownHosts),
      await connectSsh(backupTarget, key, knownHosts),
    );
    const [primary, backup] = hosts as [Host, Host];
    return await runPair({ primary, backup, binary: { path: cuju }, workDir, ftPort: port, testFailover });
  } finally {
    await Promise.allSettled(hosts.map((h) => h.close()));
  }
}

runMain(() => main(process.argv.slice(2)));
