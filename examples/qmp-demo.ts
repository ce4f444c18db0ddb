/**
 * npm run demo (until the Cuju simulator and SDK land): starts a real QEMU with no guest
 * disk (TCG, 64 MiB), talks to it through @cuju/qmp and shows what the client gives an
 * orchestrator: typed replies, race-free waits for events, pipelining, typed errors, and
 * a clean end. Everything it starts, it stops.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, QmpCommandError } from '@cuju/qmp';
import { parseCommandLine, runMain } from './lib/cli.js';

const USAGE = `usage: npm run demo:qmp   (or: tsx examples/qmp-demo.ts)

Starts a real QEMU (no guest disk, TCG, 64 MiB), shows what @cuju/qmp gives an
orchestrator, and stops it. QEMU_BINARY names the QEMU to run (default
qemu-system-x86_64 on PATH).

  --help   this text

Exit status: 0 done; 1 failed.`;

const binary = process.env.QEMU_BINARY ?? 'qemu-system-x86_64';
const say = (step: string, detail = '') => console.log(`• ${step}${detail ? `: ${detail}` : ''}`);

async function waitForSocket(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`QEMU did not create ${path} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(argv: string[]): Promise<number> {
  if (!parseCommandLine(argv, { usage: USAGE, options: {} })) return 0;
  const dir = mkdtempSync(join(tmpdir(), 'cuju-demo-'));
  const socket = join(dir, 'vm1.qmp');
  say('starting QEMU', `${binary} -M pc -m 64 -S (TCG, no disk), QMP at ${socket}`);
  const qemu = spawn(
    binary,
    [
      '-M',
      'pc',
      '-m',
      '64',
      '-nodefaults',
      '-display',
      'none',
      '-S',
      '-qmp',
      `unix:${socket},server=on,wait=off`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => qemu.once('exit', resolve));
  try {
    await waitForSocket(socket, 10_000);
    const qmp = await QmpClient.connect({ path: socket });
    const { major, minor, micro } = qmp.greeting.version.qemu;
    say('connected', `QEMU ${major}.${minor}.${micro}, oob ${qmp.oob ? 'negotiated' : 'not offered'}`);

    const status = await qmp.execute('query-status');
    say('query-status', `${status.status} (running: ${status.running})`);

    // The wait for RESUME is armed before `cont` is sent, so the event cannot slip past.
    await qmp.execute('cont', undefined, { until: { event: 'RESUME' } });
    say('cont', `RESUME received, now ${(await qmp.execute('query-status')).status}`);
    await qmp.execute('stop', undefined, { until: { event: 'STOP' } });
    say('stop', `STOP received, now ${(await qmp.execute('query-status')).status}`);

    const started = performance.now();
    await Promise.all(Array.from({ length: 200 }, () => qmp.execute('query-status')));
    say('pipelined', `200 commands in ${(performance.now() - started).toFixed(1)} ms, at most 8 in flight`);

    try {
      await qmp.execute('query-balloon');
    } catch (err) {
      if (err instanceof QmpCommandError) say('typed error', `${err.errorClass}: ${err.desc}`);
      else throw err;
    }

    say('HMP over QMP', (await qmp.hmp('info status')).trim());
    await qmp.execute('quit');
    say('quit', `QEMU exited with code ${await exited}`);
    return 0;
  } finally {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(USAGE, () => main(process.argv.slice(2)));
