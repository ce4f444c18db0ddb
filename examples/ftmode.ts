/**
 * ftmode.sh, from code: the same two monitor lines, then the answer the script never
 * gave: did FT really start? The Cuju build is learnt from the monitor's `help` (master,
 * groupft or blk-server), and FT is confirmed the way that build allows.
 *
 *   tsx examples/ftmode.ts MONITOR_PATH BACKUP_IP [BACKUP_PORT=4441] [--qmp]
 *
 * ftmode.sh does `echo "migrate_set_capability cuju-ft on" | nc -U vm1.monitor` and
 * `echo "migrate -c tcp:BACKUP_IP:4441" | nc -U vm1.monitor`.
 */
import { CujuCommandError, CujuError, CujuMonitor } from '@cuju/sdk';

async function main(argv: string[]): Promise<number> {
  const qmp = argv.includes('--qmp');
  const [monitorPath, backupIp, portText = '4441'] = argv.filter((a) => a !== '--qmp');
  if (!monitorPath || !backupIp) {
    console.error('usage: tsx examples/ftmode.ts MONITOR_PATH BACKUP_IP [BACKUP_PORT=4441] [--qmp]');
    return 2;
  }
  const monitor = await CujuMonitor.connect(
    qmp ? { qmp: { path: monitorPath } } : { hmp: { path: monitorPath } },
  );
  try {
    const build = await monitor.detectBuild();
    console.log(`Cuju build: ${build.name} (${build.commit})`);
    await monitor.enableFt();
    console.log('migrate_set_capability cuju-ft on: ok');
    try {
      await monitor.startFt({ host: backupIp, port: Number(portText) });
    } catch (err) {
      // `-c` connects before it returns: a refused connection is the command's own answer.
      if (!(err instanceof CujuCommandError)) throw err;
      console.error(`FT did not start: ${err.output.trim()}`);
      return 1;
    }
    console.log(`migrate -c tcp:${backupIp}:${portText}: ok`);
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof CujuError ? `${err.code}: ${err.message}` : String(err));
    process.exitCode = 1;
  },
);
