/**
 * The libvirt-only adapter against a real libvirtd (one for this file, in a temp dir, its
 * own unix socket) with QEMU 7.2 TCG domains: it reads the FT checkbox from a domain's
 * metadata, hears a tick through `virsh event --loop`, writes the status back; and end to
 * end, a domain ticked in its metadata reaches Protected in the FT service, whose pair
 * runs on cuju-sim (Cuju cannot run under this libvirt: iaas-integration.md §0), and the
 * status is written back into the domain's metadata.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HmpClient } from '@cuju/qmp';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Libvirtd,
  libvirtAvailable,
  startLibvirtd,
  tinyDomainXml,
} from '../../../scripts/lib/libvirtd.js';
import {
  backupDomain,
  FT_INTENT_NS,
  FT_STATUS_NS,
  FtService,
  type IaasHint,
  LibvirtAdapter,
  parseStatusElement,
  primaryDomain,
  type VmView,
} from '../src/index.js';
import { ApiClient } from './helpers/api-client.js';
import { SIM_HOSTS, simDriver, simProcessesIn } from './helpers/sim.js';
import { eventually, tempDir } from './helpers/tmp.js';

const hasLibvirt = libvirtAvailable();
if (!hasLibvirt && process.env.CUJU_REQUIRE_PEERS === '1') {
  throw new Error(
    'required peer libvirtd is missing: run scripts/install-peers.sh (libvirt-daemon, libvirt-clients)',
  );
}

const t = tempDir('fts-libvirt-');
let lv: Libvirtd;
let adapter: LibvirtAdapter;
let tickedUuid: string;
let plainUuid: string;

/** Defines and starts a domain from its XML (persistent, so its metadata survives). */
async function startDomain(name: string, xml: string): Promise<string> {
  const file = join(t.dir, `${name}.xml`);
  writeFileSync(file, xml);
  await lv.virsh('define', file);
  await lv.virsh('start', name);
  return (await lv.virsh('domuuid', name)).trim();
}

/** The adapter's `virsh event --all --loop` children for this file's libvirtd. */
function eventChildren(): number[] {
  try {
    return execFileSync('pgrep', ['-f', `virsh .*${lv.dir}.* event --all --loop`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

const setIntent = (domain: string, xml: string) =>
  lv.virsh('metadata', domain, '--uri', FT_INTENT_NS, '--key', 'cuju', '--set', xml, '--live', '--config');

describe.runIf(hasLibvirt)('libvirt adapter against a real libvirtd', () => {
  beforeAll(async () => {
    lv = await startLibvirtd();
    // A "Cuju" primary as the domain XML generator writes it, run by stock QEMU 7.2 (TCG,
    // no KVM, QEMU's own CPU and VGA): Cuju's readline monitor rides in <qemu:commandline>.
    const primary = primaryDomain({
      name: 'lv-ticked',
      type: 'qemu',
      memoryMiB: 64,
      emulator: '/usr/bin/qemu-system-x86_64',
      build: 'master',
      spec: { monitorPath: join(lv.dir, 'home', 'ticked.monitor'), kvm: false, cpu: null, vga: null },
      intent: { enabled: true, reprotect: 'manual' },
    });
    tickedUuid = await startDomain('lv-ticked', primary.xml);
    plainUuid = await startDomain('lv-plain', tinyDomainXml('lv-plain'));
    adapter = new LibvirtAdapter({
      connections: [{ host: 'sim-a', uri: lv.uri }],
      backupHosts: ['sim-b'],
      eventBackoff: { minMs: 50, maxMs: 1000 },
    });
  });

  afterAll(async () => {
    await adapter?.close();
    await lv?.stop();
    t.cleanup();
  });

  it("reads a ticked domain's metadata; a domain without it is not managed", async () => {
    expect(tickedUuid).toBe(primaryDomainUuid(await lv.virsh('dumpxml', 'lv-ticked')));
    const vms = await adapter.listVms();
    expect(vms).toEqual([
      {
        id: `libvirt-${tickedUuid}`,
        iaasId: tickedUuid,
        name: 'lv-ticked',
        host: 'sim-a',
        memoryMiB: 64,
        state: 'running',
        ft: { enabled: true, reprotect: 'manual' },
      },
    ]);
    expect(await adapter.getVm(tickedUuid)).toEqual(vms[0]);
    expect(await adapter.getVm(plainUuid)).toBeUndefined();
    expect(await adapter.getVm('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(await adapter.candidateBackupHosts(vms[0]!)).toEqual(['sim-b']);
    // libvirt really passed Cuju's arguments: the readline monitor from primaryArgv answers.
    const hmp = await HmpClient.connect({ path: join(lv.dir, 'home', 'ticked.monitor') });
    expect(await hmp.run('info status')).toMatch(/VM status: running/);
    await hmp.close();
  });

  it('libvirt accepts the backup domain; backups are never listed, even with a checkbox', async () => {
    const b = backupDomain({
      backupOf: tickedUuid,
      incoming: { port: 4441, host: '127.0.0.1' },
      type: 'qemu',
      memoryMiB: 64,
      emulator: '/usr/bin/qemu-system-x86_64',
      build: 'master',
      spec: { monitorPath: join(lv.dir, 'home', 'bk.monitor'), kvm: false, cpu: null, vga: null },
    });
    const file = join(t.dir, 'backup.xml');
    writeFileSync(file, b.xml);
    await lv.virsh('define', file);
    expect((await lv.virsh('domuuid', b.name)).trim()).toBe(b.uuid);
    await lv.virsh(
      'metadata',
      b.name,
      '--uri',
      FT_INTENT_NS,
      '--key',
      'cuju',
      '--set',
      '<ft enabled="true"/>',
      '--config',
    );
    expect((await adapter.listVms()).map((v) => v.name)).toEqual(['lv-ticked']);
    await lv.virsh('undefine', b.name);
  });

  it('hears a tick through virsh event --loop and lists the domain; an untick keeps it managed, unticked', async () => {
    const abort = new AbortController();
    const hints: IaasHint[] = [];
    const reading = (async () => {
      for await (const h of adapter.hints(abort.signal)) hints.push(h);
    })();
    // The event child registers with libvirtd a moment after it starts, and nothing says
    // when: tick (and tick again) until the change is heard.
    await eventually(
      'a vm-changed hint for lv-plain',
      async () => {
        await setIntent('lv-plain', '<ft enabled="true" epoch-us="20000"/>');
        await new Promise((r) => setTimeout(r, 200));
        return hints.some((h) => h.kind === 'vm-changed' && h.iaasId === plainUuid);
      },
      30_000,
    );
    const plain = await adapter.getVm(plainUuid);
    expect(plain?.ft).toEqual({ enabled: true, epochUs: 20000 });
    await setIntent('lv-plain', '<ft enabled="false"/>');
    expect((await adapter.getVm(plainUuid))?.ft).toBeUndefined();
    expect((await adapter.listVms()).map((v) => v.name).sort()).toEqual(['lv-plain', 'lv-ticked']);
    // Removing the element ends the management (the service then deletes its record).
    await lv.virsh('metadata', 'lv-plain', '--uri', FT_INTENT_NS, '--remove', '--live', '--config');
    expect(await adapter.getVm(plainUuid)).toBeUndefined();

    // The event child dies (libvirtd restarted, connection lost): it is started again and
    // the adapter asks for a full look (events were lost meanwhile).
    const [child] = eventChildren();
    expect(child).toBeDefined();
    hints.length = 0;
    process.kill(child!, 'SIGKILL');
    await eventually('a resync hint after the restart', () => hints.some((h) => h.kind === 'resync'), 30_000);
    await eventually(
      'a new event child',
      () => eventChildren().length === 1 && eventChildren()[0] !== child,
      30_000,
    );
    abort.abort();
    await reading;
    await eventually('no event child after the abort', () => eventChildren().length === 0, 30_000);
  });

  it('refuses a bad checkbox naming the attribute, and leaves that domain out of the list', async () => {
    const problems: string[] = [];
    const strict = new LibvirtAdapter({
      connections: [{ host: 'sim-a', uri: lv.uri }],
      onProblem: (p) => problems.push(`${p.iaasId}: ${(p.error as { field?: string }).field}`),
    });
    await setIntent('lv-plain', '<ft enabled="true" epoch-us="soon"/>');
    await expect(strict.listVms(AbortSignal.abort('stop'))).rejects.toMatchObject({ code: 'QMP_ABORTED' });
    await expect(strict.getVm(plainUuid)).rejects.toMatchObject({
      code: 'FTS_INVALID_INPUT',
      field: 'lv-plain.metadata.ft@epoch-us',
    });
    expect((await strict.listVms()).map((v) => v.name)).toEqual(['lv-ticked']);
    expect(problems).toEqual([`${plainUuid}: lv-plain.metadata.ft@epoch-us`]);
    await lv.virsh('metadata', 'lv-plain', '--uri', FT_INTENT_NS, '--remove', '--live', '--config');
    await strict.close();
    expect(() => new LibvirtAdapter({ connections: [] })).toThrow(/options.connections/);
  });

  it("the console's create form makes a libvirt domain with the checkbox in its metadata", async () => {
    const creator = new LibvirtAdapter({
      connections: [{ host: 'sim-a', uri: lv.uri }],
      create: { type: 'qemu' },
    });
    const vm = await creator.createVm({ name: 'form vm', memoryMiB: 64, ft: { enabled: false } });
    expect(vm).toMatchObject({
      name: 'form vm',
      host: 'sim-a',
      memoryMiB: 64,
      state: 'running',
      ft: undefined,
    });
    expect(await lv.virsh('metadata', 'form vm', '--uri', FT_INTENT_NS)).toMatch(/<ft enabled="false"/);
    // Listed (ticked before counts: an unticked box keeps it managed), and by the same id.
    expect((await creator.listVms()).find((v) => v.name === 'form vm')).toEqual(vm);
    await expect(creator.createVm({ name: 'x', host: 'sim-b', ft: { enabled: true } })).rejects.toMatchObject(
      {
        field: 'body.host',
      },
    );
    await expect(adapter.createVm({ name: 'y' })).rejects.toMatchObject({ code: 'FTS_CONFIG' });
    await creator.close();
    await lv.virsh('destroy', 'form vm');
    await lv.virsh('undefine', 'form vm');
  });

  it('end to end: the ticked domain reaches Protected on the sim, and the status is written into its metadata', async () => {
    const service = await FtService.start({
      store: { kind: 'sqlite', path: join(t.dir, 'fts.db') },
      driver: simDriver(join(t.dir, 'run')),
      hosts: SIM_HOSTS,
      reconciler: { intervalMs: 200 },
      adapters: [adapter],
      iaas: { pollMs: 500, backoff: { baseMs: 100, maxMs: 1000 } },
      logger: pino({ level: process.env.FTS_TEST_LOG ?? 'silent' }),
      consoleDir: false,
    });
    try {
      await service.whenLeader();
      const api = new ApiClient(service.url);
      const id = `libvirt-${tickedUuid}`;
      const view = await eventually(
        `${id} protected in the service`,
        async () => {
          const r = await api.call<VmView>('GET', `/api/v1/vms/${id}`);
          return r.status === 200 && r.body.status.state === 'protected' ? r.body : undefined;
        },
        90_000,
      );
      expect(view.status).toMatchObject({ primaryHost: 'sim-a', secondaryHost: 'sim-b' });
      expect(simProcessesIn(t.dir)).toHaveLength(2);
      const published = await eventually(
        'the protected status in the domain metadata',
        async () => {
          const s = parseStatusElement(await lv.virsh('metadata', 'lv-ticked', '--uri', FT_STATUS_NS));
          return s.state === 'protected' ? s : undefined;
        },
        30_000,
      );
      expect(published).toMatchObject({ primaryHost: 'sim-a', secondaryHost: 'sim-b' });
      expect(await adapter.readPublishedStatus('sim-a', tickedUuid)).toEqual(published);
      // Written into the stored definition too: it survives the domain's restart.
      const stored = parseStatusElement(
        await lv.virsh('metadata', 'lv-ticked', '--uri', FT_STATUS_NS, '--config'),
      );
      expect(stored.state).toBe('protected');

      // Unticked in libvirt: the service turns FT off, and says so in the metadata.
      await setIntent('lv-ticked', '<ft enabled="false"/>');
      await eventually(
        'FT off written back',
        async () => {
          const s = parseStatusElement(await lv.virsh('metadata', 'lv-ticked', '--uri', FT_STATUS_NS));
          return s.state === 'disabled' ? s : undefined;
        },
        60_000,
      );
    } finally {
      await service.stop();
    }
    const left = simProcessesIn(t.dir);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    expect(left).toEqual([]);
  });
});

/** The <uuid> of a domain XML. */
function primaryDomainUuid(xml: string): string {
  return /<uuid>([^<]+)<\/uuid>/.exec(xml)![1]!;
}
