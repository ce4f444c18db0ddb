import { defineConfig } from 'tsup';

export default defineConfig({
  // index: the program as a library (run(argv), the exit codes); main: the `cuju` bin.
  entry: ['src/index.ts', 'src/main.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  clean: false,
  sourcemap: true,
  target: 'node20',
});
