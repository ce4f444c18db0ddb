/**
 * The web console end to end, in headless Debian Chromium (playwright-core): the service
 * drives the REAL FtPair on cuju-sim. Screenshots go to test-artifacts/ (gitignored).
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FtService } from '../src/index.js';
import { ARTIFACTS, buildConsole, launchChromium, requireChromium } from './helpers/browser.js';
import { simProcessesIn, startSimService } from './helpers/sim.js';
import { tempDir } from './helpers/tmp.js';

const HAVE_CHROMIUM = requireChromium();
const t = tempDir('fts-ui-');
let service: FtService;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let bundle: Awaited<ReturnType<typeof buildConsole>>;
let page: Page;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  bundle = await buildConsole();
  service = await startSimService(t.dir, bundle.dir);
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.setDefaultTimeout(60_000);
});

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  bundle?.cleanup();
  const left = simProcessesIn(t.dir);
  t.cleanup();
  expect(left).toEqual([]);
});

const badge = (vm: string) => page.locator(`tr[data-vm="${vm}"] fts-badge span`);
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

async function createVm(name: string, options: { autoReprotect: boolean }) {
  await page.goto(`${service.url}/#/`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Host', { exact: true }).selectOption('sim-a');
  await page.getByLabel('Memory (MiB)').fill('128');
  await page.getByLabel('Memory (MiB)').dispatchEvent('change');
  const ft = page.getByRole('checkbox', { name: 'Fault tolerance' });
  await expect.poll(() => ft.isEnabled()).toBe(true);
  await ft.check();
  const auto = page.getByLabel('Restart the secondary by itself after a failover');
  if (!options.autoReprotect) await auto.uncheck();
  await page.getByRole('button', { name: 'Create' }).click();
}

async function testFailoverFromVmPage(name: string) {
  await page.getByRole('link', { name }).click();
  await page.getByRole('heading', { name }).waitFor();
  const button = page.getByRole('button', { name: 'Test Failover' });
  await expect.poll(() => button.isEnabled()).toBe(true);
  await button.focus();
  await page.keyboard.press('Enter'); // keyboard, not a click
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  expect(await dialog.textContent()).toMatch(/kills the primary of .* on purpose/);
  await dialog.getByRole('button', { name: 'Test Failover' }).click();
}

describe.runIf(HAVE_CHROMIUM)('web console (Chromium, cuju-sim)', () => {
  it('disables the Fault tolerance checkbox with the reason when no backup host qualifies', async () => {
    await page.goto(`${service.url}/#/`);
    await page.getByLabel('Host', { exact: true }).selectOption('sim-a');
    await page.getByLabel('Memory (MiB)').fill('20000');
    await page.getByLabel('Memory (MiB)').dispatchEvent('change');
    const ft = page.getByRole('checkbox', { name: 'Fault tolerance' });
    await expect.poll(() => ft.isDisabled()).toBe(true);
    const why = page.locator('[data-test="ft-disabled-reason"]');
    expect(await why.textContent()).toMatch(/sim-b lacks memory/);
    // The reason is tied to the checkbox for screen readers.
    expect(await ft.getAttribute('aria-describedby')).toContain('ft-why');
    await shot('create-form-ft-unavailable');
  });

  it('tick the box, create: Protected as the reconciler drives cuju-sim; Test Failover: Failed over', async () => {
    await createVm('web1', { autoReprotect: false });
    await expect.poll(() => badge('web1').textContent(), { timeout: 60_000 }).toBe('Protected');
    expect(await page.locator('tr[data-vm="web1"] [data-col="secondary"]').textContent()).toBe('sim-b');
    await shot('list-protected');
    await testFailoverFromVmPage('web1');
    const vmBadge = page.locator('fts-vm-page fts-badge span');
    await expect.poll(() => vmBadge.textContent(), { timeout: 60_000 }).toBe('Failed over');
    await expect
      .poll(() => page.locator('[data-test="history"] li').allTextContents(), { timeout: 30_000 })
      .toEqual(expect.arrayContaining([expect.stringMatching(/failed over to sim-b/)]));
    expect(await page.locator('[data-test="secondary"]').textContent()).toBe('-');
    await shot('vm-failed-over');
  });

  it('after the automatic Restart Secondary, Protected again with the secondary on the other host', async () => {
    await createVm('web2', { autoReprotect: true });
    await expect.poll(() => badge('web2').textContent(), { timeout: 60_000 }).toBe('Protected');
    await testFailoverFromVmPage('web2');
    await expect
      .poll(() => page.locator('[data-test="history"] li').allTextContents(), { timeout: 60_000 })
      .toEqual(expect.arrayContaining([expect.stringMatching(/failed over to sim-b/)]));
    // Wait for the reconciler's answer: protected again, or its reason why not.
    const vmBadge = page.locator('fts-vm-page fts-badge span');
    await expect
      .poll(() => vmBadge.getAttribute('data-state'), { timeout: 60_000 })
      .toMatch(/^(protected|not-protected)$/);
    await shot('vm-after-restart-secondary');
    // The detail line exists only when there is something to say (allTextContents does not wait).
    const detail = (await page.locator('[data-test="detail"]').allTextContents()).join(' ');
    expect(await vmBadge.textContent(), detail).toBe('Protected');
    expect(await page.locator('[data-test="secondary"]').textContent()).toBe('sim-a');
  });
});
