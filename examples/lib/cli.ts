/**
 * Command-line pieces the examples share: strict parsing (node:util parseArgs), number and
 * SSH-target checks, and exit codes: 0 done, 1 failed, 2 bad command line (nothing done).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { SshHost } from '@cuju/sdk';

/** A bad command line: runMain prints the message and the usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h' } } as const;
type WithHelp<O extends OptionSpecs> = O & typeof HELP;
/** What parseArgs returns for these options (strict, positionals allowed). */
export type Parsed<O extends OptionSpecs> = ReturnType<
  typeof parseArgs<{ args: string[]; options: WithHelp<O>; strict: true; allowPositionals: true }>
>;

/**
 * The options of an example that runs VMs on two hosts: `--local`, or SSH targets with
 * their key (and known_hosts), the Cuju binary, a work directory and a disk image there.
 */
export const PAIR_HOST_OPTIONS = {
  local: { type: 'boolean' },
  primary: { type: 'string' },
  backup: { type: 'string' },
  key: { type: 'string' },
  'known-hosts': { type: 'string' },
  cuju: { type: 'string' },
  'work-dir': { type: 'string' },
  image: { type: 'string' },
} as const;

export interface CommandLine<O extends OptionSpecs> {
  /** The usage text, printed by --help (stdout) and after every usage error (stderr). */
  usage: string;
  options: O;
  /** How many positional arguments are allowed (default: none). */
  positionals?: { min: number; max: number };
}

/**
 * Parses argv strictly: an unknown option, an option without its value, a value given to
 * a flag or a positional argument out of bounds is a UsageError. `--help` (or `-h`)
 * prints the usage on stdout and returns undefined: the caller exits 0 without doing
 * anything.
 */
export function parseCommandLine<O extends OptionSpecs>(
  argv: readonly string[],
  spec: CommandLine<O>,
): Parsed<O> | undefined {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...spec.options, ...HELP } as WithHelp<O>,
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    // parseArgs' own messages name the option; its codes are ERR_PARSE_ARGS_*.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    process.stdout.write(`${spec.usage}\n`);
    return undefined;
  }
  const { min, max } = spec.positionals ?? { min: 0, max: 0 };
  const n = parsed.positionals.length;
  if (n > max) throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`);
  if (n < min) throw new UsageError(`expected at least ${min} argument${min === 1 ? '' : 's'}, got ${n}`);
  return parsed;
}

/** A whole number in [min, max] given as `--name TEXT` (or a positional called name). */
export function wholeNumber(name: string, text: string, min: number, max: number): number {
  const n = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

/** Every option in `names` was given a value; the missing ones are named. */
export function requireOptions(values: Record<string, unknown>, names: readonly string[]): void {
  const missing = names.filter((n) => values[n] === undefined);
  if (missing.length > 0) {
    throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(', ')}`);
  }
}

/** `USER@HOST[:PORT]`, checked before anything connects. */
export function sshTarget(option: string, target: string): { username: string; host: string; port: number } {
  const m = /^([^@\s]+)@([^:@\s]+)(?::(\d+))?$/.exec(target);
  if (!m) throw new UsageError(`--${option}: expected USER@HOST[:PORT], got '${target}'`);
  return {
    username: m[1]!,
    host: m[2]!,
    port: m[3] === undefined ? 22 : wholeNumber(`--${option}'s port`, m[3], 1, 65535),
  };
}

/** Connects to a checked target with a key file, checking the host key against known_hosts. */
export function connectSsh(
  target: { username: string; host: string; port: number },
  keyPath: string,
  knownHosts?: string,
): Promise<SshHost> {
  return SshHost.connect({
    ...target,
    privateKey: readFileSync(keyPath, 'utf8'),
    hostKey: { knownHostsPath: knownHosts ?? join(homedir(), '.ssh', 'known_hosts') },
  });
}

/**
 * Runs an example's main: its number is the exit code. A UsageError exits 2 with `usage`;
 * any other error exits 1, printed with its code when it has one.
 */
export function runMain(usage: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        console.error(`${err.message}\n${usage}`);
        process.exitCode = 2;
        return;
      }
      console.error(
        err instanceof Error && 'code' in err
          ? `${(err as { code: string }).code}: ${err.message}`
          : String(err),
      );
      process.exitCode = 1;
    },
  );
}
