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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Host, LocalHost } from '@cuju/sdk';
import { simBinary } from '@cuju/sim';
import {
  connectSsh,
  parseCommandLine,
  requireOptions,
  runMain,
  sshTarget,
  UsageError,
  wholeNumber,
} from './lib/cli.js';
import { runPair } from './lib/run-pair.js';

const USAGE = `usage: tsx examples/ft-pair.ts --local [--port 4441] [--no-failover-test]
       tsx examples/ft-pair.ts --primary USER@HOST[:PORT] --backup USER@HOST[:PORT] --key FILE
           [--known-hosts FILE] --cuju BINARY --work-dir DIR [--port 4441] [--no-failover-test]

  --local             both VMs are cuju-sim processes on this machine
  --primary, --backup the two hosts, over SSH (host keys checked against known_hosts)
  --key FILE          the SSH private key
  --known-hosts FILE  default ~/.ssh/known_hosts
  --cuju BINARY       Cuju's qemu-system-x86_64 on both hosts
  --work-dir DIR      a directory on both hosts for monitors and logs
  --port N            the FT port on the backup (default 4441)
  --no-failover-test  stop once protected instead of killing the primary to prove it
  --help              this text

Exit status: 0 protected (and failed over when tested); 1 it was not; 2 bad arguments.`;

const SSH_OPTIONS = ['primary', 'backup', 'key', 'known-hosts', 'cuju', 'work-dir'] as const;

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    usage: USAGE,
    options: {
      local: { type: 'boolean' },
      primary: { type: 'string' },
      backup: { type: 'string' },
      key: { type: 'string' },
      'known-hosts': { type: 'string' },
      cuju: { type: 'string' },
      'work-dir': { type: 'string' },
      port: { type: 'string' },
      'no-failover-test': { type: 'boolean' },
    },
  });
  if (!args) return 0;
  const { values } = args;
  const ftPort = wholeNumber('--port', values.port ?? '4441', 1, 65535);
  const testFailover = values['no-failover-test'] !== true;

  if (values.local) {
    const given = SSH_OPTIONS.filter((o) => values[o] !== undefined);
    if (given.length > 0) throw new UsageError(`--local takes no ${given.map((o) => `--${o}`).join(', ')}`);
    const workDir = mkdtempSync(join(tmpdir(), 'cuju-ft-pair-'));
    try {
      const host = new LocalHost();
      return await runPair({ primary: host, backup: host, binary: simBinary, workDir, ftPort, testFailover });
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }

  requireOptions(values, ['primary', 'backup', 'key', 'cuju', 'work-dir']);
  const primaryTarget = sshTarget('primary', values.primary!);
  const backupTarget = sshTarget('backup', values.backup!);
  const hosts: Host[] = [];
  try {
    hosts.push(
      await connectSsh(primaryTarget, values.key!, values['known-hosts']),
      await connectSsh(backupTarget, values.key!, values['known-hosts']),
    );
    const [primary, backup] = hosts as [Host, Host];
    return await runPair({
      primary,
      backup,
      binary: { path: values.cuju! },
      workDir: values['work-dir']!,
      ftPort,
      testFailover,
    });
  } finally {
    await Promise.allSettled(hosts.map((h) => h.close()));
  }
}

runMain(USAGE, () => main(process.argv.slice(2)));
