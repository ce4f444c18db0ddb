/**
 * ftmode.sh, from code: the same two monitor lines, then the answer the script never
 * gave: did FT really start? The Cuju build is learnt from the monitor's `help` (master,
 * groupft or blk-server), and FT is confirmed the way that build allows.
 *
 *   tsx examples/ftmode.ts MONITOR_PATH BACKUP_HOST [BACKUP_PORT=4441] [--qmp]
 *
 * ftmode.sh does `echo "migrate_set_capability cuju-ft on" | nc -U vm1.monitor` and
 * `echo "migrate -c tcp:BACKUP_IP:4441" | nc -U vm1.monitor`. BACKUP_HOST may be a name,
 * as Cuju's own `tcp:localhost:4441` is: it is resolved here (IPv4) and the address is
 * sent. Every argument is checked before the first line goes out.
 */
import { lookup } from 'node:dns/promises';
import { statSync } from 'node:fs';
import { CujuCommandError, CujuMonitor } from '@cuju/sdk';
import { parseCommandLine, runMain, UsageError, wholeNumber } from './lib/cli.js';

const USAGE = `usage: tsx examples/ftmode.ts MONITOR_PATH BACKUP_HOST [BACKUP_PORT=4441] [--qmp]

  MONITOR_PATH  the primary's monitor socket (-chardev socket,path=...,server)
  BACKUP_HOST   the backup's IPv4 address or host name (resolved here, IPv4)
  BACKUP_PORT   the port the backup listens on (-incoming tcp:0:PORT,ft_mode)
  --qmp         the monitor speaks QMP (default: the readline monitor, as ftmode.sh)
  --help        this text

Exit status: 0 FT started; 1 it did not (or the monitor failed); 2 bad arguments.`;

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** sun_path holds 108 bytes with the terminating NUL. */
const SOCKET_PATH_MAX = 107;

/** MONITOR_PATH names an existing Unix socket the kernel reads as written. */
function checkMonitorPath(path: string): void {
  if (path.includes('\0')) throw new UsageError('MONITOR_PATH must not contain a NUL byte');
  const bytes = Buffer.byteLength(path);
  if (bytes > SOCKET_PATH_MAX) {
    throw new UsageError(
      `MONITOR_PATH is ${bytes} bytes; a Unix socket path holds at most ${SOCKET_PATH_MAX}`,
    );
  }
  let isSocket = false;
  try {
    isSocket = statSync(path).isSocket();
  } catch {
    throw new UsageError(`MONITOR_PATH ${path} does not exist (is the VM running with this monitor?)`);
  }
  if (!isSocket) throw new UsageError(`MONITOR_PATH ${path} is not a Unix socket`);
}

/** The IPv4 address Cuju's `migrate -c tcp:ADDRESS:PORT` gets for BACKUP_HOST. */
async function backupAddress(host: string): Promise<string> {
  if (IPV4.test(host)) return host;
  if (!HOST_NAME.test(host)) {
    throw new UsageError(`BACKUP_HOST must be an IPv4 address or a host name, got '${host}'`);
  }
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch (err) {
    throw new UsageError(
      `BACKUP_HOST ${host} has no IPv4 address (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    usage: USAGE,
    options: { qmp: { type: 'boolean' } },
    positionals: { min: 2, max: 3 },
  });
  if (!args) return 0;
  const [monitorPath, backupHost, portText = '4441'] = args.positionals as [string, string, string?];
  // Every argument is checked before the first line is sent.
  const port = wholeNumber('BACKUP_PORT', portText, 1, 65535);
  checkMonitorPath(monitorPath);
  const address = await backupAddress(backupHost);
  const target = `tcp:${address}:${port}${address === backupHost ? '' : ` (${backupHost})`}`;

  const monitor = await CujuMonitor.connect(
    args.values.qmp ? { qmp: { path: monitorPath } } : { hmp: { path: monitorPath } },
  );
  try {
    const build = await monitor.detectBuild();
    console.log(`Cuju build: ${build.name} (${build.commit})`);
    await monitor.enableFt();
    console.log('migrate_set_capability cuju-ft on: ok');
    try {
      await monitor.startFt({ host: address, port });
    } catch (err) {
      // `-c` connects before it returns: a refused connection is the command's own answer.
      if (!(err instanceof CujuCommandError)) throw err;
      console.error(`FT did not start: ${err.output.trim()}`);
      return 1;
    }
    console.log(`migrate -c ${target}: ok`);
    // Cuju answers `migrate -c` at once; FT is on when the epochs run.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (await monitor.ftRunning()) {
        const { migrate } = await monitor.info();
        const gft = migrate.gftStatus ? `GFT STATUS ${migrate.gftStatus}, ` : '';
        console.log(`FT started (${gft}migration ${migrate.status ?? 'none'})`);
        return 0;
      }
      const { migrate } = await monitor.info();
      if (migrate.status === 'failed') {
        console.error(
          `FT did not start: migration failed${migrate.errorDesc ? ` (${migrate.errorDesc})` : ''}`,
        );
        return 1;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    console.error(
      'FT did not start within 30 s (is the backup listening with -incoming tcp:0:PORT,ft_mode?)',
    );
    return 1;
  } finally {
    await monitor.close();
  }
}

runMain(USAGE, () => main(process.argv.slice(2)));
