/**
 * Driving `cuju` as a user does: a child process running the CLI from its sources (tsx,
 * with the repository's tsconfig paths, so the libraries are their sources too, never a
 * stale dist/), in a directory of the test's own. Plus the peers' availability and a
 * free loopback port.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MAIN = join(ROOT, 'packages', 'cli', 'src', 'main.ts');
const LOADER = join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

/** The command line that runs `cuju` from its sources. */
export const CUJU = [process.execPath, '--import', LOADER, MAIN];
/** Its environment: tsx told where the repository's tsconfig (its paths) is. */
export const CUJU_ENV = { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json'), NO_COLOR: '1' };

/** A finished run of `cuju`. */
export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout's JSON lines, parsed (with --json). */
  records: Array<Record<string, unknown> & { type: string }>;
}

function parseRecords(stdout: string): Outcome['records'] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

/** Runs `cuju ARGS` to its end in `cwd`; never rejects for an exit status. */
export function cuju(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(
      CUJU[0]!,
      [...CUJU.slice(1), ...args],
      { cwd: options.cwd, env: { ...CUJU_ENV, ...options.env }, timeout: 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : (err as { code?: unknown }).code;
        if (typeof code !== 'number') return reject(err ?? new Error('no exit code'));
        resolve({ code, stdout, stderr, records: parseRecords(stdout) });
      },
    );
  });
}

/** A long-running `cuju` (sim cluster, monitor events): its JSON lines as they come. */
export interface Running {
  child: ChildProcess;
  records: Outcome['records'];
  stderr: () => string;
  stdout: () => string;
  /** Resolves with the first record that matches (past or future). */
  waitFor(match: (r: Outcome['records'][number]) => boolean): Promise<Outcome['records'][number]>;
  /** Resolves with the exit status. */
  exited: Promise<number | null>;
}

export function start(args: readonly string[], options: { cwd: string }): Running {
  const child = spawn(CUJU[0]!, [...CUJU.slice(1), ...args], {
    cwd: options.cwd,
    env: CUJU_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const records: Outcome['records'] = [];
  const waiters: Array<{
    match: (r: Outcome['records'][number]) => boolean;
    resolve: (r: Outcome['records'][number]) => void;
  }> = [];
  let buffer = '';
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  child.stdout!.on('data', (d) => {
    stdout += d;
    buffer += d;
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line);
      records.push(record);
      for (const w of waiters.splice(0)) {
        if (w.match(record)) w.resolve(record);
        else waiters.push(w);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    records,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    waitFor(match) {
      const found = records.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        exited.then((code) =>
          reject(new Error(`cuju exited (${code}) before the record came; stderr: ${stderr}`)),
        );
      });
    },
  };
}

/** A temporary directory and its removal. */
export function tempDir(prefix = 'cuju-cli-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A port nobody listens on now, on a loopback address. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The command lines of running processes that mention `text` (pgrep -af), this test's only. */
export function processesMentioning(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', '--', text], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** A directory holding a `cuju` executable (for shells: completion, tmux). */
export function cujuBinDir(dir: string): string {
  const bin = join(dir, 'bin');
  execFileSync('mkdir', ['-p', bin]);
  const script = join(bin, 'cuju');
  const quoted = CUJU.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  writeFileSync(
    script,
    `#!/bin/sh\nTSX_TSCONFIG_PATH='${join(ROOT, 'tsconfig.json')}' exec ${quoted} "$@"\n`,
  );
  chmodSync(script, 0o755);
  return bin;
}

/** Whether a command exists. */
export function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a real peer can be used. With CUJU_REQUIRE_PEERS=1 (CI) a missing peer fails
 * the test file; otherwise its tests are skipped and say why.
 */
export function requirePeer(name: string): boolean {
  if (have(name)) return true;
  if (process.env.CUJU_REQUIRE_PEERS === '1') {
    throw new Error(`required peer ${name} is missing (CUJU_REQUIRE_PEERS=1): run scripts/install-peers.sh`);
  }
  console.warn(`skipping tests that need ${name}: run scripts/install-peers.sh`);
  return false;
}
