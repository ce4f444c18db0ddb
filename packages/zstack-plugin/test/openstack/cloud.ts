/**
 * The OpenStack world of a test file: a REAL Keystone (and, when asked, a REAL RabbitMQ)
 * started here, with the nova fake registered in Keystone's catalog; or, when
 * `OS_AUTH_URL` (+ `OS_USERNAME`, `OS_PASSWORD`, `OS_PROJECT_NAME`, ...) is set, a real
 * cloud: then `CUJU_OS_IMAGE_ID` names an image the contract tests may boot (with
 * `networks: none`), and `CUJU_OS_AMQP_URL` nova's notification broker (optional).
 */
import { execFileSync } from 'node:child_process';
import {
  credentialsFromEnv,
  KeystoneSession,
  type OpenStackCredentials,
} from '../../src/iaas/openstack/index.js';
import { type Keystone, keystoneAvailable, startKeystone } from '../../src/iaas/openstack/sim/keystone.js';
import { NovaFake } from '../../src/iaas/openstack/sim/nova-fake.js';
import { type RabbitMq, rabbitmqAvailable, startRabbitMq } from '../../src/iaas/openstack/sim/rabbitmq.js';

export interface Cloud {
  credentials: OpenStackCredentials;
  /** The image servers are created from (any id on the fake, which has no Glance). */
  imageRef: string;
  /** The fake, when we run it (undefined against a real cloud). */
  fake: NovaFake | undefined;
  keystone: Keystone | undefined;
  rabbit: RabbitMq | undefined;
  /** nova's notification broker, when there is one. */
  amqpUrl: string | undefined;
  /** Generous deadline for a server to become ACTIVE (a real cloud builds for minutes). */
  buildMs: number;
  /** Stops the peers; resolves to the pids still alive afterwards (must be none). */
  stop(): Promise<number[]>;
}

/** Pids of processes whose command line mentions one of `dirs`, or among `pids` and alive. */
function survivors(dirs: string[], pids: number[]): number[] {
  const out = new Set<number>();
  for (const pid of pids) {
    try {
      process.kill(pid, 0);
      out.add(pid);
    } catch {
      // gone
    }
  }
  for (const dir of dirs) {
    try {
      const found = execFileSync('pgrep', ['-f', dir], { encoding: 'utf8' });
      for (const l of found.split('\n')) if (l.trim()) out.add(Number(l));
    } catch {
      // pgrep exits 1 when nothing matches
    }
  }
  return [...out];
}

/** The compute hosts of the fake: two in zone `nova`, one in zone `az2`. */
export const FAKE_HOSTS = [
  { name: 'compute-1', zone: 'nova' },
  { name: 'compute-2', zone: 'nova' },
  { name: 'compute-3', zone: 'az2' },
];

export const realCloud = (): boolean => Boolean(process.env.OS_AUTH_URL);

/**
 * Whether the local peers exist. With CUJU_REQUIRE_PEERS=1 (CI) a missing one throws,
 * which fails the file; otherwise its tests are skipped and say why.
 */
export function requireOpenStackPeers(withRabbit: boolean): boolean {
  if (realCloud()) return true;
  const missing = [
    ...(keystoneAvailable() ? [] : ['keystone (+ uwsgi-plugin-python3)']),
    ...(withRabbit && !rabbitmqAvailable() ? ['rabbitmq-server'] : []),
  ];
  if (missing.length === 0) return true;
  const install = `run scripts/install-peers.sh (apt-get install ${missing.join(' ')})`;
  if (process.env.CUJU_REQUIRE_PEERS === '1') {
    throw new Error(`required peers missing (CUJU_REQUIRE_PEERS=1): ${missing.join(', ')}: ${install}`);
  }
  console.warn(`skipping OpenStack tests: ${install}`);
  return false;
}

export async function startCloud(options: {
  rabbit: boolean;
  tokenCacheMs?: number;
  hosts?: { name: string; zone: string }[];
}): Promise<Cloud> {
  const env = credentialsFromEnv();
  if (env) {
    const imageRef = process.env.CUJU_OS_IMAGE_ID;
    if (!imageRef) throw new Error('OS_AUTH_URL is set: set CUJU_OS_IMAGE_ID to an image the tests may boot');
    return {
      credentials: env,
      imageRef,
      fake: undefined,
      keystone: undefined,
      rabbit: undefined,
      amqpUrl: process.env.CUJU_OS_AMQP_URL,
      buildMs: 600_000,
      stop: async () => [],
    };
  }
  // Both peers are slow to start: side by side.
  const [keystone, rabbit] = await Promise.all([
    startKeystone(),
    options.rabbit ? startRabbitMq() : Promise.resolve(undefined),
  ]);
  let fake: NovaFake | undefined;
  try {
    const credentials: OpenStackCredentials = {
      authUrl: keystone.authUrl,
      username: keystone.admin.username,
      password: keystone.admin.password,
      projectName: keystone.admin.projectName,
      regionName: keystone.region,
    };
    fake = new NovaFake({
      keystone: new KeystoneSession(credentials),
      hosts: options.hosts ?? FAKE_HOSTS,
      ...(rabbit ? { amqpUrl: rabbit.url } : {}),
      ...(options.tokenCacheMs !== undefined ? { tokenCacheMs: options.tokenCacheMs } : {}),
    });
    await fake.start();
    await fake.register(keystone.region);
    const f = fake;
    return {
      credentials,
      imageRef: '70a599e0-31e7-49b7-b260-868f441e862b',
      fake: f,
      keystone,
      rabbit,
      amqpUrl: rabbit?.url,
      buildMs: 30_000,
      stop: async () => {
        await f.stop();
        await Promise.all([keystone.stop(), rabbit?.stop()]);
        return survivors(
          [keystone.dir, ...(rabbit ? [rabbit.dir] : [])],
          [keystone.pid, ...(rabbit ? [rabbit.pids.server, rabbit.pids.epmd] : [])],
        );
      },
    };
  } catch (err) {
    await fake?.stop();
    await Promise.all([keystone.stop(), rabbit?.stop()]);
    throw err;
  }
}
