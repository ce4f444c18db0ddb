import { defineConfig } from 'tsup';

// An executable, not a library: ESM only, one entry that bin/cuju-sim.mjs imports.
export default defineConfig({
  entry: ['src/main.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
