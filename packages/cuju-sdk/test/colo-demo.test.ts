/**
 * `npm run demo -- --engine colo` on real QEMU: the whole story (up, protected, the
 * primary killed, failover, a new secondary, protected again) with its measured times,
 * and no QEMU left behind; a wrong --engine is a usage error that starts nothing.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hasQemu } from './colo-helpers.js';
import { processesMentioning } from './helpers/sshd.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const DEMO = join(ROOT, 'examples', 'demo.ts');

describe('npm run demo -- --engine', () => {
  it.runIf(hasQemu)(
    'colo runs up, protected, failover, restart secondary, protected, with measured times, and leaves no QEMU',
    async () => {
      const { stdout } = await run(TSX, [DEMO, '--engine', 'colo'], { timeout: 600_000 });
      const lines = stdout.split('\n');
      expect(lines.filter((l) => l.endsWith('state protected'))).toHaveLength(2);
      expect(stdout).toMatch(/protected \(primary MIGRATION colo, secondary COLO mode secondary\) in \d+ ms/);
      expect(stdout).toMatch(
        /failover: first sign \S+ -?[\d.]+ ms after the primary died, the secondary ran the guest -?[\d.]+ ms after it/,
      );
      expect(stdout).toMatch(/protected again by a new secondary from the survivor in \d+ ms/);
      expect(stdout).toContain('state stopped');
      expect(processesMentioning('cuju-demo-colo-')).toEqual([]);
    },
    600_000,
  );

  it('refuses an unknown engine (exit 2) and starts nothing', async () => {
    const err = (await run(TSX, [DEMO, '--engine', 'xen']).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
      stdout: string;
    };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain("--engine must be cuju or colo, got 'xen'");
    expect(err.stdout).not.toContain('state');
  });
});
