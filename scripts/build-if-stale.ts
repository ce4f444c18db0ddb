/**
 * Builds the workspace packages whose dist/ is missing or older than their inputs, and
 * only those (the type declarations take most of a build): `npm run demo` runs this, so a
 * second demo starts at once. A package is stale when a file of src/, its tsup and
 * TypeScript config or package.json (or an extra input its build copies) is newer than
 * the oldest file of its dist/, or when a workspace package it depends on was rebuilt.
 *
 *   tsx scripts/build-if-stale.ts [ROOT]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Inputs outside a package's directory that its build copies in (tsup.config.ts). */
const EXTRA_INPUTS: Record<string, string[]> = { '@cuju/sdk': ['native'] };
const OWN_INPUTS = ['src', 'package.json', 'tsup.config.ts', 'tsconfig.json'];

interface Manifest {
  name: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  workspaces?: string[];
}

/** Every file under `path` (or `path` itself), skipping tests and node_modules. */
function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => !/(^|\/)(node_modules|test)(\/|$)/.test(f))
    .map((f) => join(path, f))
    .filter((f) => statSync(f).isFile());
}

/** The newest of `files` as [mtime, file], or undefined for none. */
function newest(files: string[]): [number, string] | undefined {
  let best: [number, string] | undefined;
  for (const f of files) {
    const t = statSync(f).mtimeMs;
    if (!best || t > best[0]) best = [t, f];
  }
  return best;
}

/** Why `dir` needs a build, or undefined when its dist is newer than every input. */
export function staleReason(root: string, dir: string, name: string): string | undefined {
  const outputs = filesUnder(join(dir, 'dist'));
  if (outputs.length === 0) return 'no dist';
  const oldestOutput = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const inputs = [
    ...OWN_INPUTS.flatMap((i) => filesUnder(join(dir, i))),
    ...(EXTRA_INPUTS[name] ?? []).flatMap((i) => filesUnder(join(root, i))),
  ];
  const input = newest(inputs);
  if (input && input[0] > oldestOutput) return `${relative(root, input[1])} is newer than dist`;
  return undefined;
}

/** Builds what is stale, in workspace order; returns the names of the packages built. */
export function buildIfStale(root: string, log: (line: string) => void = console.log): string[] {
  const workspaces =
    (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest).workspaces ?? [];
  const built: string[] = [];
  for (const ws of workspaces) {
    const dir = join(root, ws);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
    if (!manifest.scripts?.build) continue;
    const deps = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
    const rebuiltDep = deps.find((d) => built.includes(d));
    const reason = rebuiltDep ? `${rebuiltDep} was rebuilt` : staleReason(root, dir, manifest.name);
    if (reason === undefined) {
      log(`${manifest.name}: up to date`);
      continue;
    }
    log(`${manifest.name}: building (${reason})`);
    const r = spawnSync('npm', ['run', 'build', '--silent', '--', '--silent'], {
      cwd: dir,
      stdio: 'inherit',
    });
    if (r.status !== 0)
      throw new Error(`the build of ${manifest.name} failed (exit ${r.status ?? r.signal})`);
    built.push(manifest.name);
  }
  return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildIfStale(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}
