import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// One config, a project per package that has tests. Real-peer tests start their own
// peers (qemu-system-x86_64, sshd, ...); with CUJU_REQUIRE_PEERS=1 a missing peer fails.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'qmp',
          root: './packages/qmp',
          include: ['test/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'cuju-sdk',
          root: './packages/cuju-sdk',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'native',
          root: './native',
          include: ['test/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'scripts',
          root: './scripts',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'cuju-sim',
          root: './packages/cuju-sim',
          include: ['test/**/*.test.ts'],
          // Generous: a group test starts several simulators, each slow on a loaded machine.
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'gft',
          root: './packages/gft',
          // The SDK from its sources, as the typecheck sees it (a stale dist/ must not be tested).
          alias: {
            '@cuju/sdk': fileURLToPath(new URL('./packages/cuju-sdk/src/index.ts', import.meta.url)),
            '@cuju/qmp': fileURLToPath(new URL('./packages/qmp/src/index.ts', import.meta.url)),
          },
          include: ['test/**/*.test.ts'],
          // Group tests start several simulators each, slow on a loaded machine.
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'zstack-plugin',
          root: './packages/zstack-plugin',
          // The SDK from its sources, as the typecheck sees it (a stale dist/ must not be tested).
          alias: {
            '@cuju/sdk': fileURLToPath(new URL('./packages/cuju-sdk/src/index.ts', import.meta.url)),
            '@cuju/qmp': fileURLToPath(new URL('./packages/qmp/src/index.ts', import.meta.url)),
          },
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
