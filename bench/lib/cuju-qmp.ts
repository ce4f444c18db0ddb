import { fileURLToPath, pathToFileURL } from 'node:url';
import { importBuilt } from './built.js';
import { note } from './stats.js';

type CujuQmp = typeof import('@cuju/qmp');

/**
 * Loads @cuju/qmp from its built `dist/`, which is what users install.
 *
 * A plain `import '@cuju/qmp'` does not do that under tsx: tsx honours the root
 * tsconfig `paths`, which map the name to `packages/qmp/src/index.ts`, and runs its own
 * esbuild transform of the sources. That transform keeps function names by wrapping
 * every function and closure in a `__name()` call, which is measurable per command
 * (about 0.6 us of CPU per `execute` here), so the bench would time something users never run.
 *
 * `CUJU_QMP_DIST=<dir>` loads another build instead (its `index.js`), for a before/after
 * comparison; the directory must sit inside this checkout so its dependencies resolve.
 */
export function loadCujuQmp(): Promise<CujuQmp> {
  // Another build of the package (a baseline to compare with), when asked for.
  const other = process.env.CUJU_QMP_DIST;
  if (other) {
    note(`@cuju/qmp from CUJU_QMP_DIST=${other}, not packages/qmp/dist`);
    return import(pathToFileURL(`${other.replace(/\/$/, '')}/index.js`).href) as Promise<CujuQmp>;
  }
  return importBuilt<CujuQmp>({
    dir: fileURLToPath(new URL('../../packages/qmp/', import.meta.url)),
    entry: 'dist/index.js',
    build: 'npm run build -w @cuju/qmp',
  });
}
