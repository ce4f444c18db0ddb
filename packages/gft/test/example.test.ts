/**
 * examples/gft-init.ts and examples/gft/group.yaml: the dry run prints add_host.sh's and
 * gft_init.sh's lines for the seed topology, a bad spec is refused with its path before
 * anything starts, and a run on cuju-sim gets to protection, fails over, is re-protected
 * and leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { noneLeft, tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const EXAMPLE = join(ROOT, 'examples', 'gft-init.ts');

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function example(args: readonly string[], timeout = 120_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(TSX, [EXAMPLE, ...args], { timeout, cwd: ROOT }, (err, stdout, stderr) => {
      const code = err === null ? 0 : (err as { code?: unknown }).code;
      if (typeof code !== 'number') return reject(err);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Whether `port` can be bound on every address now. */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/**
 * A --port-base whose moved seed ports (4441..4453, 5000..5005, 5101..5105) are all free,
 * in 61000..64799: above the kernel's ephemeral ports and the other test files' slices
 * (helpers.ts), so nothing else takes one between the check and the VM's bind.
 */
async function portBase(): Promise<number> {
  const seed = [4441, 4442, 4443, 4451, 4452, 4453, 5000, 5001, 5002, 5003, 5004, 5005, 5101, 5103, 5105];
  for (;;) {
    const base = 61_000 + Math.floor(Math.random() * 3_800);
    const moved = seed.map((p) => p - 4441 + base);
    if ((await Promise.all(moved.map(free))).every(Boolean)) return base;
  }
}

describe('examples/gft-init.ts', () => {
  it('--help prints the usage and exits 0; an unknown option exits 2', async () => {
    const help = await example(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: tsx examples\/gft-init\.ts /);
    const bad = await example(['--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('usage:');
  });

  it('--dry-run prints the seed scripts lines: add_host.sh, then gft_init.sh', async () => {
    const r = await example(['--dry-run']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('./'));
    expect(lines).toEqual([
      'gft_add_host 0 127.0.0.2 5000 ae:ae:00:00:00:21 127.0.0.3 4441',
      'gft_add_host 1 127.0.0.2 5002 ae:ae:00:00:00:22 127.0.0.3 4442',
      'gft_add_host 2 127.0.0.2 5004 ae:ae:00:00:00:23 127.0.0.3 4443',
      'migrate_set_capability cuju-ft on',
      'migrate_set_capability cuju-ft on',
      'migrate_set_capability cuju-ft on',
      'gft_init',
    ]);
    expect(r.stdout).toContain('-gft-id 2 -ft-join-port 5004');
  });

  it('refuses a bad spec before anything starts (exit 2, the path named)', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'bad.yaml');
    writeFileSync(
      file,
      'hosts: { a: { kind: local } }\nmembers:\n  - { id: 0, mac: ae:ae:00:00:00:21, primary: { host: a }, backup: { host: a, ftPort: 4441 } }\n  - { id: 1, mac: ae:ae:00:00:00:21, primary: { host: a, joinPort: 5002 }, backup: { host: a, ftPort: 4442 } }\n',
    );
    const r = await example([file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('members[1].mac');
    expect(r.stderr).toContain('unique-mac');
  });

  it('runs the seed group on cuju-sim: protected, failed over, re-protected, nothing left', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const workDir = join(t.dir, 'run');
    const r = await example(['--port-base', String(await portBase()), '--work-dir', workDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('status: all 3 members are protected\n');
    expect(r.stdout).toMatch(/^died: m1\.primary \(SIGKILL\)/m);
    expect(r.stdout).toContain('status: all 3 members are protected (generation 2)');
    expect(await noneLeft(workDir)).toEqual([]);
  });
});
