/**
 * A throwaway Keystone (Debian's `keystone`, SQLite backend) on 127.0.0.1 for the tests
 * and `npm run example:openstack` (shared/reference/peers-setup.md): keystone-manage
 * db_sync, fernet_setup, credential_setup and bootstrap as the `keystone` user, then
 * uwsgi serving keystone-wsgi-public with processes (not threads: SQLite). Slow to start
 * (tens of seconds of Python start-up), so a test file shares one.
 */
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { asUser, type Daemon, daemon, freeLoopbackPort, hasFile, run, userIds, waitFor } from './peer.js';

/** The commands this peer needs (Debian packages keystone, uwsgi-plugin-python3). */
export const KEYSTONE_COMMANDS = [
  '/usr/bin/keystone-manage',
  '/usr/bin/keystone-wsgi-public',
  '/usr/bin/uwsgi',
  '/usr/lib/uwsgi/plugins/python3_plugin.so',
];

export function keystoneAvailable(): boolean {
  return KEYSTONE_COMMANDS.every(hasFile);
}

export interface Keystone {
  /** `http://127.0.0.1:PORT/v3` */
  authUrl: string;
  /** The bootstrap admin (role admin on project admin, domain Default). */
  admin: { username: string; password: string; projectName: string };
  region: string;
  dir: string;
  /** uwsgi's master pid. */
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

export async function startKeystone(options: { timeoutMs?: number } = {}): Promise<Keystone> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const dir = mkdtempSync(join(tmpdir(), 'cuju-keystone-'));
  const root = userInfo().uid === 0;
  if (root) {
    const { uid, gid } = userIds('keystone');
    chownSync(dir, uid, gid);
  }
  const port = await freeLoopbackPort();
  const conf = join(dir, 'keystone.conf');
  writeFileSync(
    conf,
    [
      '[DEFAULT]',
      `log_file = ${dir}/keystone.log`,
      '[database]',
      `connection = sqlite:///${dir}/keystone.db`,
      '[fernet_tokens]',
      `key_repository = ${dir}/fernet-keys`,
      '[fernet_receipts]',
      `key_repository = ${dir}/fernet-keys`,
      '[credential]',
      `key_repository = ${dir}/credential-keys`,
      '',
    ].join('\n'),
  );
  if (root) {
    const { uid, gid } = userIds('keystone');
    chownSync(conf, uid, gid);
  }
  const authUrl = `http://127.0.0.1:${port}/v3`;
  const admin = { username: 'admin', password: `adminpw-${port}`, projectName: 'admin' };
  const region = 'RegionOne';
  const owner = root ? ['--keystone-user', 'keystone', '--keystone-group', 'keystone'] : [];
  const km = (...args: string[]) =>
    run(asUser('keystone', ['/usr/bin/keystone-manage', '--config-file', conf, ...args]), { timeoutMs });
  let server: Daemon | undefined;
  const stop = async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // db_sync then bootstrap; the key repositories meanwhile (each call is seconds of Python).
    await Promise.all([
      (async () => {
        await km('db_sync');
        // WAL: in the default rollback journal one request's open read transaction makes
        // the next write fail with "database is locked" after 5 s (measured); in WAL
        // readers never block the writer. The mode is stored in the file.
        await run(
          asUser('keystone', [
            '/usr/bin/python3',
            '-c',
            'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("pragma journal_mode=wal").fetchall()',
            join(dir, 'keystone.db'),
          ]),
          { timeoutMs },
        );
        await km(
          'bootstrap',
          '--bootstrap-password',
          admin.password,
          '--bootstrap-username',
          admin.username,
          '--bootstrap-project-name',
          admin.projectName,
          '--bootstrap-role-name',
          'admin',
          '--bootstrap-service-name',
          'keystone',
          '--bootstrap-region-id',
          region,
          '--bootstrap-admin-url',
          `${authUrl}/`,
          '--bootstrap-internal-url',
          `${authUrl}/`,
          '--bootstrap-public-url',
          `${authUrl}/`,
        );
      })(),
      km('fernet_setup', ...owner),
      km('credential_setup', ...owner),
    ]);
    server = daemon(
      asUser('keystone', [
        '/usr/bin/uwsgi',
        '--plugin',
        'python3',
        '--http-socket',
        `127.0.0.1:${port}`,
        // uwsgi's plain HTTP socket closes after each response without saying so; a client
        // that reuses the connection then gets ECONNRESET (measured). Say it.
        '--add-header',
        'Connection: close',
        '--wsgi-file',
        '/usr/bin/keystone-wsgi-public',
        '--master',
        '--processes',
        '2',
        '--die-on-term',
        '--need-app',
        '--lazy-apps',
        // Without it uwsgi segfaults on SIGTERM (peers-setup.md).
        '--skip-atexit-teardown',
      ]),
      { ...process.env, OS_KEYSTONE_CONFIG_FILES: conf },
    );
    const s = server;
    await waitFor(
      'keystone',
      async () => {
        if (s.child.exitCode !== null) throw new Error('uwsgi exited');
        const r = await fetch(authUrl, { signal: AbortSignal.timeout(5000) });
        return r.ok;
      },
      timeoutMs,
      () => s.output(),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const s = server;
  return { authUrl, admin, region, dir, pid: s.pid, log: () => s.output(), stop };
}
