/**
 * ZStack end to end on the simulated cluster: the FT service with a ZStackAdapter on the
 * ZStackFake, the FT pair run by the REAL FtPair on cuju-sim. A VM created in ZStack with
 * the `cuju::ft` user tag (and one created through the service's create route, as the
 * console's form does) reaches Protected, and the status is written back as user tags;
 * unticking turns FT off, expunging deletes it; the backup runs as `cuju-bk-<uuid>`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtService, type VmView, ZStackAdapter, type ZStackHost, zstackBackupName } from '../src/index.js';
import { ZStackFake } from '../src/testing.js';
import { ApiClient } from './helpers/api-client.js';
import { buildConsole, launchChromium, requireChromium } from './helpers/browser.js';
import { SIM_HOSTS, simDriver, simProcessesIn } from './helpers/sim.js';
import { eventually, tempDir } from './helpers/tmp.js';

const HAVE_CHROMIUM = requireChromium();
const t = tempDir('fts-zs-');
let bundle: Awaited<ReturnType<typeof buildConsole>> | undefined;
let fake: ZStackFake;
let service: FtService;
let api: ApiClient;
let hostA: ZStackHost;

beforeAll(async () => {
  if (HAVE_CHROMIUM) bundle = await buildConsole();
  fake = await ZStackFake.start({ password: 'zs-pass' });
  const cluster = fake.addCluster();
  hostA = fake.addHost({ name: 'sim-a', managementIp: '127.0.0.2', clusterUuid: cluster });
  fake.addHost({ name: 'sim-b', managementIp: '127.0.0.3', clusterUuid: cluster });
  // A host of another cluster never holds a backup of this cluster's VMs.
  fake.addHost({ name: 'sim-c', managementIp: '127.0.0.4', clusterUuid: fake.addCluster() });
  const zstack = new ZStackAdapter({
    zstack: { url: fake.url, accountName: 'admin', password: 'zs-pass' },
    create: { imageUuid: 'a'.repeat(32), l3NetworkUuids: ['b'.repeat(32)] },
  });
  const driver = simDriver(join(t.dir, 'run'), true, { backupName: zstackBackupName });
  service = await FtService.start({
    store: { kind: 'sqlite', path: join(t.dir, 'fts.db') },
    driver,
    hosts: [...SIM_HOSTS, { name: 'sim-c', address: '127.0.0.4', capacity: { vms: 16, memoryMiB: 16_384 } }],
    reconciler: { intervalMs: 200 },
    adapters: [zstack],
    createVia: zstack,
    iaas: { pollMs: 1000, backoff: { baseMs: 200, maxMs: 2000 } },
    logger: pino({ level: process.env.FTS_TEST_LOG ?? 'silent' }),
    consoleDir: bundle?.dir ?? false,
  });
  await service.whenLeader();
  api = new ApiClient(service.url);
});

afterAll(async () => {
  await service?.stop();
  const hooksLeft = fake ? fake.webhooks.size : 0;
  await fake?.stop();
  bundle?.cleanup();
  const left = simProcessesIn(t.dir);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  t.cleanup();
  expect(left).toEqual([]);
  // The leader's webhooks went with its hint stream.
  expect(hooksLeft).toBe(0);
});

const view = async (id: string) => {
  const r = await api.call<VmView>('GET', `/api/v1/vms/${id}`);
  return r.status === 200 ? r.body : undefined;
};
const statusTags = (uuid: string) =>
  fake
    .tagsOf(uuid)
    .filter((x) => x.startsWith('cuju::ft::'))
    .sort();

/** The `-name` of every cuju-sim process under the test directory. */
function simNames(): string[] {
  return simProcessesIn(t.dir).map((pid) => {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[argv.indexOf('-name') + 1] ?? '';
  });
}

describe('ZStack adapter on cuju-sim (ZStackFake, real FtPair)', () => {
  let tagged: string;

  it('a VM created in ZStack with the cuju::ft tag reaches Protected; the status goes back as user tags', async () => {
    const vm = fake.addVm({ name: 'web-1', hostUuid: hostA.uuid, memoryMiB: 128, userTags: ['cuju::ft'] });
    tagged = vm.uuid;
    const id = `zstack-${vm.uuid}`;
    const v = await eventually('web-1 protected', async () => {
      const x = await view(id);
      return x?.status.state === 'protected' ? x : undefined;
    });
    expect(v.vm).toMatchObject({ name: 'web-1', host: 'sim-a', memoryMiB: 128 });
    // The backup's placement is ZStack's: the same cluster, not the VM's host (sim-c is elsewhere).
    expect(v.intent.placement.allowedHosts).toEqual(['sim-b']);
    expect(v.status).toMatchObject({ primaryHost: 'sim-a', secondaryHost: 'sim-b' });
    // New tags are written before stale ones go: wait for the stale `starting` to go too.
    const want = [
      'cuju::ft::running-on::sim-a',
      'cuju::ft::secondary-on::sim-b',
      'cuju::ft::status::protected',
    ];
    await eventually('the protected tags in ZStack', () =>
      statusTags(vm.uuid).join() === want.join() ? true : undefined,
    );
    // ZStack's VM tracer keys on domain names: the backup is cuju-bk-<uuid>, never the VM's own name.
    expect(simNames().sort()).toEqual([`cuju-bk-${vm.uuid}`, id].sort());
    // The session header went with every call but the login.
    const calls = fake.requests.filter(
      (r) => r.path !== '/v1/accounts/login' && !r.path.startsWith('/v1/api-jobs/'),
    );
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((r) => /^OAuth [0-9a-f]{32}$/.test(r.authorization ?? ''))).toBe(true);
  });

  it("the create route posts ZStack's CreateVmInstance with the tag; the VM is protected, a failed tag write retried", async () => {
    // The first status write fails: the publisher retries it with backoff.
    fake.faults.push({ method: 'POST', path: '/v1/user-tags' });
    const r = await api.call<{ iaas: string; iaasId: string; id: string }>('POST', '/api/v1/iaas/vms', {
      body: { name: 'db-1', host: 'sim-a', memoryMiB: 128, ft: { enabled: true } },
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ iaas: 'zstack', id: `zstack-${r.body.iaasId}`, ft: true });
    const create = fake.requests.find((x) => x.method === 'POST' && x.path === '/v1/vm-instances');
    expect(create?.body).toEqual({
      params: {
        name: 'db-1',
        imageUuid: 'a'.repeat(32),
        l3NetworkUuids: ['b'.repeat(32)],
        cpuNum: 1,
        memorySize: 128 * 1024 * 1024,
        hostUuid: hostA.uuid,
        strategy: 'InstantStart',
      },
      userTags: ['cuju::ft'],
    });
    await eventually('db-1 protected', async () => (await view(r.body.id))?.status.state === 'protected');
    await eventually('db-1 protected tag', () =>
      statusTags(r.body.iaasId).includes('cuju::ft::status::protected') ? true : undefined,
    );
    expect(fake.faults).toEqual([]);
    // A bad form is refused before ZStack is asked, naming the field.
    const bad = await api.call<{ error: { code: string; field: string } }>('POST', '/api/v1/iaas/vms', {
      body: { name: 'x', memoryMiB: 1 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'FTS_INVALID_INPUT', field: 'body.memoryMiB' });
  });

  it('removing the tag turns FT off (status disabled written back); expunging the VM deletes it', async () => {
    const id = `zstack-${tagged}`;
    fake.removeTag(tagged, 'cuju::ft');
    await eventually('FT off', async () => (await view(id))?.status.state === 'disabled');
    await eventually('the disabled tag', () =>
      statusTags(tagged).join() === ['cuju::ft::running-on::sim-a', 'cuju::ft::status::disabled'].join()
        ? true
        : undefined,
    );
    expect(simNames()).not.toContain(`cuju-bk-${tagged}`);
    fake.expungeVm(tagged);
    await eventually('deleted from the service', async () => (await view(id)) === undefined);
    expect(simNames()).not.toContain(id);
  });

  it.runIf(HAVE_CHROMIUM)(
    "the console's create form, ticked, creates the VM in ZStack with the tag; its row turns Protected",
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.context.newPage();
        page.setDefaultTimeout(60_000);
        await page.goto(`${service.url}/#/`);
        await page.locator('[data-test="create-via"]').waitFor();
        await page.getByLabel('Name').fill('ui-1');
        await page.getByLabel('Host', { exact: true }).selectOption('sim-a');
        await page.getByLabel('Memory (MiB)').fill('128');
        await page.getByLabel('Memory (MiB)').dispatchEvent('change');
        const ft = page.getByRole('checkbox', { name: 'Fault tolerance' });
        await expect.poll(() => ft.isEnabled()).toBe(true);
        await ft.check();
        await page.getByRole('button', { name: 'Create' }).click();
        await page.locator('[data-test="create-notice"]').waitFor();
        const vm = [...fake.vms.values()].find((v) => v.name === 'ui-1');
        expect(vm && fake.tagsOf(vm.uuid)).toContain('cuju::ft');
        const badge = page.locator(`tr[data-vm="zstack-${vm!.uuid}"] fts-badge span`);
        await expect.poll(() => badge.textContent(), { timeout: 60_000 }).toBe('Protected');
      } finally {
        await browser.close();
      }
    },
  );
});
