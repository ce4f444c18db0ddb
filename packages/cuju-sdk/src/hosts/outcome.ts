/**
 * Turns a finished command's result into the typed error it stands for, the same way for
 * local and SSH hosts: sudo refusing (`sudo -n` exits 1 with a known message), a program
 * that is not there (the shell's exit 127, or sudo's "command not found").
 */
import { HostBinaryMissingError, HostError, HostSudoError } from './errors.js';
import type { RunResult } from './host.js';
import type { Redact } from './redact.js';

/** What `sudo -n` says when it will not run the command (sudo 1.8 and 1.9 wording). */
const SUDO_DENIED =
  /^sudo: (?:a password is required|a terminal is required|.*is not in the sudoers file|.*is not allowed to execute|.*may not run sudo|.*unable to authenticate|.*no tty present)/m;

export interface OutcomeContext {
  sudo?: boolean | undefined;
  host: string;
  /** The host's redaction: the errors' texts pass through it. */
  redact: Redact;
}

/** The error a finished run stands for, or undefined when it is an ordinary result. */
export function failureOf(
  argv: readonly string[],
  result: RunResult,
  ctx: OutcomeContext,
): HostError | undefined {
  const program = argv[0] ?? '';
  const { stderr, code } = result;
  const options = { host: ctx.host, redact: ctx.redact };
  if (ctx.sudo && code === 1) {
    if (SUDO_DENIED.test(stderr)) return new HostSudoError(stderr, options);
    if (stderr.includes(`sudo: ${program}: command not found`)) {
      return new HostBinaryMissingError(program, { ...options, sudo: true });
    }
  }
  if (code === 127) {
    // The shell reports `NAME: not found` (dash), `NAME: command not found` (bash) or
    // `NAME: No such file or directory` (a path). sudo itself may be the missing one.
    const candidates = ctx.sudo ? ['sudo', program] : [program];
    const missing = candidates.find((name) => mentionsMissing(stderr, name));
    if (missing !== undefined) return new HostBinaryMissingError(missing, options);
  }
  return undefined;
}

function mentionsMissing(stderr: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `(?:^|[\\s:])${escaped}: (?:command not found|not found|No such file or directory)`,
    'm',
  ).test(stderr);
}

/** The argv that runs WRITE_FILE (remote-scripts.ts) for `path`, with its mode and size. */
export function writeFileArgv(script: string, path: string, mode: number, size: number): string[] {
  return ['sh', '-c', script, 'cuju-write', path, mode.toString(8), String(size)];
}

/** Throws what a finished WRITE_FILE run stands for: a typed host error, or COMMAND_FAILED naming the path. */
export function checkWriteFile(
  argv: readonly string[],
  path: string,
  result: RunResult,
  ctx: OutcomeContext,
): void {
  const failure = failureOf(argv, result, ctx);
  if (failure) throw failure;
  if (result.code !== 0) {
    throw new HostError(
      'HOST_COMMAND_FAILED',
      `cannot write ${path}: ${result.stderr.trim() || `exit status ${result.code}`}`,
      { host: ctx.host, redact: ctx.redact },
    );
  }
}
