/**
 * Loading a workspace package from its built `dist/`, the code users install, rather
 * than from its sources (see cuju-qmp.ts for why that matters under tsx).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { note } from './stats.js';

/** A workspace package: its directory and the build command that makes `entry`. */
export interface BuiltPackage {
  /** Absolute path of the package directory (`packages/qmp/`). */
  dir: string;
  /** Its built entry, relative to `dir` (`dist/index.js`). */
  entry: string;
  /** For messages: `npm run build -w @cuju/qmp`. */
  build: string;
}

/** Imports the built entry; throws when it is missing, warns (once) when `src/` is newer. */
export async function importBuilt<T>(pkg: BuiltPackage): Promise<T> {
  const entry = requireBuilt(pkg);
  return (await import(pathToFileURL(entry).href)) as T;
}

/**
 * The absolute path of the built entry, for code that runs it in a child process. Throws
 * when it is missing; warns when a file under `src/` is newer than it, because the numbers
 * would then be for old code.
 */
export function requireBuilt(pkg: BuiltPackage): string {
  const entry = join(pkg.dir, pkg.entry);
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`${pkg.build}\` (npm run bench does)`);
  }
  const built = statSync(entry).mtimeMs;
  const srcDir = join(pkg.dir, 'src');
  const newer = readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter(
    (file) => statSync(join(srcDir, file)).mtimeMs > built,
  );
  if (newer.length > 0) {
    const dist = relative(join(pkg.dir, '..', '..'), join(pkg.dir, 'dist'));
    note(`warning: ${dist} is older than src (${newer.slice(0, 3).join(', ')}); rebuild first`);
  }
  return entry;
}
