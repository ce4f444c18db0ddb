/**
 * Debian's Chromium (never a downloaded browser) driven by playwright-core, with the flags
 * of shared/reference/peers-setup.md and a fresh profile directory; and the console bundle
 * built from its sources for the test (a stale dist/ must not be tested).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';
import { build } from 'tsup';

export const CHROMIUM = '/usr/bin/chromium';
const PKG = fileURLToPath(new URL('../..', import.meta.url));
export const ARTIFACTS = join(PKG, 'test-artifacts');

export function requireChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const install = 'run scripts/install-peers.sh (apt-get install chromium)';
  if (process.env.CUJU_REQUIRE_PEERS === '1') {
    throw new Error(`required peer Chromium (${CHROMIUM}) is missing (CUJU_REQUIRE_PEERS=1): ${install}`);
  }
  console.warn(`skipping the console tests: ${install}`);
  return false;
}

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'fts-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1200, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Builds console/ into a temporary directory; returns it (index.html + app.js). */
export async function buildConsole(): Promise<{ dir: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'fts-console-'));
  await build({
    config: false,
    entry: { app: join(PKG, 'console/app.ts') },
    outDir: dir,
    format: ['esm'],
    platform: 'browser',
    target: 'es2022',
    noExternal: [/.*/],
    silent: true,
    dts: false,
    clean: false,
  });
  copyFileSync(join(PKG, 'console/index.html'), join(dir, 'index.html'));
  mkdirSync(ARTIFACTS, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
