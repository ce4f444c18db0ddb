/** Signal names and numbers, for exit statuses reported the shell way (128 + number). */
import { constants } from 'node:os';

const BY_NUMBER = new Map<number, string>(
  Object.entries(constants.signals).map(([name, number]) => [number, name] as [number, string]),
);

/** 128 + the signal's number, as a shell reports a process killed by it. */
export function signalStatus(signal: string): number {
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return 128 + (n ?? 0);
}

/**
 * A shell's `wait` status as an exit: above 128 (and a known signal number) is taken as
 * death by that signal. A program that itself exits with 129..192 is indistinguishable
 * from one killed by a signal here; shells have the same ambiguity.
 */
export function statusToExit(status: number): { code: number | null; signal: string | null } {
  const signal = status > 128 ? BY_NUMBER.get(status - 128) : undefined;
  return signal ? { code: null, signal } : { code: status, signal: null };
}
