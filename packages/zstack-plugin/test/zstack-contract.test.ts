/**
 * The ZStack contract: what the adapter relies on of a management node's REST API. The
 * same tests run against the ZStackFake (default) and, unchanged, against a real
 * management node when ZSTACK_URL is given (with ZSTACK_ACCOUNT, ZSTACK_PASSWORD and
 * ZSTACK_TEST_VM_UUID: a VM the test may tag and untag; it touches nothing else, and
 * removes every tag and webhook it made).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ZStackAdapter,
  ZStackApiError,
  ZStackClient,
  type ZStackHost,
  type ZStackTag,
  type ZStackVm,
} from '../src/index.js';
import { ZStackFake } from '../src/testing.js';

const REAL = process.env.ZSTACK_URL;

interface World {
  url: string;
  accountName: string;
  password: string;
  vmUuid: string;
  /** Fires a VM state change the webhook should carry (the fake only; a real node: none). */
  poke?: () => void;
  stop(): Promise<void>;
}

async function world(): Promise<World> {
  if (REAL) {
    const vmUuid = process.env.ZSTACK_TEST_VM_UUID;
    if (!vmUuid)
      throw new Error('ZSTACK_URL is set: ZSTACK_TEST_VM_UUID (a VM the test may tag) is required too');
    return {
      url: REAL,
      accountName: process.env.ZSTACK_ACCOUNT ?? 'admin',
      password: process.env.ZSTACK_PASSWORD ?? 'password',
      vmUuid,
      stop: async () => {},
    };
  }
  const fake = await ZStackFake.start({ accountName: 'admin', password: 'secret-pw', jobPolls: 2 });
  const cluster = fake.addCluster();
  const a = fake.addHost({ name: 'sim-a', managementIp: '127.0.0.2', clusterUuid: cluster });
  fake.addHost({ name: 'sim-b', managementIp: '127.0.0.3', clusterUuid: cluster });
  const vm = fake.addVm({ name: 'contract-vm', hostUuid: a.uuid, memoryMiB: 128 });
  return {
    url: fake.url,
    accountName: 'admin',
    password: 'secret-pw',
    vmUuid: vm.uuid,
    poke: () => fake.setVmState(vm.uuid, 'Running'),
    stop: () => fake.stop(),
  };
}

let w: World;
let client: ZStackClient;
const TAG = `cuju::ft::contract::${Date.now()}`;

beforeAll(async () => {
  w = await world();
  client = new ZStackClient({
    url: w.url,
    accountName: w.accountName,
    password: w.password,
    timeoutMs: 30_000,
  });
});

afterAll(async () => {
  // Whatever a failed test left: our tags on the VM, our webhooks.
  const tags = await client.query<ZStackTag>('/v1/user-tags', {
    q: [`resourceUuid=${w.vmUuid}`, `tag=${TAG}`],
  });
  for (const t of tags) await client.request('DELETE', `/v1/tags/${t.uuid}`);
  await client.logout();
  await w.stop();
});

describe(`ZStack REST contract (${REAL ? `real node ${REAL}` : 'ZStackFake'})`, () => {
  it('LogInByAccount: the SHA-512 digest logs in; a wrong password is ID.1000', async () => {
    expect(await client.login()).toMatch(/^[0-9a-f]{32}$/);
    const bad = new ZStackClient({ url: w.url, accountName: w.accountName, password: `${w.password}-wrong` });
    const err = await bad.login().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZStackApiError);
    expect((err as ZStackApiError).zstackCode).toBe('ID.1000');
    expect((err as ZStackApiError).code).toBe('FTS_IAAS');
  });

  it('a call without a session is refused; an unknown session is ID.1001', async () => {
    const noAuth = await fetch(`${client.baseUrl}/v1/hosts`);
    expect(noAuth.status).toBe(400);
    await noAuth.arrayBuffer();
    const stale = await fetch(`${client.baseUrl}/v1/hosts`, {
      headers: { authorization: 'OAuth 00000000000000000000000000000000' },
    });
    const body = (await stale.json()) as { error?: { code: string } };
    expect(stale.status).toBe(503);
    expect(body.error?.code).toBe('ID.1001');
  });

  it('hosts: uuid, name, clusterUuid, managementIp, state and status', async () => {
    const hosts = await client.query<ZStackHost>('/v1/hosts', { replyWithCount: true });
    expect(hosts.length).toBeGreaterThan(0);
    for (const h of hosts) {
      expect(h).toMatchObject({
        uuid: expect.stringMatching(/^[0-9a-f]{32}$/),
        name: expect.any(String),
        clusterUuid: expect.stringMatching(/^[0-9a-f]{32}$/),
        managementIp: expect.any(String),
        state: expect.any(String),
        status: expect.any(String),
      });
    }
  });

  it('the VM by uuid: memorySize in bytes, state, hostUuid, clusterUuid', async () => {
    const [vm] = await client.query<ZStackVm>(`/v1/vm-instances/${w.vmUuid}`);
    expect(vm).toMatchObject({ uuid: w.vmUuid, memorySize: expect.any(Number), state: expect.any(String) });
    expect(vm!.memorySize % (1024 * 1024)).toBe(0);
    expect(vm!.clusterUuid).toMatch(/^[0-9a-f]{32}$/);
  });

  it('CreateUserTag (202, the job polled) is found by __userTag__ and by a LIKE on user-tags; DeleteTag removes it', async () => {
    const created = await client.request('POST', '/v1/user-tags', {
      params: { resourceType: 'VmInstanceVO', resourceUuid: w.vmUuid, tag: TAG },
    });
    const tag = created.inventory as ZStackTag;
    expect(tag).toMatchObject({
      resourceUuid: w.vmUuid,
      tag: TAG,
      uuid: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    const byTag = await client.query<ZStackVm>('/v1/vm-instances', { q: [`__userTag__=${TAG}`] });
    expect(byTag.map((v) => v.uuid)).toEqual([w.vmUuid]);
    const like = await client.query<ZStackTag>('/v1/user-tags', {
      q: ['resourceType=VmInstanceVO', `resourceUuid=${w.vmUuid}`, 'tag~=cuju::ft::contract::%'],
    });
    expect(like.map((t) => t.tag)).toContain(TAG);
    await client.request('DELETE', `/v1/tags/${tag.uuid}?deleteMode=Permissive`);
    expect(await client.query<ZStackVm>('/v1/vm-instances', { q: [`__userTag__=${TAG}`] })).toEqual([]);
  });

  it('a failed async call is 503 {error} from the job; the client names the call', async () => {
    const err = await client
      .request('POST', '/v1/user-tags', { params: { resourceType: 'VmInstanceVO', tag: TAG } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZStackApiError);
    expect((err as Error).message).toMatch(/^POST \/v1\/user-tags: ZStack [A-Z_]+\.\d+/);
  });

  it('webhooks: the adapter registers /vm/state/change, receives canonical events as hints, and removes its hooks', async () => {
    const adapter = new ZStackAdapter({ zstack: client });
    const abort = new AbortController();
    const it = adapter.hints(abort.signal)[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ kind: 'resync' });
    if (w.poke) {
      w.poke();
      expect((await it.next()).value).toEqual({ kind: 'vm-changed', iaasId: w.vmUuid });
    }
    const ours = await client.query<{ uuid: string; url: string; opaque: string }>('/v1/web-hooks', {
      q: ['name=cuju-ft'],
    });
    expect(ours.map((h) => h.opaque).sort()).toEqual(['/host/status/change', '/vm/state/change']);
    abort.abort();
    await it.return?.();
    const after = await client.query<{ uuid: string; url: string }>('/v1/web-hooks', { q: ['name=cuju-ft'] });
    expect(after.filter((h) => ours.some((o) => o.uuid === h.uuid))).toEqual([]);
    await adapter.close();
    // close() logged the shared client out: the next call logs in again by itself.
    expect((await client.query<ZStackHost>('/v1/hosts')).length).toBeGreaterThan(0);
  });
});
