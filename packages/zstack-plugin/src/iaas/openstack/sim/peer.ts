/**
 * What the OpenStack peers (Keystone, RabbitMQ) share: a free loopback port, running a
 * command as a service user, and a child process that is stopped for sure.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';

/** A TCP port free on 127.0.0.1 right now. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** `argv` as `user` when we are root (the Debian daemons refuse or misbehave as root). */
export function asUser(user: string, argv: string[]): string[] {
  return userInfo().uid === 0
    ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', ...argv]
    : argv;
}

/** Runs a command to completion; the error carries its output (the only clue when a peer fails). */
export function run(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal },
): Promise<string> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    execFile(
      cmd!,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 << 20,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`${argv.join(' ')} failed: ${err.message}\n${stdout}${stderr}`.slice(0, 8000)));
        else resolve(stdout);
      },
    );
  });
}

/** A long-running child with its output kept (bounded) for error messages. */
export interface Daemon {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export function daemon(argv: string[], env: NodeJS.ProcessEnv): Daemon {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + String(d)).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid ?? -1,
    exited,
    output: () => out,
    async stop(graceMs = 10_000) {
      if (!alive()) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (alive()) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` every 100 ms until it is true, or throws naming `what` (with `clue()`). */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  clue: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${what} not ready in ${timeoutMs} ms:\n${clue().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether an executable exists (the peers' commands are checked by absolute path). */
export const hasFile = (path: string): boolean => existsSync(path);

/** A system user's ids, from /etc/passwd (the Debian packages create `keystone`, `rabbitmq`). */
export function userIds(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line)
    throw new Error(`user ${user} does not exist: install its Debian package (scripts/install-peers.sh)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
