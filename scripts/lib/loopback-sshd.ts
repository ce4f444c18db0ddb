/**
 * A throwaway OpenSSH sshd on a loopback address, for the demo (`npm run demo`), the tests
 * and the benchmarks: free high port, fresh ed25519 host and user keys in a temporary
 * directory, the current user (root in CI). Started in the foreground (-D) as our child,
 * so that stop() knows exactly what to kill. Needs /usr/sbin/sshd and ssh-keygen.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** Where Debian's openssh-server puts sshd. */
export const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  /** The loopback address it listens on (127.0.0.2 by default). */
  host: string;
  port: number;
  username: string;
  dir: string;
  /** The sshd listener's pid (connection processes are its children). */
  pid: number;
  /** The user key's private half (file contents). */
  userKey: string;
  /** A second key that is NOT in authorized_keys. */
  strangerKey: string;
  /** The host key's public line (`ssh-ed25519 AAAA... comment`). */
  hostPublicKey: string;
  /** The host key's fingerprint as `ssh-keygen -lf` prints it. */
  hostFingerprint: string;
  /** A known_hosts file with the right `[host]:port` line. */
  knownHostsPath: string;
  /** sshd's log (-E). */
  log(): string;
  /** Pids of processes descended from the sshd listener (its per-connection children). */
  children(): number[];
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** The loopback address to listen on (default 127.0.0.2). */
  host?: string;
  /** Files of the sessions' home directory (`HOME`), e.g. a `.bashrc`; default none. */
  homeFiles?: Record<string, string>;
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const host = options.host ?? '127.0.0.2';
  const dir = mkdtempSync(join(tmpdir(), 'cuju-sshd-'));
  try {
    keygen(join(dir, 'hostkey'));
    keygen(join(dir, 'userkey'));
    keygen(join(dir, 'strangerkey'));
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'userkey.pub')));
    mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege separation directory
    const home = join(dir, 'home');
    mkdirSync(home);
    for (const [name, content] of Object.entries(options.homeFiles ?? {}))
      writeFileSync(join(home, name), content);
    const hostPublicKey = readFileSync(join(dir, 'hostkey.pub'), 'utf8').trim();
    const hostFingerprint = execFileSync('ssh-keygen', ['-lf', join(dir, 'hostkey.pub')], {
      encoding: 'utf8',
    }).split(' ')[1]!;
    const [type, blob] = hostPublicKey.split(' ');

    // A port that was free a moment ago; another process may take it first, so retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort(host);
      const config = join(dir, 'sshd_config');
      writeFileSync(
        config,
        [
          `Port ${port}`,
          `ListenAddress ${host}`,
          `HostKey ${join(dir, 'hostkey')}`,
          `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
          `PidFile ${join(dir, 'sshd.pid')}`,
          'StrictModes no',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'AllowStreamLocalForwarding yes',
          'UsePAM no',
          // sshd runs every command through the user's login shell, and bash then reads
          // ~/.bashrc: a session's output would depend on this machine's dotfiles (root's
          // runs `pyenv init`, which waits on and complains about a lock file that a
          // session killed mid-rehash leaves behind; more so on a loaded machine). The
          // sessions get an empty home of their own instead (`home`: what is in it).
          `SetEnv HOME=${home}`,
          'PermitRootLogin prohibit-password',
          'PrintMotd no',
          '',
        ].join('\n'),
      );
      writeFileSync(join(dir, 'known_hosts'), `[${host}]:${port} ${type} ${blob}\n`);
      const logPath = join(dir, 'sshd.log');
      const child = spawn(SSHD, ['-D', '-f', config, '-E', logPath], { stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.once('error', () => {});
      const up = await Promise.race([
        waitForListener(host, port, 10_000).then(() => true),
        exited.then(() => false),
      ]);
      if (!up) {
        if (attempt < 3) continue;
        throw new Error(`sshd did not start on ${host}:${port}: ${safeRead(logPath)}`);
      }
      return {
        host,
        port,
        username: userInfo().username,
        dir,
        pid: child.pid!,
        userKey: readFileSync(join(dir, 'userkey'), 'utf8'),
        strangerKey: readFileSync(join(dir, 'strangerkey'), 'utf8'),
        hostPublicKey,
        hostFingerprint,
        knownHostsPath: join(dir, 'known_hosts'),
        log: () => safeRead(logPath),
        children: () => descendants(child.pid!),
        stop: () => stop(child, exited, dir),
      };
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stop(child: ChildProcess, exited: Promise<void>, dir: string): Promise<void> {
  // Connection processes first (they outlive the listener), then the listener.
  for (const pid of descendants(child.pid!)) killQuietly(pid);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited;
  rmSync(dir, { recursive: true, force: true });
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cuju-test', '-f', path], {
    stdio: 'ignore',
  });
}

/** Every live process whose parent chain leads to `root`, from /proc. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the ")" that ends the command name, which may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // the process ended while we looked
    }
  }
  return [...parent.keys()].filter((pid) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
    return false;
  });
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** A TCP port on `host` that was free a moment ago. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitForListener(host: string, port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${host}:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
