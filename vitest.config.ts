import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Our packages from their sources, as the typecheck sees them: a project that imports
 * another of ours must never test a stale dist/.
 */
const SOURCES = {
  sdk: './packages/cuju-sdk/src/index.ts',
  qmp: './packages/qmp/src/index.ts',
  sim: './packages/cuju-sim/src/index.ts',
  gft: './packages/gft/src/index.ts',
} as const;
const fromSources = (...names: Array<keyof typeof SOURCES>) =>
  Object.fromEntries(names.map((n) => [`@cuju/${n}`, fileURLToPath(new URL(SOURCES[n], import.meta.url))]));

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
          alias: fromSources('sdk', 'qmp'),
          include: ['test/**/*.test.ts'],
          // Group tests start several simulators each, slow on a loaded machine.
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'cli',
          root: './packages/cli',
          // The CLI's own child processes run from sources too, through tsx and tsconfig paths.
          alias: fromSources('sdk', 'qmp', 'sim', 'gft'),
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'zstack-plugin',
          root: './packages/zstack-plugin',
          alias: fromSources('sdk', 'qmp'),
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
