/**
 * A throwaway PostgreSQL cluster for one test file (shared/reference/peers-setup.md):
 * initdb and the server run as the `postgres` user when we are root (initdb refuses
 * root), the server in the foreground as our child (so stop() knows its pid), listening
 * on 127.0.0.1 at a free port and on a socket in its own temporary directory.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { localFreePort as freePort } from '../../src/index.js';

const ROOT = '/usr/lib/postgresql';

export function postgresBin(): string | undefined {
  if (!existsSync(ROOT)) return undefined;
  const versions = readdirSync(ROOT)
    .filter((v) => existsSync(join(ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(ROOT, versions[0], 'bin');
}

/**
 * Whether PostgreSQL can be used. With CUJU_REQUIRE_PEERS=1 (CI) a missing server throws,
 * which fails the test file; otherwise its tests are skipped and say why.
 */
export function requirePostgres(): boolean {
  if (postgresBin()) return true;
  const install = 'run scripts/install-peers.sh (apt-get install postgresql)';
  if (process.env.CUJU_REQUIRE_PEERS === '1') {
    throw new Error(
      `required peer PostgreSQL (${ROOT}/*/bin/initdb) is missing (CUJU_REQUIRE_PEERS=1): ${install}`,
    );
  }
  console.warn(`skipping tests that need PostgreSQL: ${install}`);
  return false;
}

export interface Postgres {
  /** postgres://app:...@127.0.0.1:PORT/appdb */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBin()!;
  const dir = mkdtempSync(join(tmpdir(), 'fts-pg-'));
  const root = userInfo().uid === 0;
  const asPg = (argv: string[]) =>
    root ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...argv] : argv;
  if (root) {
    const { uid, gid } = pgIds();
    chownSync(dir, uid, gid);
  }
  const [cmd, ...args] = asPg([
    join(bin, 'initdb'),
    '-D',
    join(dir, 'data'),
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--no-sync',
  ]);
  execFileSync(cmd!, args, { stdio: 'pipe' });
  const port = await freePort();
  const [scmd, ...sargs] = asPg([
    join(bin, 'postgres'),
    '-D',
    join(dir, 'data'),
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'max_connections=60',
  ]);
  const child: ChildProcess = spawn(scmd!, sargs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => {
    log += String(d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT'); // fast shutdown
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const admin = await connectWithRetry(
      { host: dir, port, user: 'postgres', database: 'postgres' },
      () => log,
    );
    await admin.query("CREATE ROLE app LOGIN PASSWORD 'fts-test-pw'");
    await admin.query('CREATE DATABASE appdb OWNER app');
    await admin.end();
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://app:fts-test-pw@127.0.0.1:${port}/appdb`, pid: child.pid!, stop };
}

async function connectWithRetry(config: pg.ClientConfig, log: () => string): Promise<pg.Client> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client(config);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline)
        throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function pgIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}
