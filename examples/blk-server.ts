/**
 * The seed manual's block-server section as one command: blk_server.sh, blk_primary.sh,
 * blk_backup.sh and ft_mode, in that order, each step waited for, then protection
 * confirmed (and, unless --no-failover-test, the primary killed to prove the backup takes
 * over), then everything stopped.
 *
 *   tsx examples/blk-server.ts --local [--listen-port 5001] [--join-port 4000] [--port 4441] [--dry-run]
 *   tsx examples/blk-server.ts --primary root@192.168.105.2 --backup root@192.168.105.1 \
 *       --key ~/.ssh/id_ed25519 --cuju ./x86_64-softmmu/qemu-system-x86_64 \
 *       --work-dir /home/cuju [--image /mnt/nfs/Ubuntu20G-1604.img] [--server-ip IP] [--dry-run]
 *
 * The block server runs on the backup's host (the manual: "make sure that backup and block
 * server is in the same node"); --server-ip is the address the VMs reach it at (default
 * the backup's, e.g. its 10G one). --dry-run prints the three command lines (as the seed
 * scripts write them: joined with spaces, not shell-quoted) and ft_mode's two monitor
 * lines, and connects to nothing. With --local every process is a cuju-sim of the
 * blk-server build on this machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockServerPair, type BlockServerPairOptions, type Host, LocalHost } from '@cuju/sdk';
import { simBinary } from '@cuju/sim';
import {
  connectSsh,
  PAIR_HOST_OPTIONS,
  parseCommandLine,
  requireOptions,
  runMain,
  sshTarget,
  UsageError,
  wholeNumber,
} from './lib/cli.js';

const USAGE = `usage: tsx examples/blk-server.ts --local [--listen-port 5001] [--join-port 4000] [--port 4441]
           [--no-failover-test] [--dry-run]
       tsx examples/blk-server.ts --primary USER@HOST[:PORT] --backup USER@HOST[:PORT] --key FILE
           [--known-hosts FILE] --cuju BINARY --work-dir DIR [--image FILE] [--server-ip IP]
           [--listen-port 5001] [--join-port 4000] [--port 4441] [--no-failover-test] [--dry-run]

  --local             the block server, the primary and the backup are cuju-sim processes here
  --primary, --backup the two hosts, over SSH; the block server runs on the backup's
  --key FILE          the SSH private key
  --known-hosts FILE  default ~/.ssh/known_hosts
  --cuju BINARY       Cuju's qemu-system-x86_64 of the blk-server build, on both hosts
  --work-dir DIR      a directory on both hosts for monitors and logs
  --image FILE        the guest disk the block server serves (default /mnt/nfs/Ubuntu20G-1604.img)
  --server-ip IP      the block server's address for the VMs (default the backup's)
  --listen-port N     -blk-server-listen :N (default 5001)
  --join-port N       the block server's -ft-join-port (default 4000)
  --port N            the backup's FT port, -incoming tcp:0:N,ft_mode (default 4441)
  --no-failover-test  stop once protected instead of killing the primary to prove it
  --dry-run           print the command lines and ft_mode's lines; start nothing
  --help              this text

Exit status: 0 protected (and failed over when tested); 1 it was not; 2 bad arguments.`;

const SSH_OPTIONS = [
  'primary',
  'backup',
  'key',
  'known-hosts',
  'cuju',
  'work-dir',
  'image',
  'server-ip',
] as const;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The pair of the manual's values, on the given hosts. */
function pairOptions(o: {
  primary: Host;
  backup: Host;
  binary: BlockServerPairOptions['binary'];
  workDir: string;
  image: string;
  serverIp: string | undefined;
  listenPort: number;
  joinPort: number;
  ftPort: number;
  local: boolean;
}): BlockServerPairOptions {
  return {
    primary: o.primary,
    backup: o.backup,
    build: 'blk-server',
    vm: {
      image: o.image,
      memory: '1G',
      nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:25' },
      monitorPath: join(o.workDir, 'vm1.monitor'),
    },
    binary: o.binary,
    ftPort: o.ftPort,
    blockServer: {
      host: o.backup,
      listenPort: o.listenPort,
      joinPort: o.joinPort,
      ...(o.serverIp ? { address: o.serverIp } : {}),
      // One machine for all three: the server needs a monitor socket of its own.
      ...(o.local ? { vm: { monitorPath: join(o.workDir, 'blk.monitor') } } : {}),
    },
    timeouts: { launchMs: 60_000, syncMs: 60_000, failoverMs: 30_000 },
  };
}

/** --dry-run: the plan, as the seed scripts write their lines. */
function printPlan(pair: BlockServerPair, names: Record<string, string>): void {
  const plan = pair.plan();
  for (const p of plan.processes) {
    console.log(`# ${p.role} on ${names[p.role] ?? p.host.name} (until: ${p.waitsFor})`);
    console.log(p.argv.join(' '));
  }
  console.log(`# ft_mode, to the primary's monitor ${plan.ftMode.monitorPath}`);
  for (const line of plan.ftMode.lines) console.log(line);
}

/** up(), the failover test, down(): 0 when each did what it should. */
async function run(pair: BlockServerPair, testFailover: boolean): Promise<number> {
  pair.pair.on('state', (c) => {
    console.log(
      `${c.previous} -> ${c.state}${c.reason ? ` (${c.reason})` : ''}${c.detail ? `: ${c.detail}` : ''}`,
    );
  });
  try {
    await pair.up();
    console.log('protected: block server, primary and backup run, FT confirmed');
    if (testFailover) {
      const report = await pair.testFailover();
      console.log(
        `failed over via ${report.via} (${report.deathToRunningMs ?? '?'} ms from death to running)`,
      );
    }
    return 0;
  } catch (err) {
    console.error(`${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`);
    return 1;
  } finally {
    await pair.down();
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    usage: USAGE,
    options: {
      ...PAIR_HOST_OPTIONS,
      'server-ip': { type: 'string' },
      'listen-port': { type: 'string' },
      'join-port': { type: 'string' },
      port: { type: 'string' },
      'no-failover-test': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
  });
  if (!args) return 0;
  const { values } = args;
  const listenPort = wholeNumber('--listen-port', values['listen-port'] ?? '5001', 1, 65535);
  const joinPort = wholeNumber('--join-port', values['join-port'] ?? '4000', 1, 65535);
  const ftPort = wholeNumber('--port', values.port ?? '4441', 1, 65535);
  const serverIp = values['server-ip'];
  if (serverIp !== undefined && !IPV4.test(serverIp)) {
    throw new UsageError(`--server-ip must be an IPv4 address, got '${serverIp}'`);
  }
  const testFailover = values['no-failover-test'] !== true;
  const dryRun = values['dry-run'] === true;
  const common = { listenPort, joinPort, ftPort, serverIp };

  if (values.local) {
    const given = SSH_OPTIONS.filter((o) => values[o] !== undefined);
    if (given.length > 0) throw new UsageError(`--local takes no ${given.map((o) => `--${o}`).join(', ')}`);
    const workDir = mkdtempSync(join(tmpdir(), 'cuju-blk-server-'));
    console.log(`# work dir ${workDir} (removed at the end)`);
    try {
      const host = new LocalHost();
      const pair = new BlockServerPair(
        pairOptions({
          ...common,
          primary: host,
          backup: host,
          binary: { ...simBinary, args: [...simBinary.args, '-sim-build', 'blk-server'] },
          workDir,
          image: '/mnt/nfs/Ubuntu20G-1604.img',
          serverIp: undefined,
          local: true,
        }),
      );
      if (dryRun) {
        printPlan(pair, {});
        return 0;
      }
      return await run(pair, testFailover);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }

  requireOptions(values, ['primary', 'backup', 'key', 'cuju', 'work-dir']);
  const primaryTarget = sshTarget('primary', values.primary!);
  const backupTarget = sshTarget('backup', values.backup!);
  const ssh = {
    ...common,
    binary: { path: values.cuju! },
    workDir: values['work-dir']!,
    image: values.image ?? '/mnt/nfs/Ubuntu20G-1604.img',
    local: false,
  };
  if (dryRun) {
    // Nothing is connected: the hosts are only named (their addresses go into the lines).
    const pair = new BlockServerPair(
      pairOptions({
        ...ssh,
        primary: new LocalHost({ address: primaryTarget.host }),
        backup: new LocalHost({ address: backupTarget.host }),
      }),
    );
    printPlan(pair, {
      'block-server': values.backup!,
      primary: values.primary!,
      backup: values.backup!,
    });
    return 0;
  }
  const hosts: Host[] = [];
  try {
    hosts.push(
      await connectSsh(primaryTarget, values.key!, values['known-hosts']),
      await connectSsh(backupTarget, values.key!, values['known-hosts']),
    );
    const [primary, backup] = hosts as [Host, Host];
    return await run(new BlockServerPair(pairOptions({ ...ssh, primary, backup })), testFailover);
  } finally {
    await Promise.allSettled(hosts.map((h) => h.close()));
  }
}

runMain(USAGE, () => main(process.argv.slice(2)));
