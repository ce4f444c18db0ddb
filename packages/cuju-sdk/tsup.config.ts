import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // import.meta.url in the CJS build too: native-scripts.ts finds dist/native by it.
  shims: true,
  // prepareHost() uploads the native scripts: ship native/ in dist/native with their
  // README (the scripts' manual, which this package's README links to), without their
  // tests (native-scripts.ts checks that every script it needs is there).
  async onSuccess() {
    cpSync('../../native', 'dist/native', {
      recursive: true,
      filter: (src) => !/\/native\/test(\/|$)/.test(src),
    });
  },
});
