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
  // prepareHost() uploads the native scripts: ship them in dist/native.
  async onSuccess() {
    for (const file of ['lib', 'build-cuju.sh', 'build-kvm.sh', 'reinsmodkvm.sh', 'host-prep.sh']) {
      cpSync(`../../native/${file}`, `dist/native/${file}`, { recursive: true });
    }
  },
});
