/**
 * `npm run example:libvirt`: the FT checkbox in plain libvirt, end to end on this machine.
 *
 * What is real: a libvirtd of its own (session mode in a temporary directory, its own unix
 * socket; libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients), a QEMU 7.2 domain
 * (TCG, 64 MiB) whose definition comes from the Cuju domain XML generator, virsh, the FT
 * service and the libvirt adapter, and the FT pair (@cuju/sdk's FtPair on cuju-sim VMs at
 * 127.0.0.2 and 127.0.0.3). Cuju itself cannot run under this libvirt (it needs QEMU >=
 * 4.2; Cuju is 2.8), so the pair runs on cuju-sim, as the service's driver runs it.
 *
 * The flow: the domain is ticked with `virsh metadata ... --set '<ft enabled="true"/>'`;
 * the service hears it (virsh event --loop), imports it, starts its primary and its
 * secondary (named `cuju-bk-<uuid>`) on cuju-sim, reports Protected, and writes
 * `<status state="protected" .../>` into the domain's metadata. The console's create form
 * creates libvirt domains (ticked: with the element). Ctrl-C stops everything (or --once).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FT_INTENT_NS,
  FT_STATUS_NS,
  LibvirtAdapter,
  libvirtBackupName,
  primaryDomain,
} from '@cuju/zstack-plugin';
import { libvirtAvailable, startLibvirtd } from '../scripts/lib/libvirtd.js';
import { parseCommandLine, runMain, wholeNumber } from './lib/cli.js';
import { say, serveConsole, startSimService, waitProtected } from './lib/iaas-example.js';

const USAGE = `usage: npm run example:libvirt [-- --once] [--port 8742]

The FT service with the libvirt adapter: a private libvirtd runs a QEMU domain; ticking it
in its metadata (virsh metadata) makes it Protected (the pair on cuju-sim, hosts sim-a
127.0.0.2 and sim-b 127.0.0.3), and the status is written into the domain's metadata.
Prints the console URL.

  --once        stop after the flow (exit 0 when the domain was protected and its status written)
  --port N      the console's port (default 8742; 0: any free port)
  --help        this text

Exit status: 0 the ticked domain was protected and its status written; 1 it was not.`;

async function main(): Promise<number> {
  const cli = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { once: { type: 'boolean' }, port: { type: 'string', default: '8742' } },
  });
  if (!cli) return 0;
  const port = wholeNumber('--port', cli.values.port ?? '8742', 0, 65535);
  if (!libvirtAvailable()) {
    say('libvirtd, its QEMU driver, virsh or QEMU is missing: run scripts/install-peers.sh');
    return 1;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cuju-libvirt-example-'));
  const lv = await startLibvirtd();
  say(`libvirt: ${lv.uri}`);

  // The host's libvirt is sim-a in the service; a secondary may go to sim-b.
  const adapter = new LibvirtAdapter({
    connections: [{ host: 'sim-a', uri: lv.uri }],
    backupHosts: ['sim-b'],
    create: { type: 'qemu' },
  });
  const service = await startSimService({
    dir,
    port,
    adapter,
    backupName: libvirtBackupName,
    pollMs: 2000,
  }).catch(async (err: unknown) => {
    await lv.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const stop = async () => {
    await service.stop();
    await lv.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A domain as the Cuju generator writes it, run by stock QEMU (TCG): not ticked yet.
    const domain = primaryDomain({
      name: 'web-1',
      type: 'qemu',
      memoryMiB: 64,
      emulator: '/usr/bin/qemu-system-x86_64',
      build: 'master',
      spec: { monitorPath: join(lv.dir, 'home', 'web-1.monitor'), kvm: false, cpu: null, vga: null },
    });
    writeFileSync(join(dir, 'web-1.xml'), domain.xml);
    await lv.virsh('define', join(dir, 'web-1.xml'));
    await lv.virsh('start', 'web-1');
    say(`libvirt: domain web-1 (${domain.uuid}) running`);
    const tick = '<ft enabled="true"/>';
    await lv.virsh(
      'metadata',
      'web-1',
      '--uri',
      FT_INTENT_NS,
      '--key',
      'cuju',
      '--set',
      tick,
      '--live',
      '--config',
    );
    say(`virsh metadata web-1 --uri ${FT_INTENT_NS} --key cuju --set '${tick}' --live --config`);
    const id = `libvirt-${domain.uuid}`;
    const view = await waitProtected(service, id, async () =>
      (await lv.virsh('metadata', 'web-1', '--uri', FT_STATUS_NS).catch(() => '')).includes(
        'state="protected"',
      ),
    );
    if (!view) {
      say('the domain did not reach Protected with its status written within 120 s');
      return 1;
    }
    say(
      `service: primary on ${view.status.primaryHost}, secondary cuju-bk-${domain.uuid} on ${view.status.secondaryHost}`,
    );
    const published = await lv.virsh('metadata', 'web-1', '--uri', FT_STATUS_NS);
    say(`libvirt: metadata of web-1 now ${published.trim()}`);
    await serveConsole(service, {
      once: cli.values.once === true,
      creates: 'libvirt domains',
      stops: 'the service, its VMs and libvirtd',
    });
    return 0;
  } finally {
    await stop();
  }
}

runMain(USAGE, main);
