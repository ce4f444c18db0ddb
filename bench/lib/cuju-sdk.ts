/**
 * @cuju/sdk and the Cuju simulator, both from their built `dist/` (see cuju-qmp.ts for
 * why the bench never imports workspace packages by name under tsx). The SDK's dist
 * imports @cuju/qmp by name, which Node resolves through node_modules to
 * `packages/qmp/dist`, so the whole stack under test is built code.
 */
import { fileURLToPath } from 'node:url';
import { importBuilt, requireBuilt } from './built.js';
import { note } from './stats.js';

type CujuSdk = typeof import('@cuju/sdk');

const PACKAGES = new URL('../../packages/', import.meta.url);

export function loadCujuSdk(): Promise<CujuSdk> {
  return importBuilt<CujuSdk>({
    dir: fileURLToPath(new URL('cuju-sdk/', PACKAGES)),
    entry: 'dist/index.js',
    build: 'npm run build -w @cuju/sdk',
  });
}

/**
 * The simulator's launcher script (`node cuju-sim.mjs ...` stands in for
 * `qemu-system-x86_64 ...`). It runs `dist/main.js` when that exists and otherwise falls
 * back to the TypeScript sources through tsx, which would be slower to start and not
 * what is shipped: so the build is required here, and checked for staleness.
 */
export function cujuSimBinary(): string {
  requireBuilt({
    dir: fileURLToPath(new URL('cuju-sim/', PACKAGES)),
    entry: 'dist/main.js',
    build: 'npm run build -w @cuju/sim',
  });
  if (process.env.CUJU_SIM_FROM_SOURCE === '1') {
    note('warning: CUJU_SIM_FROM_SOURCE=1 makes cuju-sim run its sources through tsx, not dist/');
  }
  return fileURLToPath(new URL('cuju-sim/bin/cuju-sim.mjs', PACKAGES));
}
