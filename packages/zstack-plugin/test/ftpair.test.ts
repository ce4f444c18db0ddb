/**
 * End to end on the simulated cluster: the service drives the REAL FtPair of @cuju/sdk on
 * cuju-sim (LocalHost, hosts 127.0.0.2 and 127.0.0.3), through its HTTP API, every
 * response validated against the OpenAPI document: create with FT, Test Failover, Restart
 * Secondary, Turn Off and Turn On, a VM without FT turned on later, and a restart of the
 * service that attaches to the running VMs instead of launching them again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FtService, FtStatus, VmView } from '../src/index.js';
import { ApiClient } from './helpers/api-client.js';
import { simProcessesIn, startSimService } from './helpers/sim.js';
import { eventually, tempDir } from './helpers/tmp.js';

const t = tempDir('fts-e2e-');
let service: FtService;
let api: ApiClient;

beforeAll(async () => {
  // The first service lets its VMs run on when it stops: the restart test attaches to them.
  service = await startSimService(t.dir, false, { keepVms: true });
  api = new ApiClient(service.url);
});

afterAll(async () => {
  await service?.stop();
  const left = simProcessesIn(t.dir);
  // Whatever a failed test left running is killed before the assertion reports it.
  for (const pid of left) process.kill(pid, 'SIGKILL');
  t.cleanup();
  expect(left).toEqual([]);
});

const status = async (id: string) => (await api.call<VmView>('GET', `/api/v1/vms/${id}`)).body.status;
const until = (id: string, what: string, ok: (s: FtStatus) => boolean) =>
  eventually(`${id}: ${what}`, async () => {
    const s = await status(id);
    return ok(s) ? s : undefined;
  });

describe('FT service on cuju-sim (real FtPair)', () => {
  it('ticks FT at create: both VMs start and the pair is Protected, the secondary on the other host', async () => {
    const r = await api.call('POST', '/api/v1/vms', {
      body: { name: 'pair1', host: 'sim-a', memoryMiB: 128, ft: { enabled: true, reprotect: 'manual' } },
    });
    expect(r.status).toBe(201);
    const s = await until('pair1', 'protected', (x) => x.state === 'protected');
    expect(s).toMatchObject({ primaryHost: 'sim-a', secondaryHost: 'sim-b' });
    expect(simProcessesIn(t.dir)).toHaveLength(2);
  });

  it('Test Failover: the secondary takes over, Failed over with the measured detection time', async () => {
    const r = await api.call('POST', '/api/v1/vms/pair1/actions/test-failover');
    expect(r.status).toBe(202);
    const s = await until(
      'pair1',
      'failed over with figures',
      (x) => x.state === 'failed-over' && x.figures.failovers === 1,
    );
    expect(s.primaryHost).toBe('sim-b');
    expect(s.secondaryHost).toBeUndefined();
    expect(s.figures.lastDetectionMs).toBeGreaterThanOrEqual(0);
    expect(simProcessesIn(t.dir)).toHaveLength(1);
    const history = (
      await api.call<Array<{ kind: string; message: string }>>('GET', '/api/v1/vms/pair1/events')
    ).body;
    expect(history.map((e) => e.message)).toEqual(
      expect.arrayContaining([
        'Test Failover asked',
        'test-failover done',
        expect.stringMatching(/^failed over to sim-b/),
      ]),
    );
  });

  it('Restart Secondary: a new secondary from the survivor on the other host, Protected again', async () => {
    const r = await api.call('POST', '/api/v1/vms/pair1/actions/restart-secondary');
    expect(r.status).toBe(202);
    const s = await until('pair1', 'protected again', (x) => x.state === 'protected');
    expect(s).toMatchObject({ primaryHost: 'sim-b', secondaryHost: 'sim-a' });
    expect(simProcessesIn(t.dir)).toHaveLength(2);
  });

  it('Turn Off keeps the primary running alone; Turn On protects it again', async () => {
    await api.call('POST', '/api/v1/vms/pair1/actions/turn-off');
    const off = await until('pair1', 'disabled', (x) => x.state === 'disabled');
    expect(off.primaryHost).toBe('sim-b');
    expect(off.secondaryHost).toBeUndefined();
    await eventually('the secondary gone', async () => simProcessesIn(t.dir).length === 1);
    await api.call('POST', '/api/v1/vms/pair1/actions/turn-on');
    const on = await until('pair1', 'protected', (x) => x.state === 'protected');
    expect(on).toMatchObject({ primaryHost: 'sim-b', secondaryHost: 'sim-a' });
    expect(simProcessesIn(t.dir)).toHaveLength(2);
  });

  it('a VM without FT runs alone; Turn On for it starts its secondary and it is Protected', async () => {
    await api.call('POST', '/api/v1/vms', { body: { name: 'plain', host: 'sim-b', memoryMiB: 64 } });
    await until('plain', 'disabled', (x) => x.state === 'disabled');
    expect(simProcessesIn(t.dir)).toHaveLength(3);
    await api.call('POST', '/api/v1/vms/plain/actions/turn-on');
    const s = await until('plain', 'protected', (x) => x.state === 'protected');
    expect(s).toMatchObject({ primaryHost: 'sim-b', secondaryHost: 'sim-a' });
    expect(simProcessesIn(t.dir)).toHaveLength(4);
  });

  it('a restarted service attaches to the running pairs without launching anything: still Protected, the same pids', async () => {
    const pids = simProcessesIn(t.dir).sort();
    await service.stop();
    expect(simProcessesIn(t.dir).sort()).toEqual(pids);
    service = await startSimService(t.dir, false);
    api = new ApiClient(service.url);
    for (const id of ['pair1', 'plain']) {
      const s = await until(id, 'protected after the restart', (x) => x.state === 'protected');
      expect(s.secondaryHost).toBe('sim-a');
    }
    expect(simProcessesIn(t.dir).sort()).toEqual(pids);
  });

  it('delete stops the VMs on their hosts', async () => {
    await api.call('DELETE', '/api/v1/vms/plain');
    await api.call('DELETE', '/api/v1/vms/pair1');
    await eventually(
      'both gone',
      async () => (await api.call<VmView[]>('GET', '/api/v1/vms')).body.length === 0,
    );
    expect(simProcessesIn(t.dir)).toEqual([]);
  });
});
