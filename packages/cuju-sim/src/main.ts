import { spawn } from 'node:child_process';
import { parseArgv } from './argv.js';
import { QEMU_VERSION } from './builds.js';
import { runHmp, runQmp } from './commands.js';
import { ArgvError } from './config.js';
import { HELP } from './help.js';
import { Sim } from './sim.js';

/**
 * The cuju-sim process: parse Cuju's command line (exit 1 with QEMU's message when it is
 * wrong), start the monitors and FT roles, and end like QEMU on SIGTERM/SIGINT/SIGHUP.
 */
export async function main(argv: readonly string[]): Promise<void> {
  let parsed: ReturnType<typeof parseArgv>;
  try {
    parsed = parseArgv(argv);
  } catch (err) {
    if (err instanceof ArgvError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if ('help' in parsed) {
    process.stdout.write(HELP);
    return;
  }
  if ('version' in parsed) {
    process.stdout.write(
      `QEMU emulator version ${QEMU_VERSION} (cuju-sim), Copyright (c) 2003-2016 Fabrice Bellard and the QEMU Project developers\n`,
    );
    return;
  }
  const { config } = parsed;
  if (config.daemonize && process.env.CUJU_SIM_DAEMON_CHILD !== '1') {
    await daemonize(argv);
    return;
  }
  const sim = new Sim(config, { runHmp, runQmp });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`qemu-system-x86_64: terminating on signal ${signalNumber(signal)}\n`);
      sim.exit(0);
    });
  }
  await sim.start();
  if (process.env.CUJU_SIM_DAEMON_CHILD === '1') process.send?.('ready');
}

const signalNumber = (s: 'SIGTERM' | 'SIGINT' | 'SIGHUP') => ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[s];

/**
 * -daemonize: QEMU forks, the parent exits 0 once the child has set up its monitors.
 * Node cannot fork, so the simulator starts itself again, detached, stdio to nowhere.
 */
function daemonize(argv: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env: { ...process.env, CUJU_SIM_DAEMON_CHILD: '1' },
    });
    child.once('message', () => {
      child.disconnect();
      child.unref();
      resolve();
    });
    child.once('exit', (code) => process.exit(code ?? 1));
  });
}
