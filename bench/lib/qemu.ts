import { execFileSync } from 'node:child_process';
import {
  QEMU_BINARY,
  type QemuProcess,
  startQemu,
  watchChild,
} from '../../packages/qmp/scripts/qemu-process.js';

export type { QemuProcess };
export { startQemu, watchChild };

/** Starts `qemu-system-x86_64 -M none -S`: no guest runs, so the monitor emits no events. */
export function startIdleQemu(): Promise<QemuProcess> {
  return startQemu({ machine: 'none' });
}

/**
 * The same idle QEMU with only a readline HMP monitor (`-mon ...,mode=readline`), the
 * monitor Cuju's scripts talk to; no QMP socket, so nothing else touches the monitor loop.
 */
export function startIdleHmpQemu(): Promise<QemuProcess> {
  return startQemu({ machine: 'none', qmp: false, hmp: true });
}

/** The first line of `qemu-system-x86_64 --version`, for the record. */
export function qemuVersion(): string {
  return execFileSync(QEMU_BINARY, ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
}

/**
 * Runs `fn` against a freshly started idle QEMU and stops it afterwards, even when `fn`
 * throws, so no monitor state carries over from one measurement into the next.
 */
export async function withQemu<T>(fn: (qemu: QemuProcess) => Promise<T>): Promise<T> {
  const qemu = await startIdleQemu();
  try {
    return await fn(qemu);
  } finally {
    await qemu.stop();
  }
}

/** Undo steps run last-in first-out; a failing step is reported and the rest still run. */
export class Teardown {
  private readonly steps: Array<() => Promise<void>> = [];

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        process.stderr.write(`# teardown step failed: ${String(err)}\n`);
      }
    }
  }
}
