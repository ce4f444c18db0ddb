#!/usr/bin/env node
// cuju-sim: runs the built simulator (dist/), or, inside this repository before a build
// or with CUJU_SIM_FROM_SOURCE=1 (the tests), its TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'main.js');
let mod;
if (existsSync(built) && process.env.CUJU_SIM_FROM_SOURCE !== '1') {
  mod = await import(pathToFileURL(built).href);
} else {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    process.stderr.write('cuju-sim: not built (run `npm run build -w @cuju/sim`) and tsx is not available\n');
    process.exit(1);
  }
  mod = await import(pathToFileURL(join(root, 'src', 'main.ts')).href);
}
await mod.main(process.argv.slice(2));
