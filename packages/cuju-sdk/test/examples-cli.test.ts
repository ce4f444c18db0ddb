/**
 * The examples' command lines: parsed strictly, `--help` exits 0 with the usage, a bad
 * command line exits 2 with a message and the usage, and nothing is sent or started
 * before every argument has been checked.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/sim.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const EXAMPLES = ['ftmode.ts', 'ft-pair.ts', 'prepare-host.ts', 'demo.ts', 'qmp-demo.ts'];

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs an example to its end; never rejects (the exit code is part of the outcome). */
function example(name: string, args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(TSX, [join(ROOT, 'examples', name), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : (err as { code?: unknown }).code;
      if (typeof code !== 'number') return reject(err);
      resolve({ code, stdout, stderr });
    });
  });
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Unix socket that records every connection: a monitor nobody should reach. */
async function watchedSocket(): Promise<{ path: string; connections: () => number }> {
  const t = tempDir();
  const path = join(t.dir, 'vm1.monitor');
  let connections = 0;
  const server: Server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())), t.cleanup);
  return { path, connections: () => connections };
}

describe('every example', () => {
  it('imports no test code (examples are what users copy)', () => {
    const dir = join(ROOT, 'examples');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('demo.ts');
    for (const file of files) {
      const specifiers = [...readFileSync(join(dir, file), 'utf8').matchAll(/\bfrom\s+'([^']+)'/g)].map(
        (m) => m[1],
      );
      expect(
        specifiers.filter((s) => /(^|\/)test(\/|$)/.test(s!)),
        file,
      ).toEqual([]);
    }
  });

  it.each(EXAMPLES)('%s --help prints the usage and exits 0, doing nothing', async (name) => {
    const r = await example(name, ['--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^usage: /);
    expect(r.stdout).toContain('--help');
    expect(r.stdout).toMatch(/Exit status: 0 /);
  });

  it.each(EXAMPLES)('%s refuses an unknown flag with exit 2, a message and the usage', async (name) => {
    const r = await example(name, ['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("Unknown option '--frobnicate'");
    expect(r.stderr).toContain('usage: ');
  });
});

describe('ftmode.ts checks every argument before it sends the first line', () => {
  it.each([
    [['BACKUP', 'abc'], "BACKUP_PORT must be a whole number from 1 to 65535, got 'abc'"],
    [['127.0.0.1', '70000'], "BACKUP_PORT must be a whole number from 1 to 65535, got '70000'"],
    [['bad host!'], "BACKUP_HOST must be an IPv4 address or a host name, got 'bad host!'"],
    [['::1'], "BACKUP_HOST must be an IPv4 address or a host name, got '::1'"],
    [['127.0.0.1', '4441', 'extra'], "unexpected argument 'extra'"],
    [['127.0.0.1', '--qmp=yes'], "Option '--qmp' does not take an argument"],
  ])('%j after the monitor path: exit 2, nothing connects', async (rest, message) => {
    const monitor = await watchedSocket();
    const r = await example('ftmode.ts', [monitor.path, ...rest]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
    expect(monitor.connections()).toBe(0);
  });

  it('refuses a monitor path that is missing, not a socket or longer than a socket path can be', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'not-a-socket');
    writeFileSync(file, '');
    const cases: [string, string][] = [
      [join(t.dir, 'missing.monitor'), 'does not exist (is the VM running with this monitor?)'],
      [file, `MONITOR_PATH ${file} is not a Unix socket`],
      [`/tmp/${'m'.repeat(120)}`, 'MONITOR_PATH is 125 bytes; a Unix socket path holds at most 107'],
    ];
    for (const [path, message] of cases) {
      const r = await example('ftmode.ts', [path, '127.0.0.1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    }
    const missing = await example('ftmode.ts', [file]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('expected at least 2 arguments, got 1');
  });
});

describe('ft-pair.ts and prepare-host.ts check their options before connecting', () => {
  it.each([
    [['--local', '--port', '0'], "--port must be a whole number from 1 to 65535, got '0'"],
    [['--local', '--primary', 'root@127.0.0.2'], '--local takes no --primary'],
    [['--primary', 'root@127.0.0.2', '--key', '/nonexistent'], 'missing --backup, --cuju, --work-dir'],
    [
      ['--primary', 'root@', '--backup', 'x@y', '--key', 'k', '--cuju', 'c', '--work-dir', 'w'],
      "--primary: expected USER@HOST[:PORT], got 'root@'",
    ],
    [['--local', '--port'], "Option '--port <value>' argument missing"],
    [['--local', '--leave-running'], '--leave-running needs --record FILE'],
    [['--local', '--record', 'pair.json'], '--record goes with --leave-running'],
    [['status'], 'missing --record'],
    [['status', '--record', 'pair.json', '--local'], 'status takes no --local'],
    [
      ['restart', '--record', 'pair.json'],
      "unknown command 'restart' (expected status, restart-secondary, down)",
    ],
    [['down', '--record', '/nonexistent/pair.json'], '--record: cannot read /nonexistent/pair.json'],
  ])('ft-pair.ts %j: exit 2', async (args, message) => {
    const r = await example('ft-pair.ts', args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it.each([
    [['--local', '--qemu', '--jobs', 'many'], "--jobs must be a whole number from 1 to 9999, got 'many'"],
    [['--local', '--qemu', '--ref', 'main'], '--ref goes with --clone'],
    [['--host', 'root@127.0.0.2', '--qemu'], 'missing --key'],
    [['--local', '--host', 'root@127.0.0.2'], '--local takes no --host, --key or --known-hosts'],
  ])('prepare-host.ts %j: exit 2', async (args, message) => {
    const r = await example('prepare-host.ts', args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});
