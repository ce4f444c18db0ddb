import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { note } from './stats.js';

type CujuQmp = typeof import('@cuju/qmp');

const PACKAGE_DIR = fileURLToPath(new URL('../../packages/qmp/', import.meta.url));
const DIST_ENTRY = join(PACKAGE_DIR, 'dist', 'index.js');

/**
 * Loads @cuju/qmp from its built `dist/`, which is what users install.
 *
 * A plain `import '@cuju/qmp'` does not do that under tsx: tsx honours the root
 * tsconfig `paths`, which map the name to `packages/qmp/src/index.ts`, and runs its own
 * esbuild transform of the sources. That transform keeps function names by wrapping
 * every function and closure in a `__name()` call, which is measurable per command
 * (about 0.6 us of CPU per `execute` here), so the bench would time something users never run.
 */
export async function loadCujuQmp(): Promise<CujuQmp> {
  if (!existsSync(DIST_ENTRY)) {
    throw new Error(`${DIST_ENTRY} is missing: run \`npm run build -w @cuju/qmp\` (npm run bench does)`);
  }
  warnIfStale();
  return (await import(pathToFileURL(DIST_ENTRY).href)) as CujuQmp;
}

/** Sources newer than the build mean the numbers would be for old code; say so, but go on. */
function warnIfStale(): void {
  const built = statSync(DIST_ENTRY).mtimeMs;
  const srcDir = join(PACKAGE_DIR, 'src');
  const newer = readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter(
    (file) => statSync(join(srcDir, file)).mtimeMs > built,
  );
  if (newer.length > 0) {
    note(`warning: packages/qmp/dist is older than src (${newer.slice(0, 3).join(', ')}); rebuild first`);
  }
}
