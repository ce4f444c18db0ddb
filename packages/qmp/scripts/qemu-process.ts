/**
 * Starts a real qemu-system-x86_64 for tests, benchmarks and type generation: TCG, no
 * devices, monitors on Unix sockets in a fresh temporary directory. Not part of the
 * published package.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const QEMU_BINARY = process.env.QEMU_BINARY ?? 'qemu-system-x86_64';

export interface QemuProcessOptions {
  binary?: string;
  /** 'none' (no guest at all, default) or 'pc' (a 64 MiB machine that can stop, cont and migrate). */
  machine?: 'none' | 'pc';
  /** Add a QMP monitor socket (default true). */
  qmp?: boolean;
  /** Add a readline HMP monitor socket. */
  hmp?: boolean;
  extraArgs?: string[];
}

export interface QemuProcess {
  child: ChildProcess;
  pid: number;
  dir: string;
  qmpPath: string;
  hmpPath: string;
  /** Resolves with the exit code or signal once the process has gone. */
  exited: Promise<string>;
  stderr(): string;
  /** Kills the process (SIGKILL) if still running and removes the directory. */
  stop(): Promise<void>;
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** What a caller needs to know of a child it started: when it is gone (code or signal), and what it said. */
export function watchChild(child: ChildProcess): { exited: Promise<string>; stderr: () => string } {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? String(code)));
    child.once('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  return { exited, stderr: () => stderr };
}

export function qemuAvailable(binary = QEMU_BINARY): boolean {
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startQemu(options: QemuProcessOptions = {}): Promise<QemuProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-qemu-'));
  const qmpPath = join(dir, 'qmp.sock');
  const hmpPath = join(dir, 'hmp.sock');
  const args = ['-M', options.machine ?? 'none', '-nodefaults', '-display', 'none', '-S'];
  if (options.machine === 'pc') args.push('-m', '64');
  if (options.qmp !== false) args.push('-qmp', `unix:${qmpPath},server=on,wait=off`);
  if (options.hmp) {
    args.push(
      '-chardev',
      `socket,id=hmp,path=${hmpPath},server=on,wait=off`,
      '-mon',
      'chardev=hmp,id=hmpmon,mode=readline',
    );
  }
  args.push(...(options.extraArgs ?? []));
  const child = spawn(options.binary ?? QEMU_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const { exited, stderr: stderrText } = watchChild(child);
  let gone: string | undefined;
  void exited.then((why) => {
    gone = why;
  });
  const wanted = [options.qmp !== false ? qmpPath : undefined, options.hmp ? hmpPath : undefined].filter(
    (p): p is string => p !== undefined,
  );
  // QEMU creates the socket file at bind() and listens a moment later: wait until a
  // connection is accepted (the probe hangs up at once; QEMU then serves the next client).
  const deadline = Date.now() + 10_000;
  for (const path of wanted) {
    while (!(existsSync(path) && (await accepts(path)))) {
      if (gone !== undefined)
        throw new Error(`qemu exited (${gone}) before its monitor appeared: ${stderrText().trim()}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`qemu's monitor socket ${path} did not accept within 10 s: ${stderrText().trim()}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return {
    child,
    pid: child.pid ?? -1,
    dir,
    qmpPath,
    hmpPath,
    exited,
    stderr: stderrText,
    async stop() {
      if (gone === undefined) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
