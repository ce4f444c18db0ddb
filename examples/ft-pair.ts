/**
 * An FT pair on two hosts, from the command line:
 *
 *   tsx examples/ft-pair.ts --local [--image FILE]
 *   tsx examples/ft-pair.ts --primary root@192.168.111.1 --backup root@192.168.111.2 \
 *       --key ~/.ssh/id_ed25519 [--known-hosts ~/.ssh/known_hosts] \
 *       --cuju /opt/cuju/x86_64-softmmu/qemu-system-x86_64 --work-dir /home/cuju \
 *       [--image /home/cuju/Ubuntu20G-1604.img] [--port 4441] [--no-failover-test]
 *
 * `--leave-running --record FILE` leaves the protected pair running (what runvm.sh,
 * recv.sh and ftmode.sh leave) and saves its record; then, from any later process:
 *
 *   tsx examples/ft-pair.ts status --record FILE [--key FILE]
 *   tsx examples/ft-pair.ts restart-secondary --record FILE [--key FILE]
 *   tsx examples/ft-pair.ts down --record FILE [--key FILE]
 *
 * With --local both VMs are cuju-sim processes on this machine. Over SSH the host keys
 * are checked against known_hosts (there is no accept-any switch), and the Cuju binary
 * and the work directory must exist on both hosts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CujuBinary, FtPair, type FtPairRecord, type Host, LocalHost } from '@cuju/sdk';
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
import { runPair, say } from './lib/run-pair.js';

const USAGE = `usage: tsx examples/ft-pair.ts --local [--image FILE] [--port 4441] [--no-failover-test]
           [--leave-running --record FILE]
       tsx examples/ft-pair.ts --primary USER@HOST[:PORT] --backup USER@HOST[:PORT] --key FILE
           [--known-hosts FILE] --cuju BINARY --work-dir DIR [--image FILE] [--port 4441]
           [--no-failover-test] [--leave-running --record FILE]
       tsx examples/ft-pair.ts status|restart-secondary|down --record FILE [--key FILE] [--known-hosts FILE]

  --local             both VMs are cuju-sim processes on this machine
  --primary, --backup the two hosts, over SSH (host keys checked against known_hosts)
  --key FILE          the SSH private key
  --known-hosts FILE  default ~/.ssh/known_hosts
  --cuju BINARY       Cuju's qemu-system-x86_64 on both hosts
  --work-dir DIR      a directory on both hosts for monitors and logs
  --image FILE        the guest's raw disk image (on both hosts; default: no disk)
  --port N            the FT port on the backup (default 4441)
  --no-failover-test  stop once protected instead of killing the primary to prove it
  --leave-running     leave the protected pair running and save its record (--record)
  --record FILE       where the pair's record is saved, or read by a command
  --help              this text

Commands on a saved record:
  status              the pair's state now (adopts the VMs, leaves them running)
  restart-secondary   a new secondary for a pair that lost its own (or failed over)
  down                stops both VMs and removes the record

Exit status: 0 done (protected, failed over when tested, or the command done); 1 it was
not; 2 bad arguments.`;

const SSH_OPTIONS = ['primary', 'backup', 'key', 'known-hosts', 'cuju', 'work-dir'] as const;
const COMMANDS = ['status', 'restart-secondary', 'down'] as const;
type Command = (typeof COMMANDS)[number];

/** What --leave-running saves: the pair's record and what this example needs to go on. */
interface SavedPair {
  record: FtPairRecord;
  binary: CujuBinary;
  /** A --local pair's directory, removed by `down`. */
  localWorkDir?: string;
}

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    usage: USAGE,
    positionals: { min: 0, max: 1 },
    options: {
      ...PAIR_HOST_OPTIONS,
      port: { type: 'string' },
      'no-failover-test': { type: 'boolean' },
      'leave-running': { type: 'boolean' },
      record: { type: 'string' },
    },
  });
  if (!args) return 0;
  const { values, positionals } = args;
  const command = positionals[0];
  if (command !== undefined) {
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new UsageError(`unknown command '${command}' (expected ${COMMANDS.join(', ')})`);
    }
    const extra = Object.keys(values).filter((o) => !['record', 'key', 'known-hosts'].includes(o));
    if (extra.length > 0)
      throw new UsageError(`${command} takes no ${extra.map((o) => `--${o}`).join(', ')}`);
    requireOptions(values, ['record']);
    return onRecord(command as Command, values.record!, values.key, values['known-hosts']);
  }

  const ftPort = wholeNumber('--port', values.port ?? '4441', 1, 65535);
  const leaveRunning = values['leave-running'] === true;
  if (leaveRunning && values.record === undefined)
    throw new UsageError('--leave-running needs --record FILE');
  if (!leaveRunning && values.record !== undefined)
    throw new UsageError('--record goes with --leave-running');
  if (leaveRunning && values['no-failover-test']) {
    throw new UsageError('--leave-running never tests a failover: --no-failover-test is implied');
  }
  const testFailover = !leaveRunning && values['no-failover-test'] !== true;
  const save = (binary: CujuBinary, localWorkDir?: string) =>
    leaveRunning
      ? (record: FtPairRecord) => {
          const saved: SavedPair = { record, binary, ...(localWorkDir ? { localWorkDir } : {}) };
          writeFileSync(values.record!, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
          say(`record saved to ${values.record}; the pair runs on`);
        }
      : undefined;

  if (values.local) {
    const given = SSH_OPTIONS.filter((o) => values[o] !== undefined);
    if (given.length > 0) throw new UsageError(`--local takes no ${given.map((o) => `--${o}`).join(', ')}`);
    const workDir = mkdtempSync(join(tmpdir(), 'cuju-ft-pair-'));
    let kept = false;
    try {
      const host = new LocalHost();
      const code = await runPair({
        primary: host,
        backup: host,
        binary: simBinary,
        workDir,
        ftPort,
        testFailover,
        ...(values.image ? { image: values.image } : {}),
        ...(leaveRunning ? { leaveRunning: save(simBinary, workDir) } : {}),
      });
      kept = leaveRunning && code === 0;
      return code;
    } finally {
      if (!kept) rmSync(workDir, { recursive: true, force: true });
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
    const binary = { path: values.cuju! };
    return await runPair({
      primary,
      backup,
      binary,
      workDir: values['work-dir']!,
      ftPort,
      testFailover,
      ...(values.image ? { image: values.image } : {}),
      ...(leaveRunning ? { leaveRunning: save(binary) } : {}),
    });
  } finally {
    await Promise.allSettled(hosts.map((h) => h.close()));
  }
}

/** status, restart-secondary or down on a saved pair: its hosts connected again, its VMs adopted. */
async function onRecord(command: Command, path: string, key?: string, knownHosts?: string): Promise<number> {
  let saved: SavedPair;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as SavedPair;
  } catch (err) {
    throw new UsageError(
      `--record: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const names = [...new Set([saved.record?.hosts?.primary?.name, saved.record?.hosts?.backup?.name])];
  const hosts: Record<string, Host> = {};
  try {
    for (const name of names) {
      if (name === 'local') {
        hosts[name] = new LocalHost();
        continue;
      }
      const ssh = /^ssh:(.+)$/.exec(String(name));
      if (!ssh)
        throw new UsageError(`--record: a host named ${JSON.stringify(name)} is neither local nor ssh:`);
      if (key === undefined) throw new UsageError(`--record names ${name}: --key FILE is needed`);
      hosts[name as string] = await connectSsh(sshTarget('record host', ssh[1]!), key, knownHosts);
    }
    const pair = await FtPair.attach(saved.record, { hosts, binary: saved.binary });
    say(`adopted: ${pair.state}${pair.reason ? ` (${pair.reason})` : ''}`);
    pair.on('state', (c) => say(`state ${c.state}${c.reason ? ` (${c.reason})` : ''}`));
    switch (command) {
      case 'status': {
        const r = pair.record();
        for (const role of ['primary', 'backup'] as const) {
          const vm = r[role];
          say(vm ? `${role}: pid ${vm.pid} on ${vm.host.name}, log ${vm.logPath}` : `${role}: none`);
        }
        await pair.detach();
        return pair.state === 'stopped' ? 1 : 0;
      }
      case 'restart-secondary':
        await pair.restartSecondary();
        writeFileSync(path, `${JSON.stringify({ ...saved, record: pair.record() }, null, 2)}\n`, {
          mode: 0o600,
        });
        say(`protected again; record saved to ${path}`);
        await pair.detach();
        return 0;
      case 'down':
        await pair.down();
        rmSync(path, { force: true });
        if (saved.localWorkDir) rmSync(saved.localWorkDir, { recursive: true, force: true });
        say('both VMs stopped; record removed');
        return 0;
    }
  } finally {
    await Promise.allSettled(Object.values(hosts).map((h) => h.close()));
  }
}

runMain(USAGE, () => main(process.argv.slice(2)));
