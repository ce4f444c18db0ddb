/**
 * The libvirt transport against a real libvirtd (one per file, in a temp dir, its own unix
 * socket) running a tiny QEMU 7.2 TCG domain: QMP and HMP through
 * `virsh qemu-monitor-command`, events through `virsh qemu-monitor-event --loop`, the
 * event child restarted after it dies, typed errors, deadlines, abort, and no virsh left.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Libvirtd,
  libvirtAvailable,
  startLibvirtd,
  tinyDomainXml,
} from '../../../scripts/lib/libvirtd.js';
import {
  QmpAbortError,
  QmpArgumentError,
  QmpCommandError,
  QmpConnectError,
  QmpDisconnectedError,
  type QmpEvent,
  QmpHmp,
  QmpOobError,
  QmpTimeoutError,
  QmpVirshError,
  runVirsh,
  VirshHmp,
  VirshQmp,
} from '../src/index.js';
import { requirePeer } from './helpers/peers.js';
import { rejection, within } from './helpers/within.js';

const hasLibvirt = requirePeer(
  'libvirtd + virsh',
  libvirtAvailable(),
  'run scripts/install-peers.sh (apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)',
);

/** virsh processes talking to this test's libvirtd (its socket path is on their command line), `also` matching too. */
function virshPids(lv: Libvirtd, also = ''): number[] {
  try {
    return execFileSync('pgrep', ['-f', `virsh .*${lv.dir}.*${also}`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The event child registers with libvirtd a moment after it starts, and nothing says when:
 * pause and resume the domain until a STOP shows on the stream. Every later event is seen.
 */
async function untilEventsFlow(qmp: VirshQmp, seen: QmpEvent[]): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    await qmp.execute('stop');
    await qmp.execute('cont');
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      if (seen.some((e) => e.event === 'STOP')) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('no STOP event reached the stream');
}

describe.runIf(hasLibvirt)('libvirt transport (virsh) against a real libvirtd', () => {
  let lv: Libvirtd;
  let qmp: VirshQmp;
  const domain = 'cuju-virsh-t1';

  beforeAll(async () => {
    lv = await startLibvirtd();
    writeFileSync(`${lv.dir}/dom.xml`, tinyDomainXml(domain));
    await lv.virsh('create', `${lv.dir}/dom.xml`);
    qmp = new VirshQmp({ uri: lv.uri, domain });
  });

  afterAll(async () => {
    await qmp?.close();
    await lv?.stop();
  });

  it('runs QMP commands through virsh qemu-monitor-command', async () => {
    const status = await qmp.execute('query-status');
    expect(status).toMatchObject({ status: 'running', running: true });
    const version = await qmp.execute('query-version');
    expect(version.qemu.major).toBe(7);
    expect(qmp.endpoint).toBe(`libvirt:${lv.uri}#${domain}`);
  });

  it('runs HMP lines through --hmp, with the text QMP human-monitor-command gives', async () => {
    const hmp = new VirshHmp({ uri: lv.uri, domain });
    const viaVirsh = await hmp.run('info status');
    const viaQmp = await new QmpHmp(qmp).run('info status');
    expect(viaVirsh).toBe('VM status: running\r\n');
    expect(viaVirsh).toBe(viaQmp);
    // A line that would change the command is refused before virsh runs.
    expect(await rejection(hmp.run('info status\nquit'))).toBeInstanceOf(QmpArgumentError);
    await hmp.close();
  });

  it('turns QEMU refusals and libvirt failures into typed errors', async () => {
    const refused = await rejection(qmp.execute('no-such-command', {}));
    expect(refused).toBeInstanceOf(QmpCommandError);
    expect((refused as QmpCommandError).errorClass).toBe('CommandNotFound');

    const ghost = new VirshQmp({ uri: lv.uri, domain: 'no-such-domain' });
    const missing = await rejection(ghost.execute('query-status'));
    expect(missing).toBeInstanceOf(QmpVirshError);
    expect((missing as QmpVirshError).failure).toBe('no-domain');
    await ghost.close();

    const nowhere = new VirshQmp({ uri: `qemu+unix:///session?socket=${lv.dir}/nothing.sock`, domain });
    expect(await rejection(nowhere.execute('query-status'))).toBeInstanceOf(QmpConnectError);
    await nowhere.close();

    expect(await rejection(qmp.execute('query-status', undefined, { oob: true }))).toBeInstanceOf(
      QmpOobError,
    );
    expect(() => new VirshQmp({ uri: lv.uri, domain: '' })).toThrow(/options.domain/);
    const noVirsh = await rejection(
      runVirsh({ uri: lv.uri, virsh: '/nonexistent/virsh' }, ['uri'], { timeoutMs: 5000 }),
    );
    expect((noVirsh as QmpVirshError).failure).toBe('spawn');
  });

  it('sees QMP events through qemu-monitor-event --loop, and an until wait resolves on its event', async () => {
    const seen: QmpEvent[] = [];
    const stream = qmp.events({ names: ['STOP', 'RESUME'] });
    const reading = (async () => {
      for await (const e of stream) seen.push(e);
    })();
    await untilEventsFlow(qmp, seen);
    await qmp.execute('stop', undefined, { until: { event: 'STOP' } });
    const before = seen.length;
    await qmp.execute('cont', undefined, { until: { event: 'RESUME' } });
    expect(seen.slice(before).map((e) => e.event)).toContain('RESUME');
    const resume = seen.find((e) => e.event === 'RESUME')!;
    expect(resume.timestamp.seconds).toBeGreaterThan(0);
    stream.close();
    await reading;
  });

  it('restarts the event child with backoff when it dies, and events flow again', async () => {
    const exits: number[] = [];
    const watched = new VirshQmp({
      uri: lv.uri,
      domain,
      eventBackoff: { minMs: 50, maxMs: 500 },
      onEventLoopExit: (e) => exits.push(e.restartInMs),
    });
    const seen: QmpEvent[] = [];
    const stream = watched.events({ names: ['STOP'] });
    const ending = rejection(
      (async () => {
        for await (const e of stream) seen.push(e);
      })(),
    );
    await untilEventsFlow(watched, seen);
    const first = watched.eventLoopPid!;
    process.kill(first, 'SIGKILL');
    await within(
      (async () => {
        while (watched.eventLoopStarts < 2 || watched.eventLoopPid === undefined) {
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
      20_000,
      'the event child restart',
    );
    expect(exits).toEqual([50]);
    expect(watched.eventLoopPid).not.toBe(first);
    seen.length = 0;
    await untilEventsFlow(watched, seen);
    await watched.close();
    // A closed monitor ends its streams with the close, as QmpClient does.
    expect(await ending).toBeInstanceOf(QmpDisconnectedError);
    // Left: the shared monitor's two event children (QMP events, lifecycle).
    expect(virshPids(lv, 'qemu-monitor-event')).toEqual([qmp.eventLoopPid]);
    expect(virshPids(lv)).toHaveLength(2);
  });

  it("ends its event streams when the domain stops, as a closed socket ends QmpClient's", async () => {
    writeFileSync(`${lv.dir}/dom2.xml`, tinyDomainXml('cuju-virsh-t2'));
    await lv.virsh('create', `${lv.dir}/dom2.xml`);
    const short = new VirshQmp({ uri: lv.uri, domain: 'cuju-virsh-t2' });
    const seen: QmpEvent[] = [];
    const stream = short.events();
    // Its end is awaited from the start: the rejection comes while the test waits on virsh.
    const ending = rejection(
      (async () => {
        for await (const e of stream) seen.push(e);
      })(),
    );
    await untilEventsFlow(short, seen);
    // The lifecycle watcher has heard the pause too: it is registered.
    await within(
      (async () => {
        while (short.lifecycleEventCount === 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      20_000,
      'the lifecycle watcher',
    );
    await lv.virsh('destroy', 'cuju-virsh-t2');
    const ended = await within(ending, 20_000, 'the stream');
    expect(ended).toBeInstanceOf(QmpDisconnectedError);
    expect((ended as Error).message).toMatch(/the domain stopped \(Destroyed\)/);
    // Before it ended, the stream had QEMU's own last word.
    expect(seen.map((e) => e.event)).toContain('SHUTDOWN');
    // New streams end at once; commands still run (and say the domain is gone).
    expect(await rejection(short.events().next())).toBeInstanceOf(QmpDisconnectedError);
    expect(((await rejection(short.execute('query-status'))) as QmpVirshError).failure).toBe('no-domain');
    await short.close();
    expect(virshPids(lv, 'cuju-virsh-t2')).toEqual([]);
  });

  it('gives up at the deadline or on abort, ends in-flight calls on close, and leaves no virsh behind', async () => {
    const late = await rejection(qmp.execute('query-status', undefined, { timeoutMs: 1 }));
    expect(late).toBeInstanceOf(QmpTimeoutError);
    const aborted = await rejection(
      qmp.execute('query-status', undefined, { signal: AbortSignal.abort('no') }),
    );
    expect(aborted).toBeInstanceOf(QmpAbortError);

    const closing = new VirshQmp({ uri: lv.uri, domain });
    const inFlight = closing.execute('query-status');
    await closing.close();
    const err = await rejection(inFlight);
    // close() aborts at once, before virsh can have answered: the call ends as disconnected.
    expect(err).toBeInstanceOf(QmpDisconnectedError);
    expect(await rejection(closing.execute('query-status'))).toBeInstanceOf(QmpDisconnectedError);
    // Only the shared monitor's own event children are left, and close() ends them too.
    expect(virshPids(lv, 'qemu-monitor-event')).toEqual([qmp.eventLoopPid]);
    expect(virshPids(lv)).toHaveLength(2);
    await qmp.close();
    expect(virshPids(lv)).toEqual([]);
  });
});
