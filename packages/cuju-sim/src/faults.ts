import type { CrashStep, SimFaults } from './config.js';

/**
 * -sim-crash-at STEP: die at once, as a crashed QEMU would (SIGKILL: no cleanup, the
 * kernel closes the sockets, the peers see EOF).
 */
export function crashPoint(faults: SimFaults, step: CrashStep): void {
  if (faults.crashAt === step) process.kill(process.pid, 'SIGKILL');
}
