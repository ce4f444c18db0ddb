/** Command-line pieces the examples share: `--flag [value]` parsing, SSH targets, exit codes. */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SshHost } from '@cuju/sdk';

/**
 * `--name value` and `--name` (true) options; a repeated option keeps every value in order
 * (`all`). Anything not starting with `--` is refused with the usage text.
 */
export class Options {
  private readonly values = new Map<string, (string | true)[]>();

  constructor(argv: readonly string[], usage: string) {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n${usage}`);
      const next = argv[i + 1];
      const value: string | true = next === undefined || next.startsWith('--') ? true : next;
      if (value !== true) i++;
      this.values.set(a.slice(2), [...(this.values.get(a.slice(2)) ?? []), value]);
    }
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The option's (last) value when it was given one. */
  str(name: string): string | undefined {
    const v = this.values.get(name)?.at(-1);
    return typeof v === 'string' ? v : undefined;
  }

  /** Every value given to a repeated option. */
  all(name: string): string[] {
    return (this.values.get(name) ?? []).filter((v): v is string => typeof v === 'string');
  }
}

/** Connects to `USER@HOST[:PORT]` with a key file, checking the host key against known_hosts. */
export function connectSsh(target: string, keyPath: string, knownHosts?: string): Promise<SshHost> {
  const m = /^([^@]+)@([^:]+)(?::(\d+))?$/.exec(target);
  if (!m) throw new Error(`${target}: expected USER@HOST[:PORT]`);
  return SshHost.connect({
    username: m[1]!,
    host: m[2]!,
    port: m[3] ? Number(m[3]) : 22,
    privateKey: readFileSync(keyPath, 'utf8'),
    hostKey: { knownHostsPath: knownHosts ?? join(homedir(), '.ssh', 'known_hosts') },
  });
}

/** Runs an example's main: its number is the exit code; an error is printed with its code. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(
        err instanceof Error && 'code' in err
          ? `${(err as { code: string }).code}: ${err.message}`
          : String(err),
      );
      process.exitCode = 1;
    },
  );
}
