/**
 * Runs one suite in a fresh process, as `npm run bench -- <suite>` would, and returns its
 * JSON lines. Progress notes pass through to this process's stderr.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../run.ts', import.meta.url));

export function runSuiteProcess(suite: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    // process.execArgv carries tsx's loader, so the child runs TypeScript the same way.
    const child = spawn(process.execPath, [...process.execArgv, RUN, suite], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout }));
  });
}
