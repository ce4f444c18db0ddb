import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts', 'src/cli.ts', 'src/testing.ts'],
    format: ['esm'],
    dts: { entry: ['src/index.ts', 'src/testing.ts'] },
    clean: false,
    sourcemap: true,
    target: 'node20',
  },
  {
    // The web console: one browser bundle (lit included), served by the service.
    entry: { app: 'console/app.ts' },
    outDir: 'dist/console',
    format: ['esm'],
    platform: 'browser',
    target: 'es2022',
    noExternal: [/.*/],
    minify: true,
    sourcemap: true,
    dts: false,
    clean: false,
    async onSuccess() {
      cpSync('console/index.html', 'dist/console/index.html');
    },
  },
]);
