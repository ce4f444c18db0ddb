/**
 * OpenStack end to end on the simulated cluster: the FT service with an OpenStackAdapter,
 * a REAL Keystone and a REAL RabbitMQ started here, nova played by the fake (which checks
 * every token with that Keystone and publishes nova-compute's versioned notifications on
 * that RabbitMQ), the FT pair run by the REAL FtPair on cuju-sim. A server created in nova
 * with `cuju_ft=true` on a flavor with `cuju:ft=true` is learned from its
 * `instance.create.end` notification (the poll interval is far longer than the test's
 * deadline), reaches Protected, and the status is written back into its metadata, with
 * Masakari's `HA_Enabled=False`; its deletion (`instance.delete.end`) deletes it.
 */
import { join } from 'node:path';
import amqp from 'amqplib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FT_METADATA_KEY, OpenStackAdapter, openstackBackupName } from '../../src/iaas/openstack/index.js';
import { FtService, type VmView } from '../../src/index.js';
import { ApiClient } from '../helpers/api-client.js';
import { SIM_HOSTS, simDriver, simProcessesIn } from '../helpers/sim.js';
import { eventually, tempDir } from '../helpers/tmp.js';
import { type Cloud, realCloud, requireOpenStackPeers, startCloud } from './cloud.js';

// The fake's compute hosts are the simulated hosts (a third one, in another zone, is not).
const HOSTS = [
  { name: 'compute-a', zone: 'nova' },
  { name: 'compute-b', zone: 'nova' },
  { name: 'compute-c', zone: 'az2' },
];
const run = requireOpenStackPeers(true) && !realCloud();
const t = tempDir('fts-os-');
let cloud: Cloud;
let adapter: OpenStackAdapter;
let service: FtService;
let api: ApiClient;
let ftFlavor: string;
const warnings: string[] = [];

beforeAll(async () => {
  if (!run) return;
  cloud = await startCloud({ rabbit: true, hosts: HOSTS });
  adapter = new OpenStackAdapter({
    credentials: cloud.credentials,
    notifications: { url: cloud.amqpUrl! },
    hostMap: { 'compute-a': 'sim-a', 'compute-b': 'sim-b' },
    onWarning: (m) => warnings.push(m),
    create: { imageRef: cloud.imageRef, networks: 'none' },
  });
  ftFlavor = await adapter.nova.createFlavor(
    { name: 'ft.small', ram: 128, vcpus: 1, disk: 0 },
    { 'cuju:ft': 'true' },
  );
  service = await FtService.start({
    store: { kind: 'sqlite', path: join(t.dir, 'fts.db') },
    driver: simDriver(join(t.dir, 'run'), true, { backupName: openstackBackupName }),
    hosts: SIM_HOSTS,
    reconciler: { intervalMs: 200 },
    adapters: [adapter],
    createVia: adapter,
    // Far beyond any deadline below: what is learned in time came from a notification.
    iaas: { pollMs: 600_000, backoff: { baseMs: 200, maxMs: 2000 } },
    logger: pino({ level: process.env.FTS_TEST_LOG ?? 'silent' }),
    consoleDir: false,
  });
  await service.whenLeader();
  api = new ApiClient(service.url);
}, 300_000);

afterAll(async () => {
  if (!run) return;
  await service?.stop();
  const peersLeft = (await cloud?.stop()) ?? [];
  expect(peersLeft).toEqual([]);
  const left = simProcessesIn(t.dir);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  t.cleanup();
  expect(left).toEqual([]);
}, 120_000);

const view = async (id: string) => {
  const r = await api.call<VmView>('GET', `/api/v1/vms/${id}`);
  return r.status === 200 ? r.body : undefined;
};

async function createServer(name: string, metadata: Record<string, string>): Promise<string> {
  return adapter.nova.createServer({
    name,
    flavorRef: ftFlavor,
    imageRef: cloud.imageRef,
    metadata,
    networks: 'none',
    availability_zone: 'nova',
  });
}

describe.skipIf(!run)(
  'OpenStack adapter on cuju-sim (real Keystone and RabbitMQ, nova fake, real FtPair)',
  () => {
    let serverId: string;

    it('a server created with cuju_ft=true on an FT flavor is learned from instance.create.end and reaches Protected; the status goes into its metadata', async () => {
      const plain = await createServer('plain-1', {});
      serverId = await createServer('web-1', { [FT_METADATA_KEY]: 'true' });
      const id = `openstack-${serverId}`;
      const v = await eventually(
        'web-1 protected',
        async () => {
          const x = await view(id);
          return x?.status.state === 'protected' ? x : undefined;
        },
        90_000,
      );
      const nova = (await adapter.nova.getServer(serverId))!;
      const primary = nova['OS-EXT-SRV-ATTR:host'] === 'compute-a' ? 'sim-a' : 'sim-b';
      const other = primary === 'sim-a' ? 'sim-b' : 'sim-a';
      expect(v.vm).toMatchObject({ name: 'web-1', host: primary, memoryMiB: 128 });
      // The backup's placement is nova's: the same availability zone, not the VM's host.
      expect(v.intent.placement.allowedHosts).toEqual([other]);
      expect(v.status).toMatchObject({ primaryHost: primary, secondaryHost: other });
      expect(cloud.fake!.published).toContainEqual({ eventType: 'instance.create.end', serverId });
      // The status in nova, where `openstack server show` and Horizon show it.
      await eventually(
        'protected in the server metadata',
        async () => (await adapter.nova.getServer(serverId))?.metadata.cuju_ft_status === 'protected',
        30_000,
      );
      expect((await adapter.nova.getServer(serverId))!.metadata).toMatchObject({
        cuju_ft: 'true',
        cuju_ft_status: 'protected',
        cuju_ft_secondary_host: other,
        HA_Enabled: 'False',
      });
      // The unticked server is not the service's business.
      expect(await view(`openstack-${plain}`)).toBeUndefined();
      expect(simProcessesIn(t.dir)).toHaveLength(2);
    });

    it('a malformed notification is dropped with a warning; the stream goes on', async () => {
      const conn = await amqp.connect(cloud.amqpUrl!);
      const ch = await conn.createChannel();
      ch.publish(
        'nova',
        'versioned_notifications.info',
        Buffer.from('{"oslo.version": "2.0", "oslo.message": "{"}'),
      );
      ch.publish(
        'nova',
        'versioned_notifications.info',
        Buffer.from(JSON.stringify({ event_type: 'instance.update', payload: {} })),
      );
      await ch.close();
      await conn.close();
      await eventually(
        'two warnings',
        () => (warnings.filter((w) => w.startsWith('dropped a notification')).length >= 2 ? true : undefined),
        30_000,
      );
      expect(warnings.some((w) => w.includes('notification.oslo.message'))).toBe(true);
      // A second ticked server still comes in by its notification.
      const second = await createServer('web-2', { [FT_METADATA_KEY]: 'yes' });
      await eventually(
        'web-2 protected',
        async () => (await view(`openstack-${second}`))?.status.state === 'protected',
        90_000,
      );
      await adapter.nova.deleteServer(second);
      await eventually('web-2 gone', async () => (await view(`openstack-${second}`)) === undefined, 90_000);
    });

    it('the hint stream: resync on connect, a forced-down compute host as host-down (mapped), ended by its signal', async () => {
      const watcher = new OpenStackAdapter({
        credentials: cloud.credentials,
        notifications: { url: cloud.amqpUrl! },
        hostMap: { 'compute-a': 'sim-a', 'compute-b': 'sim-b' },
      });
      const ac = new AbortController();
      const it = watcher.hints(ac.signal)[Symbol.asyncIterator]();
      expect((await it.next()).value).toEqual({ kind: 'resync' });
      // Its queue is bound before `resync` is said: what nova publishes now reaches it.
      cloud.fake!.forceDown('compute-c');
      cloud.fake!.forceDown('compute-b');
      expect((await it.next()).value).toEqual({ kind: 'host-down', host: 'compute-c' });
      expect((await it.next()).value).toEqual({ kind: 'host-down', host: 'sim-b' });
      const pending = it.next();
      ac.abort();
      expect(await pending).toEqual({ done: true, value: undefined });
      await watcher.close();
      cloud.fake!.setHost('compute-b', { up: true, forcedDown: false });
    });

    it("the console's create route creates a nova server on the form's host, ticked; it is protected", async () => {
      const r = await api.call<{ iaas: string; iaasId: string; id: string; ft: boolean }>(
        'POST',
        '/api/v1/iaas/vms',
        {
          body: { name: 'db-1', host: 'sim-b', memoryMiB: 128, ft: { enabled: true } },
        },
      );
      expect(r.status).toBe(202);
      expect(r.body).toMatchObject({ iaas: 'openstack', id: `openstack-${r.body.iaasId}`, ft: true });
      const s = (await adapter.nova.getServer(r.body.iaasId))!;
      expect(s['OS-EXT-SRV-ATTR:host']).toBe('compute-b');
      expect(s.metadata).toMatchObject({ cuju_ft: 'true' });
      expect(s.flavor.original_name).toBe('ft.small');
      await eventually(
        'db-1 protected',
        async () => (await view(r.body.id))?.status.state === 'protected',
        90_000,
      );
      // No flavor of that size: refused before nova builds anything, naming the field.
      const bad = await api.call<{ error: { code: string; field: string } }>('POST', '/api/v1/iaas/vms', {
        body: { name: 'db-2', memoryMiB: 100, ft: { enabled: true } },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'FTS_INVALID_INPUT', field: 'body.memoryMiB' });
      await adapter.nova.deleteServer(r.body.iaasId);
      await eventually('db-1 gone', async () => (await view(r.body.id)) === undefined, 90_000);
    });

    it('deleting the server in nova (instance.delete.end) deletes the VM and its pair', async () => {
      await adapter.nova.deleteServer(serverId);
      await eventually('web-1 gone', async () => (await view(`openstack-${serverId}`)) === undefined, 90_000);
      await eventually(
        'no simulator left',
        () => (simProcessesIn(t.dir).length === 0 ? true : undefined),
        60_000,
      );
    });
  },
);
