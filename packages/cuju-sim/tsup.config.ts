import { defineConfig } from 'tsup';

// ESM only. index: the library entry (where the binary is); main: what bin/cuju-sim.mjs runs.
export default defineConfig({
  entry: ['src/index.ts', 'src/main.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
