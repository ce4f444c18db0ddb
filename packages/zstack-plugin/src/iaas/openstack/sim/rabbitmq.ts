/**
 * A throwaway RabbitMQ broker (Debian's rabbitmq-server 3.10) on 127.0.0.1 for the tests
 * and `npm run example:openstack` (shared/reference/peers-setup.md): its own epmd port,
 * node name, mnesia and log directories in a temporary directory, every Erlang listener
 * on loopback, run as the `rabbitmq` user. Ready in 10-15 s, so a test file shares one.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { asUser, type Daemon, daemon, freeLoopbackPort, hasFile, run, userIds } from './peer.js';

const BIN = '/usr/lib/rabbitmq/bin';
/** The commands this peer needs (Debian package rabbitmq-server; epmd comes with erlang). */
export const RABBITMQ_COMMANDS = [`${BIN}/rabbitmq-server`, `${BIN}/rabbitmqctl`, '/usr/bin/epmd'];

export function rabbitmqAvailable(): boolean {
  return RABBITMQ_COMMANDS.every(hasFile);
}

export interface RabbitMq {
  /** `amqp://USER:PASS@127.0.0.1:PORT/` (the default vhost). */
  url: string;
  port: number;
  dir: string;
  /** The broker's pid (the Erlang VM is its child) and epmd's. */
  pids: { server: number; epmd: number };
  log(): string;
  stop(): Promise<void>;
}

export async function startRabbitMq(options: { timeoutMs?: number } = {}): Promise<RabbitMq> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const dir = mkdtempSync(join(tmpdir(), 'cuju-rabbitmq-'));
  const [port, distPort, epmdPort] = (await distinctPorts(3)) as [number, number, number];
  const user = 'cuju';
  const pass = `pw${port}`;
  const node = `cuju${port}@localhost`;
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.1 = 127.0.0.1:${port}`,
      `default_user = ${user}`,
      `default_pass = ${pass}`,
      'loopback_users = none',
      // A test box's disk is often nearly full: do not block publishers over it.
      'disk_free_limit.absolute = 1MB',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  writeFileSync(join(dir, '.erlang.cookie'), `CUJU${port}COOKIE${distPort}`);
  chmodSync(join(dir, '.erlang.cookie'), 0o400);
  for (const d of ['mnesia', 'log']) mkdirSync(join(dir, d));
  if (userInfo().uid === 0) {
    const { uid, gid } = userIds('rabbitmq');
    for (const f of ['', ...readdirSync(dir)]) chownSync(join(dir, f), uid, gid);
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  // Our own epmd first: otherwise the server starts a root `epmd -daemon` on 0.0.0.0:4369.
  const epmd = daemon(
    asUser('rabbitmq', ['/usr/bin/epmd', '-port', String(epmdPort), '-address', '127.0.0.1']),
    env,
  );
  let server: Daemon | undefined;
  const stop = async () => {
    await server?.stop(20_000);
    await epmd.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    server = daemon(asUser('rabbitmq', [`${BIN}/rabbitmq-server`]), env);
    // `wait` (not await_startup, which fails at once while the node is not up yet).
    await run(
      asUser('rabbitmq', [
        `${BIN}/rabbitmqctl`,
        '-n',
        node,
        'wait',
        join(dir, 'rabbit.pid'),
        '--timeout',
        String(Math.ceil(timeoutMs / 1000)),
      ]),
      { env, timeoutMs: timeoutMs + 5000 },
    );
  } catch (err) {
    const out = server?.output() ?? '';
    await stop();
    throw new Error(`${(err as Error).message}\n${out.slice(-3000)}`);
  }
  const s = server;
  return {
    url: `amqp://${user}:${pass}@127.0.0.1:${port}/`,
    port,
    dir,
    pids: { server: s.pid, epmd: epmd.pid },
    log: () => s.output(),
    stop,
  };
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freeLoopbackPort());
  return [...ports];
}
