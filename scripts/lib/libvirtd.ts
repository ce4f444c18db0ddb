/**
 * A throwaway libvirtd for tests: its own directory, its own unix socket, nothing shared
 * with a system libvirt (no /etc/libvirt, no /run/libvirt), so several test files can each
 * run one at the same time. As root it runs as `nobody` in session mode (a privileged
 * libvirtd always uses the fixed system paths); as any other user, as that user. The QEMU
 * driver is configured as peers-setup.md says works without systemd: domain output to
 * files (no virtlogd), no cgroups, no namespaces, no security driver. Domains are TCG
 * (`type='qemu'`); /dev/kvm is not needed.
 *
 * Started in the foreground as our child, so stop() knows what to kill; stop() also
 * destroys the domains it left running and kills their QEMUs, which libvirtd daemonizes
 * and would otherwise outlive it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian's libvirt-daemon puts libvirtd. */
export const LIBVIRTD = '/usr/sbin/libvirtd';
/** The QEMU driver module (libvirt-daemon-driver-qemu). */
export const LIBVIRT_QEMU_DRIVER =
  '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so';

/** Whether libvirtd, its QEMU driver, virsh and QEMU are installed. */
export function libvirtAvailable(): boolean {
  return (
    existsSync(LIBVIRTD) &&
    existsSync(LIBVIRT_QEMU_DRIVER) &&
    ['/usr/bin/virsh', '/usr/bin/qemu-system-x86_64'].every((p) => existsSync(p))
  );
}

export interface Libvirtd {
  /** The connection URI: `qemu+unix:///session?socket=DIR/run/libvirt/libvirt-sock`. */
  uri: string;
  dir: string;
  /** libvirtd's pid. */
  pid: number;
  /** Runs `virsh -c URI ARGS...` and returns its stdout (throws with stderr on failure). */
  virsh(...args: string[]): Promise<string>;
  /** Pids of the QEMU processes of this libvirtd's running domains. */
  qemuPids(): number[];
  /** libvirtd's log. */
  log(): string;
  /** Destroys the running domains, stops libvirtd, kills what is left, removes the directory. */
  stop(): Promise<void>;
}

/** A domain XML for a tiny TCG guest: 64 MiB, one vCPU, `pc`, no devices but the emulator. */
export function tinyDomainXml(name: string, extra = ''): string {
  return [
    `<domain type='qemu'>`,
    `  <name>${name}</name>`,
    `  <memory unit='MiB'>64</memory>`,
    `  <vcpu>1</vcpu>`,
    `  <os><type arch='x86_64' machine='pc'>hvm</type></os>`,
    `  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>`,
    extra,
    `</domain>`,
  ].join('\n');
}

export async function startLibvirtd(): Promise<Libvirtd> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-libvirtd-'));
  chmodSync(dir, 0o755); // the daemon's user must reach its home and socket below
  const home = join(dir, 'home');
  const runDir = join(dir, 'run');
  const config = join(home, '.config');
  const cache = join(home, '.cache');
  for (const d of [home, runDir, join(config, 'libvirt'), cache])
    mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(config, 'libvirt', 'qemu.conf'),
    [
      'stdio_handler = "file"',
      'cgroup_controllers = [ ]',
      'namespaces = [ ]',
      'security_driver = "none"',
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // nobody:nogroup (65534) owns the daemon's side; the directory itself stays root's and
    // readable, so root's virsh can reach the socket.
    for (const d of [home, runDir, config, join(config, 'libvirt'), cache]) chownSync(d, 65534, 65534);
    chownSync(join(config, 'libvirt', 'qemu.conf'), 65534, 65534);
  }
  const env = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    XDG_RUNTIME_DIR: runDir,
    XDG_CONFIG_HOME: config,
    XDG_CACHE_HOME: cache,
    XDG_DATA_HOME: join(home, '.local', 'share'),
    LC_ALL: 'C',
  };
  const logPath = join(home, 'libvirtd.log'); // written by the daemon's user
  const [cmd, args] = asRoot
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', LIBVIRTD, '--timeout', '0']]
    : [LIBVIRTD, ['--timeout', '0']];
  const child: ChildProcess = spawn(cmd as string, args as string[], {
    env: { ...env, LIBVIRT_LOG_OUTPUTS: `3:file:${logPath}` },
    stdio: 'ignore',
  });
  child.once('error', () => {});
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const socket = join(runDir, 'libvirt', 'libvirt-sock');
  const uri = `qemu+unix:///session?socket=${socket}`;
  const virsh = async (...a: string[]) => {
    const { stdout } = await run('virsh', ['-q', '-c', uri, ...a], { env: { ...process.env, LC_ALL: 'C' } });
    return stdout;
  };
  const qemuPids = () => {
    const pidDir = join(runDir, 'libvirt', 'qemu', 'run');
    if (!existsSync(pidDir)) return [];
    return readdirSync(pidDir)
      .filter((f) => f.endsWith('.pid') && f !== 'driver.pid')
      .map((f) => Number(readFileSync(join(pidDir, f), 'utf8').trim()))
      .filter((p) => Number.isInteger(p) && p > 0 && alive(p));
  };
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      const ids = (await virsh('list', '--uuid')).split('\n').filter(Boolean);
      for (const id of ids) await virsh('destroy', id).catch(() => {});
    } catch {
      // libvirtd already gone: the pid files below still name its QEMUs.
    }
    const left = qemuPids();
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(force);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when virsh can connect; a libvirtd that exits first failed.
  const deadline = Date.now() + 30_000;
  let failed: string | undefined;
  void exited.then(() => {
    failed = 'libvirtd exited';
  });
  for (;;) {
    if (failed || Date.now() > deadline) {
      const why = failed ?? 'no socket within 30 s';
      const text = log();
      await stop();
      throw new Error(`libvirtd did not start (${why}): ${text.slice(-2000)}`);
    }
    if (existsSync(socket)) {
      try {
        await virsh('uri');
        break;
      } catch {
        // not accepting yet
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { uri, dir, pid: child.pid!, virsh, qemuPids, log, stop };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
