/**
 * CI's check of what would be published, for every package under packages/ that is not
 * private: `npm pack` (its prepack builds it), then on the tarball npm lists:
 *   - the pack checks (scripts/lib/package-checks.ts): entry files, README, LICENSE (the
 *     root's, unchanged), README links that resolve inside the package, publishing fields;
 *   - publint (strict: warnings fail too);
 *   - arethetypeswrong (@arethetypeswrong/cli): types resolve for every module system the
 *     package claims (ESM-only packages: the esm-only profile).
 * Prints one line per package and every problem; exits 1 when there is any.
 *
 *   tsx scripts/check-packages.ts
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { npmPack, packProblems, publishedPackages, type WorkspacePackage } from './lib/package-checks.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ATTW = join(ROOT, 'node_modules', '.bin', 'attw');

/** Whether a manifest's exports offer a `require` (CommonJS) entry anywhere. */
function hasRequireCondition(exports: unknown): boolean {
  if (!exports || typeof exports !== 'object') return false;
  return Object.entries(exports).some(([key, value]) => key === 'require' || hasRequireCondition(value));
}

async function check(pkg: WorkspacePackage, destination: string): Promise<string[]> {
  const dir = join(ROOT, pkg.dir);
  const packed = await npmPack(dir, { destination });
  const tarball = join(destination, packed.filename);
  const problems = packProblems(pkg.manifest, packed.files, readFileSync(join(dir, 'README.md'), 'utf8'));
  if (readFileSync(join(dir, 'LICENSE'), 'utf8') !== readFileSync(join(ROOT, 'LICENSE'), 'utf8')) {
    problems.push('LICENSE differs from the repository root LICENSE');
  }

  const bytes = readFileSync(tarball);
  const { messages, pkg: manifest } = await publint({
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    level: 'suggestion',
    strict: true,
  });
  for (const m of messages)
    problems.push(`publint ${m.type}: ${formatMessage(m, manifest, { color: false })}`);

  const profile = hasRequireCondition(pkg.manifest.exports) ? 'strict' : 'esm-only';
  try {
    await run(ATTW, [tarball, '--profile', profile, '--format', 'ascii', '--no-color'], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    problems.push(`arethetypeswrong (${profile}):\n${`${stdout}${stderr}`.trim()}`);
  }
  console.log(
    `${problems.length === 0 ? 'ok  ' : 'FAIL'} ${pkg.manifest.name}@${pkg.manifest.version}: ` +
      `${packed.files.length} files, publint, attw --profile ${profile}`,
  );
  return problems;
}

async function main(): Promise<number> {
  const destination = mkdtempSync(join(tmpdir(), 'cuju-pack-'));
  let failed = false;
  try {
    for (const pkg of publishedPackages(ROOT)) {
      const problems = await check(pkg, destination);
      for (const p of problems) console.log(`  - ${p.replace(/\n/g, '\n    ')}`);
      failed ||= problems.length > 0;
    }
  } finally {
    rmSync(destination, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
