import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CujuJoinPortError,
  CujuMonitor,
  CujuMonitorDuringFtError,
  cujuFtRegistry,
  LocalHost,
  monitorEndpointKey,
} from '../src/index.js';
import { RecordingHmp } from './helpers/recording-hmp.js';
import { tempDir } from './helpers/sim.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A listener that only counts who connects: a guard that works leaves it at 0. */
async function counting(listen: (s: Server, ready: () => void) => void): Promise<{ count: () => number }> {
  let n = 0;
  const server = createServer((socket) => {
    n++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listen(server, resolve));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { count: () => n };
}

describe('no connection to a group join port', () => {
  it('refuses before connecting, for HMP and QMP targets', async () => {
    let port = 0;
    const joinPort = await counting((s, ready) =>
      s.listen(0, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        ready();
      }),
    );
    cujuFtRegistry.addJoinPort('127.0.0.1', port);
    cleanups.push(() => cujuFtRegistry.removeJoinPort('127.0.0.1', port));
    for (const target of [{ hmp: { host: '127.0.0.1', port } }, { qmp: { host: '127.0.0.1', port } }]) {
      const err = await CujuMonitor.connect(target).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CujuJoinPortError);
      expect(err).toMatchObject({ code: 'CUJU_JOIN_PORT_REFUSED', host: '127.0.0.1', port });
    }
    expect(joinPort.count()).toBe(0);
  });
});

describe('no new monitor connection while FT runs (Cuju issue #13)', () => {
  it('a monitor records its VM as in FT from `migrate -c` on; connect then refuses, unless allowDuringFt', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const path = join(t.dir, 'vm1.monitor');
    const socket = await counting((s, ready) => s.listen(path, ready));
    const key = monitorEndpointKey({ hmp: { path } });
    expect(key).toBe(`unix:${path}`);
    const first = new CujuMonitor(new RecordingHmp(), { build: 'master', endpointKey: key });
    cleanups.push(() => cujuFtRegistry.clearFt(key));
    await first.startFt({ host: '192.168.111.2', port: 4441 });
    expect(first.ftKnowledge).toBe('primary-starting');
    expect(cujuFtRegistry.isFt(key)).toBe(true);
    const refused = await CujuMonitor.connect({ hmp: { path } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CujuMonitorDuringFtError);
    expect(refused).toMatchObject({ code: 'CUJU_MONITOR_DURING_FT', endpoint: key });
    // The same socket reached through a LocalHost is the same VM.
    const viaHost = await CujuMonitor.connect({ host: new LocalHost(), path }).catch((e: unknown) => e);
    expect(viaHost).toBeInstanceOf(CujuMonitorDuringFtError);
    expect(socket.count()).toBe(0);
    // Opting in connects (this listener is no monitor, so it then fails its own way).
    const optedIn = await CujuMonitor.connect(
      { hmp: { path, bannerTimeoutMs: 200 } },
      { allowDuringFt: true },
    ).catch((e: unknown) => e);
    expect(optedIn).not.toBeInstanceOf(CujuMonitorDuringFtError);
    expect(socket.count()).toBe(1);
  });

  it('the record ends with FT: after a takeover, a cancel, or a broken link', async () => {
    const receiver = new CujuMonitor(new RecordingHmp(), { build: 'groupft', endpointKey: 'test:receiver' });
    receiver.observe('enter cuju FT mode (incoming)');
    expect(cujuFtRegistry.isFt('test:receiver')).toBe(true);
    receiver.observe('first commit');
    expect(receiver.ftKnowledge).toBe('receiver-ft');
    receiver.observe('cuju_ft_trans_close vm_started.');
    expect(receiver.ftKnowledge).toBe('taken-over');
    expect(cujuFtRegistry.isFt('test:receiver')).toBe(false);

    const primary = new CujuMonitor(
      new RecordingHmp((line) => (line === 'cuju-get-ft-started' ? 'ft_started: 1\r\n' : '')),
      { build: 'master', endpointKey: 'test:primary' },
    );
    await primary.startFt({ host: '192.168.111.2', port: 4441 });
    expect(await primary.ftStarted()).toBe(true);
    await primary.cancelFt();
    expect(cujuFtRegistry.isFt('test:primary')).toBe(false);

    const lost = new CujuMonitor(new RecordingHmp(), { build: 'master', endpointKey: 'test:lost' });
    await lost.startFt({ host: '192.168.111.2', port: 4441 });
    lost.observe('migrate_ft_trans_get_ready sender receive ACK1 failed.');
    expect(cujuFtRegistry.isFt('test:lost')).toBe(false);
  });
});
