/**
 * Contract tests of the OpenStack adapter: Keystone v3 tokens, nova's servers, server
 * metadata, flavors' extra specs, hypervisors and zones, as the adapter uses them. They run
 * against a REAL Keystone started here and the nova fake (which validates every token with
 * that Keystone), or, unchanged, against a real cloud when OS_AUTH_URL (+ OS_USERNAME,
 * OS_PASSWORD, OS_PROJECT_NAME, ...; admin role) and CUJU_OS_IMAGE_ID are set. Tests that
 * steer the fake's topology are skipped against a real cloud.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FT_HA_SAVED_KEY,
  FT_METADATA_KEY,
  FT_STATUS_KEY,
  KeystoneSession,
  MASAKARI_DEFAULTS,
  masakariRecovers,
  type NovaClient,
  OpenStackAdapter,
  OpenStackError,
} from '../../src/iaas/openstack/index.js';
import type { FtStatus } from '../../src/index.js';
import { eventually } from '../helpers/tmp.js';
import { type Cloud, realCloud, requireOpenStackPeers, startCloud } from './cloud.js';

const run = requireOpenStackPeers(false);
let cloud: Cloud;
let adapter: OpenStackAdapter;
let nova: NovaClient;
const warnings: { message: string; field: string | undefined }[] = [];
const created = { servers: [] as string[], flavors: [] as string[] };
const tag = `cuju-ct-${randomUUID().slice(0, 8)}`;
let ftFlavor: string;
let plainFlavor: string;

beforeAll(async () => {
  if (!run) return;
  cloud = await startCloud({ rabbit: false });
  adapter = new OpenStackAdapter({
    credentials: cloud.credentials,
    onWarning: (message, field) => warnings.push({ message, field }),
  });
  nova = adapter.nova;
  ftFlavor = await nova.createFlavor(
    { name: `${tag}-ft`, ram: 64, vcpus: 1, disk: 0 },
    { 'cuju:ft': 'true' },
  );
  plainFlavor = await nova.createFlavor({ name: `${tag}-plain`, ram: 64, vcpus: 1, disk: 0 }, {});
  created.flavors.push(ftFlavor, plainFlavor);
}, 300_000);

afterAll(async () => {
  if (!run) return;
  for (const id of created.servers) await nova?.deleteServer(id).catch(() => {});
  for (const id of created.flavors) await nova?.deleteFlavor(id).catch(() => {});
  await adapter?.close();
  const peersLeft = (await cloud?.stop()) ?? [];
  expect(peersLeft).toEqual([]);
}, 120_000);

async function server(name: string, flavor: string, metadata: Record<string, string>): Promise<string> {
  const id = await nova.createServer({
    name: `${tag}-${name}`,
    flavorRef: flavor,
    imageRef: cloud.imageRef,
    metadata,
    networks: 'none',
  });
  created.servers.push(id);
  await eventually(
    `server ${name} ACTIVE`,
    async () => {
      const s = await nova.getServer(id);
      if (s?.status === 'ERROR') throw new Error(`server ${name} went to ERROR`);
      return s?.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] ? s : undefined;
    },
    cloud.buildMs,
  );
  return id;
}

const status = (vmId: string, over: Partial<FtStatus>): FtStatus => ({
  vmId,
  state: 'protected',
  figures: {},
  lastChangeAt: new Date().toISOString(),
  observedGeneration: 1,
  ...over,
});

describe.skipIf(!run)('Keystone v3 (real)', () => {
  it('authenticates with a password, scoped to the project, and finds compute in the catalog', async () => {
    const t = await adapter.session.token();
    expect(t.id.length).toBeGreaterThan(20);
    expect(t.expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(t.roles).toContain('admin');
    expect(await adapter.session.endpoint('compute')).toMatch(/^https?:\/\//);
  });

  it('a wrong password is FTS_IAAS (reason auth, HTTP 401)', async () => {
    const bad = new KeystoneSession({ ...cloud.credentials, password: 'not-the-password' });
    const err = await bad.token().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err).toMatchObject({ code: 'FTS_IAAS', reason: 'auth', status: 401 });
  });

  it('an unknown catalog type is FTS_CONFIG naming it', async () => {
    await expect(adapter.session.endpoint('no-such-service')).rejects.toMatchObject({
      code: 'FTS_CONFIG',
      reason: 'no-endpoint',
      message: expect.stringContaining('no-such-service'),
    });
  });
});

describe.skipIf(!run)('nova compute API, authenticated by Keystone tokens', () => {
  it('refuses a request without a valid token (401) and answers with one', async () => {
    const url = `${await adapter.session.endpoint('compute')}/servers`;
    const none = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    expect(none.status).toBe(401);
    const forged = await fetch(url, {
      headers: { 'x-auth-token': 'gAAAAABforgedforgedforgedforged' },
      signal: AbortSignal.timeout(15_000),
    });
    expect(forged.status).toBe(401);
    const ok = await fetch(url, {
      headers: { 'x-auth-token': (await adapter.session.token()).id },
      signal: AbortSignal.timeout(15_000),
    });
    expect(ok.status).toBe(200);
  });

  it('flavor extra specs read back as written', async () => {
    expect(await nova.flavorExtraSpecs(ftFlavor)).toMatchObject({ 'cuju:ft': 'true' });
    expect(await nova.flavorExtraSpecs(plainFlavor)).not.toHaveProperty('cuju:ft');
  });

  it('listVms: ticked on an FT flavor is FT; ticked on a plain flavor is managed but not FT; unticked is not listed', async () => {
    const [a, b, c] = await Promise.all([
      server('a', ftFlavor, { [FT_METADATA_KEY]: 'true', cuju_ft_epoch_us: '20000' }),
      server('b', plainFlavor, { [FT_METADATA_KEY]: 'True' }),
      server('c', ftFlavor, {}),
    ]);
    const vms = await adapter.listVms();
    const va = vms.find((v) => v.iaasId === a);
    const vb = vms.find((v) => v.iaasId === b);
    expect(va).toMatchObject({
      id: `openstack-${a}`,
      name: `${tag}-a`,
      memoryMiB: 64,
      state: 'running',
      ft: { enabled: true, epochUs: 20_000 },
    });
    expect(va!.host).toMatch(/^[a-z0-9][a-z0-9-]*$/);
    expect(vb).toMatchObject({ state: 'running', ft: undefined });
    expect(vms.find((v) => v.iaasId === c)).toBeUndefined();
    expect(warnings.some((w) => w.field === `nova.server(${b}).flavor.extra_specs.cuju:ft`)).toBe(true);
    expect(await adapter.getVm(a)).toEqual(va);
    expect(await adapter.getVm(c)).toBeUndefined();
    expect(await adapter.getVm(randomUUID())).toBeUndefined();
  });

  it('publishStatus writes the status into the metadata and keeps Masakari off the VM while FT is on', async () => {
    const id = await server('m', ftFlavor, { [FT_METADATA_KEY]: 'true', HA_Enabled: 'True', owner: 'kept' });
    const vm = (await adapter.getVm(id))!;
    await adapter.publishStatus(vm, status(vm.id, { primaryHost: vm.host, secondaryHost: 'backup-1' }));
    let meta = (await nova.getServer(id))!.metadata;
    expect(meta).toMatchObject({
      [FT_STATUS_KEY]: 'protected',
      cuju_ft_reason: '',
      cuju_ft_primary_host: vm.host,
      cuju_ft_secondary_host: 'backup-1',
      HA_Enabled: 'False',
      [FT_HA_SAVED_KEY]: 'True',
      owner: 'kept',
    });
    // Masakari reads that metadata: no instance-failure recovery, and no host-failure
    // evacuation once evacuate_all_instances=False (its default True would still evacuate).
    expect(masakariRecovers(meta, 'instance')).toBe(false);
    expect(masakariRecovers(meta, 'host', { ...MASAKARI_DEFAULTS, evacuateAllInstances: false })).toBe(false);
    expect(masakariRecovers(meta, 'host')).toBe(true);

    await adapter.publishStatus(vm, status(vm.id, { state: 'not-protected', reason: 'secondary-lost' }));
    meta = (await nova.getServer(id))!.metadata;
    expect(meta).toMatchObject({
      [FT_STATUS_KEY]: 'not-protected',
      cuju_ft_reason: 'secondary-lost',
      HA_Enabled: 'False',
    });
    expect(meta[FT_HA_SAVED_KEY]).toBe('True');

    // FT off: Masakari's own value comes back.
    await adapter.publishStatus(vm, status(vm.id, { state: 'disabled' }));
    meta = (await nova.getServer(id))!.metadata;
    expect(meta).toMatchObject({ [FT_STATUS_KEY]: 'disabled', HA_Enabled: 'True', owner: 'kept' });
    expect(meta).not.toHaveProperty(FT_HA_SAVED_KEY);
    expect(masakariRecovers(meta, 'instance')).toBe(true);
    // Still managed (ticked before), so the service keeps seeing it.
    expect(await adapter.getVm(id)).toBeDefined();
  });

  it('publishStatus on a server without HA_Enabled removes it again when FT is turned off', async () => {
    const id = await server('n', ftFlavor, { [FT_METADATA_KEY]: 'true' });
    const vm = (await adapter.getVm(id))!;
    await adapter.publishStatus(vm, status(vm.id, { state: 'starting' }));
    expect((await nova.getServer(id))!.metadata).toMatchObject({
      HA_Enabled: 'False',
      [FT_HA_SAVED_KEY]: '',
    });
    await adapter.publishStatus(vm, status(vm.id, { state: 'disabled' }));
    const meta = (await nova.getServer(id))!.metadata;
    expect(meta).not.toHaveProperty('HA_Enabled');
    expect(meta).not.toHaveProperty(FT_HA_SAVED_KEY);
  });

  it('publishStatus for a server that is gone is not an error; getVm says undefined', async () => {
    const id = await server('gone', ftFlavor, { [FT_METADATA_KEY]: 'true' });
    const vm = (await adapter.getVm(id))!;
    await nova.deleteServer(id);
    await eventually('server gone', async () => (await nova.getServer(id)) === undefined, cloud.buildMs);
    await adapter.publishStatus(vm, status(vm.id, {}));
    expect(await adapter.getVm(id)).toBeUndefined();
  });

  it('candidateBackupHosts: enabled, up hosts of the zone, never the VM own host', async () => {
    const id = await server('cand', ftFlavor, { [FT_METADATA_KEY]: 'true' });
    const vm = (await adapter.getVm(id))!;
    const hosts = await adapter.candidateBackupHosts(vm);
    expect(hosts).not.toContain(vm.host);
    const known = new Set((await nova.hypervisors()).map((h) => adapter.hostName(h.service.host)));
    for (const h of hosts) expect(known.has(h)).toBe(true);
  });

  it('a closed adapter refuses every call with FTS_ABORTED', async () => {
    const closed = new OpenStackAdapter({ credentials: cloud.credentials });
    await closed.close();
    await expect(closed.listVms()).rejects.toMatchObject({ code: 'FTS_ABORTED', reason: 'aborted' });
  });

  it('an aborted signal ends a call at once with FTS_ABORTED', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(adapter.listVms(ac.signal)).rejects.toMatchObject({ code: 'FTS_ABORTED' });
  });
});

describe.skipIf(!run || realCloud())('against the fake topology', () => {
  it('candidateBackupHosts follows zones, hypervisor state and service status', async () => {
    const id = await server('topo', ftFlavor, { [FT_METADATA_KEY]: 'true' });
    const vm = (await adapter.getVm(id))!;
    const inZone = ['compute-1', 'compute-2'];
    expect(inZone).toContain(vm.host);
    const other = inZone.find((h) => h !== vm.host)!;
    expect(await adapter.candidateBackupHosts(vm)).toEqual([other]);
    cloud.fake!.setHost(other, { enabled: false });
    expect(await adapter.candidateBackupHosts(vm)).toEqual([]);
    cloud.fake!.setHost(other, { enabled: true, up: false });
    expect(await adapter.candidateBackupHosts(vm)).toEqual([]);
    cloud.fake!.setHost(other, { up: true });
    expect(await adapter.candidateBackupHosts(vm)).toEqual([other]);
  });

  it('a revoked token is refused by nova (checked with Keystone) and the adapter authenticates again', async () => {
    // A fresh adapter: its token has never been seen (nor cached) by nova.
    const fresh = new OpenStackAdapter({ credentials: cloud.credentials });
    const before = await fresh.session.token();
    // Revoke it with Keystone, as an operator or a password change would.
    const r = await fetch(`${adapter.session.authUrl}/auth/tokens`, {
      method: 'DELETE',
      headers: { 'x-auth-token': (await adapter.session.token()).id, 'x-subject-token': before.id },
      signal: AbortSignal.timeout(15_000),
    });
    expect(r.status).toBe(204);
    const raw = await fetch(`${await fresh.session.endpoint('compute')}/servers`, {
      headers: { 'x-auth-token': before.id },
      signal: AbortSignal.timeout(15_000),
    });
    expect(raw.status).toBe(401);
    await fresh.listVms();
    expect((await fresh.session.token()).id).not.toBe(before.id);
    await fresh.close();
  });
});
