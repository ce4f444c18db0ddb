/**
 * `npm run example:zstack`: the FT checkbox inside ZStack, end to end on this machine.
 *
 * What is real: the FT service (store, reconciler, REST API, console), the ZStack adapter
 * (SHA-512 login, OAuth session, 202 + api-job polling, `__userTag__` queries, webhooks,
 * status user tags), the FT pair (@cuju/sdk's FtPair on cuju-sim VMs, two simulated hosts
 * at 127.0.0.2 and 127.0.0.3).
 * What is a fake: the ZStack management node (ZStackFake of @cuju/zstack-plugin/testing,
 * the documented REST shapes; it runs no VMs). Point --zstack-url at a real management
 * node instead and the same adapter talks to it (its hosts must be named like the
 * service's: sim-a, sim-b).
 *
 * The flow: a VM is created in ZStack with the user tag `cuju::ft`; the service imports
 * it, starts its primary and its secondary (named `cuju-bk-<uuid>`) on cuju-sim, reports
 * Protected, and writes `cuju::ft::status::protected` back to the VM's tags. Then the
 * console URL is printed: its create form creates VMs in ZStack (ticked: with the tag).
 * Ctrl-C stops everything (or --once: stop after the flow).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZStackAdapter, zstackBackupName } from '@cuju/zstack-plugin';
import { ZStackFake } from '@cuju/zstack-plugin/testing';
import { parseCommandLine, runMain, wholeNumber } from './lib/cli.js';
import { SIM_HOSTS, say, serveConsole, startSimService, waitProtected } from './lib/iaas-example.js';

const USAGE = `usage: npm run example:zstack [-- --once] [--port 8741]

The FT service with the ZStack adapter on a simulated cluster (cuju-sim, hosts sim-a
127.0.0.2 and sim-b 127.0.0.3) and a ZStack API fake: a VM tagged cuju::ft in ZStack
becomes Protected, and its status is written back as user tags. Prints the console URL.

  --once        stop after the flow (exit 0 when the VM was protected and tagged)
  --port N      the console's port (default 8741; 0: any free port)
  --help        this text

Exit status: 0 the ticked VM was protected and its status tag written; 1 it was not.`;

async function main(): Promise<number> {
  const cli = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { once: { type: 'boolean' }, port: { type: 'string', default: '8741' } },
  });
  if (!cli) return 0;
  const port = wholeNumber('--port', cli.values.port ?? '8741', 0, 65535);
  const dir = mkdtempSync(join(tmpdir(), 'cuju-zstack-example-'));

  const fake = await ZStackFake.start({ accountName: 'admin', password: 'password' });
  const cluster = fake.addCluster();
  const zsHosts = SIM_HOSTS.map((h) =>
    fake.addHost({ name: h.name, managementIp: h.address, clusterUuid: cluster }),
  );
  say(`ZStack (fake) at ${fake.url}: cluster ${cluster}, hosts sim-a, sim-b`);

  const zstack = new ZStackAdapter({
    zstack: { url: fake.url, accountName: 'admin', password: 'password' },
    // CreateVmInstance's image and L3 network: any uuid does for the fake.
    create: {
      imageUuid: '8f2c3d6b1e0a4b5c9d7e6f5a4b3c2d1e',
      l3NetworkUuids: ['5e4d3c2b1a0f4e9d8c7b6a5f4e3d2c1b'],
    },
  });
  const service = await startSimService({
    dir,
    port,
    adapter: zstack,
    backupName: zstackBackupName,
    pollMs: 2000,
  }).catch(async (err: unknown) => {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const stop = async () => {
    await service.stop();
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const vm = fake.addVm({
      name: 'web-1',
      hostUuid: zsHosts[0]!.uuid,
      memoryMiB: 128,
      userTags: ['cuju::ft'],
    });
    say(`ZStack: VM web-1 (${vm.uuid}) created on sim-a with the user tag cuju::ft`);
    const id = `zstack-${vm.uuid}`;
    const view = await waitProtected(service, id, async (v) => {
      const tags = fake.tagsOf(vm.uuid);
      // The written-back tags settle after the status (new tags first, stale ones after).
      return (
        tags.includes('cuju::ft::status::protected') &&
        tags.includes(`cuju::ft::secondary-on::${v.status.secondaryHost}`) &&
        tags.filter((t) => t.startsWith('cuju::ft::status::')).length === 1
      );
    });
    if (!view) {
      say('the VM did not reach Protected with its status tag within 120 s');
      return 1;
    }
    say(
      `service: primary on ${view.status.primaryHost}, secondary cuju-bk-${vm.uuid} on ${view.status.secondaryHost}`,
    );
    say(`ZStack: tags of web-1 now ${fake.tagsOf(vm.uuid).join(', ')}`);
    await serveConsole(service, {
      once: cli.values.once === true,
      creates: 'VMs in ZStack',
      stops: 'the service, its VMs and the fake',
    });
    return 0;
  } finally {
    await stop();
  }
}

runMain(USAGE, main);
