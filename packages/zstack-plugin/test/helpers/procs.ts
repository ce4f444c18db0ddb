/** Starting and killing real service processes (test/helpers/service-proc.ts) for the crash and HA tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./service-proc.ts', import.meta.url));

export interface ServiceProc {
  url: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<void>;
  stderr(): string;
}

export async function startServiceProc(config: unknown, timeoutMs = 60_000): Promise<ServiceProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += String(d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`service process not ready in ${timeoutMs} ms: ${err}`)),
      timeoutMs,
    );
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`service process exited before ready: ${err}`));
    });
  });
  return { ...ready, child, exited, stderr: () => err };
}

export async function kill(p: ServiceProc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  await p.exited;
}
