import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { generatedPath, readLiveSchema } from '../scripts/gen-qmp-types.js';
import {
  QEMU_BINARY,
  type QemuProcess,
  type QemuProcessOptions,
  startQemu,
} from '../scripts/qemu-process.js';
import {
  generateQmpTypes,
  QmpBusyError,
  QmpClient,
  QmpCommandError,
  QmpDisconnectedError,
  QmpTimeoutError,
  type QmpTraceEntry,
} from '../src/index.js';
import { freePort, waitForListener } from './helpers/net.js';
import { hasQemu } from './helpers/peers.js';
import { rejection, within } from './helpers/within.js';

const running: QemuProcess[] = [];
const clients: QmpClient[] = [];

async function qemu(options: QemuProcessOptions = {}): Promise<QemuProcess> {
  const q = await startQemu(options);
  running.push(q);
  return q;
}

async function connect(
  q: QemuProcess,
  extra: Partial<Parameters<typeof QmpClient.connect>[0]> = {},
): Promise<QmpClient> {
  const c = await QmpClient.connect({ path: q.qmpPath, ...extra });
  clients.push(c);
  return c;
}

/** The largest number of in-band commands written and not yet answered at any moment. */
function maxInFlight(trace: QmpTraceEntry[], command: string): number {
  let now = 0;
  let max = 0;
  for (const t of trace) {
    if (t.command !== command) continue;
    if (t.direction === 'out') max = Math.max(max, ++now);
    else now--;
  }
  return max;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(running.splice(0).map((q) => q.stop()));
});

describe.runIf(hasQemu)('QmpClient against a real qemu-system-x86_64', () => {
  it('reads the greeting and negotiates oob', async () => {
    const c = await connect(await qemu());
    expect(c.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(c.greeting.capabilities).toContain('oob');
    expect(c.oob).toBe(true);
    const status = await c.execute('query-status');
    expect(status).toMatchObject({ status: 'prelaunch', running: false });
  });

  it('connects over TCP on loopback', async () => {
    const port = await freePort();
    await qemu({ qmp: false, extraArgs: ['-qmp', `tcp:127.0.0.1:${port},server=on,wait=off`] });
    await waitForListener(port);
    const c = await QmpClient.connect({ host: '127.0.0.1', port });
    clients.push(c);
    expect(c.endpoint).toBe(`tcp:127.0.0.1:${port}`);
    expect(await c.execute('query-target')).toEqual({ arch: 'x86_64' });
  });

  it('answers 20+ read-only queries with well-formed, typed results', async () => {
    const c = await connect(await qemu());
    const version = await c.execute('query-version');
    expect(version.qemu).toEqual(c.greeting.version.qemu);
    const kvm = await c.execute('query-kvm');
    expect(typeof kvm.present).toBe('boolean');
    const target = await c.execute('query-target');
    expect(target.arch).toBe('x86_64');
    const machines = await c.execute('query-machines');
    expect(machines.some((m) => m.name === 'none')).toBe(true);
    const commands = await c.execute('query-commands');
    expect(commands.map((x) => x.name)).toContain('query-status');
    const caps = await c.execute('query-migrate-capabilities');
    expect(caps.map((x) => x.capability)).toContain('events');
    const chardevs = await c.execute('query-chardev');
    expect(chardevs.some((x) => x.filename.includes('qmp.sock'))).toBe(true);
    // What each answers on `-M none -nodefaults -S`: no block devices, no CPUs, no jobs.
    expect(await c.execute('query-name')).toEqual({});
    expect((await c.execute('query-uuid')).UUID).toMatch(/^[0-9a-f-]{36}$/);
    for (const empty of [
      'query-block',
      'query-blockstats',
      'query-block-jobs',
      'query-named-block-nodes',
      'query-iothreads',
      'query-memdev',
      'query-mice',
      'query-cpus-fast',
      'query-fdsets',
    ] as const) {
      expect(await c.execute(empty), empty).toEqual([]);
    }
    expect((await c.execute('query-chardev-backends')).map((b) => b.name)).toContain('socket');
    expect(await c.execute('query-migrate')).toEqual({});
    expect((await c.execute('query-migrate-parameters'))['max-bandwidth']).toBeTypeOf('number');
    expect((await c.execute('query-current-machine'))['wakeup-suspend-support']).toBe(false);
    expect((await c.execute('query-vnc')).enabled).toBe(false);
    expect((await c.execute('query-display-options')).type).toBe('none');
    const options = await c.execute('query-command-line-options');
    expect(options.map((o) => o.option)).toContain('machine');
    expect((await c.execute('query-dump-guest-memory-capability')).formats).toContain('elf');
    expect((await c.execute('query-yank')).map((y) => y.type)).toContain('chardev');
  });

  it('stops and continues, resolving only after the reply and the STOP/RESUME event', async () => {
    const c = await connect(await qemu({ machine: 'pc' }));
    const seen: string[] = [];
    c.on('event', (e) => seen.push(e.event));
    await c.execute('cont', undefined, { until: { event: 'RESUME' }, timeoutMs: 10_000 });
    expect(seen).toContain('RESUME');
    expect((await c.execute('query-status')).running).toBe(true);
    await c.execute('stop', undefined, { until: { event: 'STOP' }, timeoutMs: 10_000 });
    expect(seen).toContain('STOP');
    expect(await c.execute('query-status')).toMatchObject({ running: false, status: 'paused' });
    const resumed = c.waitForEvent('RESUME', { timeoutMs: 10_000 });
    await c.execute('cont');
    expect((await resumed).event).toBe('RESUME');
  });

  it('runs 500 concurrent commands, each resolving to its own reply, 7 in flight at most', async () => {
    const trace: QmpTraceEntry[] = [];
    const c = await connect(await qemu(), { trace: (t) => trace.push(t) });
    // Three commands whose replies look different, interleaved, so a mix-up shows.
    const kinds = ['query-name', 'query-target', 'query-version'] as const;
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => {
        const kind = kinds[i % 3]!;
        return c.execute(kind).then((r) => ({ kind, r }));
      }),
    );
    for (const { kind, r } of results) {
      if (kind === 'query-target') expect(r).toEqual({ arch: 'x86_64' });
      else if (kind === 'query-version') expect(r).toHaveProperty('qemu.major');
      else expect(r).toEqual({});
    }
    let inFlight = 0;
    let peak = 0;
    for (const t of trace) {
      if (t.kind === 'command') peak = Math.max(peak, ++inFlight);
      else if (t.kind === 'reply') inFlight--;
    }
    expect(peak).toBe(7);
  });

  it('keeps one command in flight when oob is not negotiated', async () => {
    const trace: QmpTraceEntry[] = [];
    const c = await connect(await qemu(), { negotiateOob: false, trace: (t) => trace.push(t) });
    expect(c.oob).toBe(false);
    await Promise.all(Array.from({ length: 50 }, () => c.execute('query-status')));
    expect(maxInFlight(trace, 'query-status')).toBe(1);
  });

  it('rejects every pending call and ends event iterators within 1 s when QEMU is SIGKILLed mid-command', async () => {
    const q = await qemu();
    const c = await connect(q);
    // Freeze QEMU so the commands are certainly in the middle of being served.
    q.child.kill('SIGSTOP');
    const calls = Array.from({ length: 5 }, () =>
      c.execute('query-status', undefined, { timeoutMs: 30_000 }),
    );
    const iterating = (async () => {
      for await (const _ of c.events()) {
        /* none expected */
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    q.child.kill('SIGKILL');
    for (const call of calls) {
      const err = await within(rejection(call), 1000, 'a pending call');
      expect(err).toBeInstanceOf(QmpDisconnectedError);
      // The cause is the socket's end: QEMU's EOF or a reset, never a made-up reason.
      expect((err as Error).cause).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/the monitor connection ended/);
    }
    expect(await within(rejection(iterating), 1000, 'the event iterator')).toBeInstanceOf(
      QmpDisconnectedError,
    );
    expect(await q.exited).toBe('SIGKILL');
  });

  it('says the monitor is busy when a second client connects', async () => {
    const q = await qemu();
    await connect(q);
    const err = await rejection(QmpClient.connect({ path: q.qmpPath, greetingTimeoutMs: 300 }));
    expect(err).toBeInstanceOf(QmpBusyError);
    expect((err as Error).message).toContain(q.qmpPath);
  });

  it('times out on a frozen QEMU, then drops the late reply and carries on', async () => {
    const q = await qemu();
    const trace: QmpTraceEntry[] = [];
    const c = await connect(q, { trace: (t) => trace.push(t) });
    q.child.kill('SIGSTOP');
    const err = await rejection(c.execute('query-status', undefined, { timeoutMs: 200 }));
    expect(err).toBeInstanceOf(QmpTimeoutError);
    const ac = new AbortController();
    const aborted = c.execute('query-name', undefined, { signal: ac.signal });
    ac.abort();
    expect(await rejection(aborted)).toMatchObject({ name: 'AbortError', code: 'QMP_ABORTED' });
    q.child.kill('SIGCONT');
    expect(await c.execute('query-target')).toEqual({ arch: 'x86_64' });
    expect(trace.filter((t) => t.kind === 'dropped' && /late reply/.test(t.note ?? '')).length).toBe(2);
  });

  it('reports QEMU errors with their class and keeps the connection', async () => {
    const c = await connect(await qemu());
    const notFound = await rejection(c.execute('no-such-command'));
    expect(notFound).toBeInstanceOf(QmpCommandError);
    expect(notFound).toMatchObject({ errorClass: 'CommandNotFound', command: 'no-such-command' });
    expect(await rejection(c.execute('query-balloon'))).toMatchObject({ errorClass: 'DeviceNotActive' });
    const secret = await rejection(
      c.execute('object-add', {
        'qom-type': 'secret',
        id: 'sec0',
        data: 'hunter2',
        format: 'not-a-format',
      } as never),
    );
    expect(secret).toMatchObject({ errorClass: 'GenericError', arguments: { data: '<redacted>' } });
    expect(JSON.stringify(secret)).not.toContain('hunter2');
    expect(await c.execute('query-target')).toEqual({ arch: 'x86_64' });
  });

  it('parses the large query-qmp-schema reply', async () => {
    const trace: QmpTraceEntry[] = [];
    const c = await connect(await qemu(), { trace: (t) => trace.push(t) });
    const schema = await c.schema();
    expect(schema.entries.length).toBeGreaterThan(1000);
    expect(schema.hasCommand('query-status')).toBe(true);
    expect(schema.allowsOob('migrate-pause')).toBe(true);
    expect(schema.allowsOob('query-status')).toBe(false);
    const reply = trace.find((t) => t.kind === 'reply' && t.command === 'query-qmp-schema');
    expect(reply?.bytes).toBeGreaterThan(100_000);
  });

  it('sends exec-oob only for commands the schema allows', async () => {
    const trace: QmpTraceEntry[] = [];
    const c = await connect(await qemu(), { trace: (t) => trace.push(t) });
    expect(await c.execute('query-yank', undefined, { oob: true })).toBeInstanceOf(Array);
    const out = trace.find((t) => t.direction === 'out' && t.command === 'query-yank');
    expect(out?.message).toHaveProperty('exec-oob', 'query-yank');
    expect(await rejection(c.execute('query-status', undefined, { oob: true }))).toMatchObject({
      code: 'QMP_OOB_NOT_ALLOWED',
    });
    expect(trace.some((t) => t.direction === 'out' && t.command === 'query-status')).toBe(false);
  });

  it('runs HMP commands over QMP', async () => {
    const c = await connect(await qemu());
    expect(await c.hmp('info status')).toBe('VM status: paused (prelaunch)\r\n');
    const qtree = await c.hmp('info qtree');
    expect(qtree).toContain('bus: main-system-bus');
  });

  it('treats quit as success when QEMU exits before or after its reply', async () => {
    const q = await qemu();
    const c = await connect(q);
    const disconnected = new Promise<Error>((r) => c.once('disconnect', r));
    await expect(c.execute('quit')).resolves.toEqual({});
    expect(await disconnected).toBeInstanceOf(QmpDisconnectedError);
    expect(await q.exited).toBe('0');
  });

  it('has checked-in types that match the live schema of this binary', async () => {
    const live = await readLiveSchema(QEMU_BINARY);
    const checkedIn = readFileSync(generatedPath(live.version), 'utf8');
    expect(generateQmpTypes(live.entries, { source: live.source })).toBe(checkedIn);
  });
});
