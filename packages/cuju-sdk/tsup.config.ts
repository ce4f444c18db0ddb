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
  // prepareHost() uploads the native scripts: ship native/ in dist/native, without its
  // tests and docs (native-scripts.ts checks that every script it needs is there).
  async onSuccess() {
    cpSync('../../native', 'dist/native', {
      recursive: true,
      filter: (src) => !/\/native\/(test|README\.md)/.test(src),
    });
  },
});
