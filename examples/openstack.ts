/**
 * `npm run example:openstack`: the FT checkbox inside OpenStack, end to end on this machine.
 *
 * What is real: the FT service (store, reconciler, REST API, console); the OpenStack
 * adapter; Keystone (Debian's keystone on SQLite, served by uwsgi on 127.0.0.1: password
 * tokens, the service catalog, token validation); RabbitMQ (Debian's rabbitmq-server on
 * 127.0.0.1, nova's versioned notifications in oslo.messaging's envelope); the FT pair
 * (@cuju/sdk's FtPair on cuju-sim VMs, simulated hosts 127.0.0.2 and 127.0.0.3).
 * What is a fake: nova (NovaFake of @cuju/zstack-plugin/testing: the compute API
 * reference's shapes, every token checked with the real Keystone, notifications published
 * on the real RabbitMQ; it runs no VMs). Glance and Horizon are not run: the checkbox is
 * the metadata definition in packages/zstack-plugin/metadefs (its README, "Horizon").
 *
 * The flow: an admin creates the flavor `ft.small` with the extra spec `cuju:ft=true`; a
 * server is created on it with the metadata `cuju_ft=true` (what Horizon's checkbox
 * writes); nova's `instance.create.end` reaches the adapter over RabbitMQ; the service
 * starts the primary and its secondary (`cuju-bk-<uuid>`) on cuju-sim, reports Protected,
 * and writes `cuju_ft_status=protected` and `HA_Enabled=False` into the server's metadata.
 * Then the console URL is printed. Ctrl-C stops everything (or --once: stop after the flow).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type FtService,
  KeystoneSession,
  OPENSTACK_KEYS,
  OpenStackAdapter,
  openstackBackupName,
} from '@cuju/zstack-plugin';
import {
  type Keystone,
  keystoneAvailable,
  NovaFake,
  type RabbitMq,
  rabbitmqAvailable,
  startKeystone,
  startRabbitMq,
} from '@cuju/zstack-plugin/testing';
import { parseCommandLine, runMain, wholeNumber } from './lib/cli.js';
import { SIM_HOSTS, say, serveConsole, startSimService, waitProtected } from './lib/iaas-example.js';

const USAGE = `usage: npm run example:openstack [-- --once] [--port 8742]

The FT service with the OpenStack adapter on a simulated cluster (cuju-sim, hosts sim-a
127.0.0.2 and sim-b 127.0.0.3): Keystone and RabbitMQ real (started here, loopback only),
nova a fake. A server with metadata cuju_ft=true on a flavor with cuju:ft=true becomes
Protected, and its status is written back into its metadata. Prints the console URL.
Keystone and RabbitMQ take 20-60 s to start.

  --once        stop after the flow (exit 0 when the server was protected and its metadata written)
  --port N      the console's port (default 8742; 0: any free port)
  --help        this text

Exit status: 0 the ticked server was protected and its status written; 1 it was not.`;

async function main(): Promise<number> {
  const cli = parseCommandLine(process.argv.slice(2), {
    usage: USAGE,
    options: { once: { type: 'boolean' }, port: { type: 'string', default: '8742' } },
  });
  if (!cli) return 0;
  const port = wholeNumber('--port', cli.values.port ?? '8742', 0, 65535);
  if (!keystoneAvailable() || !rabbitmqAvailable()) {
    say('Keystone or RabbitMQ is missing: run bash scripts/install-peers.sh');
    return 1;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cuju-openstack-example-'));
  say('starting Keystone and RabbitMQ on 127.0.0.1 ...');
  let keystone: Keystone | undefined;
  let rabbit: RabbitMq | undefined;
  let nova: NovaFake | undefined;
  let service: FtService | undefined;
  const stop = async () => {
    await service?.stop();
    await nova?.stop();
    await Promise.all([keystone?.stop(), rabbit?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    [keystone, rabbit] = await Promise.all([startKeystone(), startRabbitMq()]);
    say(`Keystone (real) at ${keystone.authUrl}; RabbitMQ (real) at amqp://127.0.0.1:${rabbit.port}/`);
    const credentials = {
      authUrl: keystone.authUrl,
      username: keystone.admin.username,
      password: keystone.admin.password,
      projectName: keystone.admin.projectName,
      regionName: keystone.region,
    };
    // The compute hosts carry the service's host names, so no hostMap is needed.
    nova = await new NovaFake({
      keystone: new KeystoneSession(credentials),
      hosts: SIM_HOSTS.map((h) => ({ name: h.name, zone: 'nova' })),
      amqpUrl: rabbit.url,
    }).start();
    await nova.register(keystone.region);
    say(`nova (fake) at ${nova.url}, registered in Keystone's catalog as compute`);

    const adapter = new OpenStackAdapter({
      credentials,
      notifications: { url: rabbit.url },
      // The console's create form creates nova servers (any image id does for the fake).
      create: { imageRef: '70a599e0-31e7-49b7-b260-868f441e862b', networks: 'none' },
    });
    // Notifications bring new servers at once; polling is the safety net.
    service = await startSimService({
      dir,
      port,
      adapter,
      backupName: openstackBackupName,
      pollMs: 30_000,
    });

    const flavor = await adapter.nova.createFlavor(
      { name: 'ft.small', ram: 128, vcpus: 1, disk: 0 },
      { 'cuju:ft': 'true' },
    );
    say('nova: flavor ft.small with extra spec cuju:ft=true');
    const serverId = await adapter.nova.createServer({
      name: 'web-1',
      flavorRef: flavor,
      imageRef: '70a599e0-31e7-49b7-b260-868f441e862b',
      metadata: { [OPENSTACK_KEYS.ftMetadata]: 'true' },
      networks: 'none',
    });
    say(`nova: server web-1 (${serverId}) created with metadata cuju_ft=true`);
    const id = `openstack-${serverId}`;
    const view = await waitProtected(
      service,
      id,
      async () => (await adapter.nova.getServer(serverId))?.metadata?.cuju_ft_status === 'protected',
    );
    if (!view) {
      say('the server did not reach Protected with its status in its metadata within 120 s');
      return 1;
    }
    say(
      `service: primary on ${view.status.primaryHost}, secondary cuju-bk-${serverId} on ${view.status.secondaryHost}`,
    );
    const meta = (await adapter.nova.getServer(serverId))?.metadata ?? {};
    say(
      `nova: metadata of web-1 now ${Object.entries(meta)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
    const learned = nova.published.some(
      (p) => p.eventType === 'instance.create.end' && p.serverId === serverId,
    );
    say(`nova published instance.create.end for web-1: ${learned ? 'yes' : 'no'}`);
    await serveConsole(service, {
      once: cli.values.once === true,
      creates: 'nova servers of 128 MiB',
      stops: 'the service, its VMs, nova, Keystone and RabbitMQ',
    });
    return 0;
  } finally {
    await stop();
  }
}

runMain(USAGE, main);
