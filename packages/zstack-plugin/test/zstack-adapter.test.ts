/**
 * The ZStack adapter's own rules (no service): bad options are typed errors naming the
 * field; a job that never ends or a node that cannot be reached fails within the deadline;
 * the tags the checkbox and the status live in.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FtStatus,
  intentFromTags,
  isFtServiceError,
  statusTags,
  ZStackAdapter,
  ZStackClient,
  zstackBackupName,
} from '../src/index.js';
import { ZStackFake } from '../src/testing.js';

let fake: ZStackFake;

beforeAll(async () => {
  // Every job stays "processing" far longer than the deadlines below.
  fake = await ZStackFake.start({ jobPolls: 1_000_000 });
});

afterAll(async () => {
  await fake.stop();
});

describe('ZStack adapter', () => {
  it('refuses bad options with FTS_INVALID_INPUT naming the field', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => new ZStackClient({ url: 'not a url', accountName: 'admin', password: 'x' }), 'zstack.url'],
      [() => new ZStackClient({ url: 'ftp://mn/zstack', accountName: 'admin', password: 'x' }), 'zstack.url'],
      [() => new ZStackClient({ url: fake.url, accountName: '', password: 'x' }), 'zstack.accountName'],
      [
        () =>
          new ZStackAdapter({
            zstack: { url: fake.url, accountName: 'admin', password: 'password' },
            create: { imageUuid: 'i', l3NetworkUuids: [] },
          }),
        'create.l3NetworkUuids',
      ],
    ];
    for (const [make, field] of cases) {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect(isFtServiceError(err, 'FTS_INVALID_INPUT'), String(err)).toBe(true);
      expect((err as { field: string }).field).toBe(field);
    }
  });

  it('a job that never ends fails at the deadline (FTS_ABORTED), and so does a caller abort', async () => {
    const client = new ZStackClient({
      url: fake.url,
      accountName: 'admin',
      password: 'password',
      timeoutMs: 800,
    });
    const [vm] = [...fake.vms.values()];
    const body = { params: { resourceType: 'VmInstanceVO', resourceUuid: vm?.uuid ?? 'x', tag: 'cuju::ft' } };
    const err = await client.request('POST', '/v1/user-tags', body).catch((e: unknown) => e);
    expect(isFtServiceError(err, 'FTS_ABORTED'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/^POST \/v1\/user-tags/);
    const abort = new AbortController();
    const pending = client.query('/v1/hosts', {}, abort.signal).catch((e: unknown) => e);
    abort.abort(new Error('the caller gave up'));
    const err2 = await pending;
    expect(isFtServiceError(err2, 'FTS_ABORTED'), String(err2)).toBe(true);
  });

  it('a management node that cannot be reached is FTS_IAAS, not a hang', async () => {
    // A port that was free a moment ago: nothing listens there now.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const client = new ZStackClient({ url: `http://127.0.0.1:${port}`, accountName: 'admin', password: 'x' });
    const err = await client.login().catch((e: unknown) => e);
    expect(isFtServiceError(err, 'FTS_IAAS'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/cannot be reached/);
  });

  it("hints: a VM's state change and a host that disconnects, from ZStack's canonical events", async () => {
    const live = await ZStackFake.start();
    const cluster = live.addCluster();
    const a = live.addHost({ name: 'sim-a', managementIp: '127.0.0.2', clusterUuid: cluster });
    const b = live.addHost({ name: 'sim-b', managementIp: '127.0.0.3', clusterUuid: cluster });
    const vm = live.addVm({ name: 'v', hostUuid: a.uuid, memoryMiB: 64, userTags: ['cuju::ft'] });
    const adapter = new ZStackAdapter({
      zstack: { url: live.url, accountName: 'admin', password: 'password' },
    });
    const abort = new AbortController();
    try {
      const [listed] = await adapter.listVms();
      expect(listed).toMatchObject({
        id: `zstack-${vm.uuid}`,
        host: 'sim-a',
        memoryMiB: 64,
        ft: { enabled: true },
      });
      expect(await adapter.candidateBackupHosts(listed!)).toEqual(['sim-b']);
      const hints = adapter.hints(abort.signal)[Symbol.asyncIterator]();
      expect((await hints.next()).value).toEqual({ kind: 'resync' });
      live.setVmState(vm.uuid, 'Stopped');
      expect((await hints.next()).value).toEqual({ kind: 'vm-changed', iaasId: vm.uuid });
      live.setHostStatus(b.uuid, 'Disconnected');
      expect((await hints.next()).value).toEqual({ kind: 'host-down', host: 'sim-b' });
      // Stopped in ZStack: listed as stopped, on its last host.
      expect((await adapter.getVm(vm.uuid))?.state).toBe('stopped');
      abort.abort();
      await hints.return?.();
      expect(live.webhooks.size).toBe(0);
    } finally {
      abort.abort();
      await adapter.close();
      await live.stop();
    }
  });

  it('the checkbox and its options as user tags; a bad option value is ignored, the rest applies', () => {
    expect(intentFromTags(['other'])).toBeUndefined();
    expect(intentFromTags(['cuju::ft::status::protected'])).toBeUndefined();
    expect(
      intentFromTags([
        'cuju::ft',
        'cuju::ft::engine::colo',
        'cuju::ft::epoch-us::5000',
        'cuju::ft::reprotect::manual',
        'cuju::ft::epoch-us::5',
        'cuju::ft::engine::vmware',
      ]),
    ).toEqual({ enabled: true, engine: 'colo', epochUs: 5000, reprotect: 'manual' });
  });

  it('the status as user tags, and the backup domain name', () => {
    const s: FtStatus = {
      vmId: 'zstack-abc',
      state: 'not-protected',
      reason: 'secondary-lost',
      primaryHost: 'sim-b',
      figures: {},
      lastChangeAt: new Date().toISOString(),
      observedGeneration: 1,
    };
    expect(statusTags(s)).toEqual([
      'cuju::ft::status::not-protected',
      'cuju::ft::reason::secondary-lost',
      'cuju::ft::running-on::sim-b',
    ]);
    expect(zstackBackupName('zstack-0123abcd')).toBe('cuju-bk-0123abcd');
    expect(zstackBackupName('web1')).toBeUndefined();
  });
});
