/**
 * The seeds' way of talking to HMP: `echo "CMD" | nc -U vm1.monitor`, one shell, one nc
 * and one connection per command (without the seeds' `sudo`, which would only add a
 * process). `runSeedOnce` spawns one command from Node and watches it from outside (when
 * the answer is complete on nc's stdout, and when the shell exits); `runSeedLoopInBash`
 * runs many from one bash loop, as a seed script would.
 */
import { spawn } from 'node:child_process';

export interface SeedVariant {
  /** Label in the JSON lines. */
  name: string;
  /** nc flags before `-U`; empty for the seeds' exact command. */
  flags: string;
  /**
   * How long a run may go on after its answer arrived before it is killed. nc exits only
   * when QEMU closes the connection or its own -q timer fires, and QEMU closes only once
   * nc shuts down its sending side, so without -N/-q a run would never end on its own.
   */
  graceMs: number;
}

export interface SeedRun {
  /** Spawn to the moment nc's stdout held the whole answer (output, then a prompt), ms. */
  answerMs: number | undefined;
  /** Spawn to the shell's exit with all of stdout read, ms; undefined when it had to be killed. */
  exitMs: number | undefined;
  /** Whether stdout carried `VM status` at all. */
  answered: boolean;
}

/** A run that never answers is killed after this long, so a stuck nc cannot stall the suite. */
const DEADLINE_MS = 5000;

/** Kills the process group a detached child leads (the shell and its nc). */
function killGroup(pid: number | undefined): void {
  try {
    if (pid !== undefined) process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone: nothing to do.
  }
}

export function seedCommand(variant: SeedVariant, path: string): string {
  const flags = variant.flags ? `${variant.flags} ` : '';
  return `echo "info status" | nc ${flags}-U ${path}`;
}

/** True once `out` holds the command's output followed by the next prompt. */
function isCompleteAnswer(out: string): boolean {
  const status = out.indexOf('VM status');
  return status !== -1 && out.endsWith('(qemu) ') && out.lastIndexOf('(qemu) ') > status;
}

/**
 * Runs the command once and resolves when the shell and nc are both gone. The shell
 * leads its own process group, so a kill reaches nc too; resolving on 'close' (all
 * stdout readers gone) rather than 'exit' means nc's socket is closed by then.
 */
export function runSeedOnce(variant: SeedVariant, path: string): Promise<SeedRun> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('sh', ['-c', seedCommand(variant, path)], {
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    });
    let out = '';
    let answerMs: number | undefined;
    let killed = false;
    const kill = () => {
      killed = true;
      killGroup(child.pid);
    };
    let timer = setTimeout(kill, DEADLINE_MS);
    child.stdout.setEncoding('latin1').on('data', (s: string) => {
      out += s;
      if (answerMs === undefined && isCompleteAnswer(out)) {
        answerMs = performance.now() - start;
        clearTimeout(timer);
        timer = setTimeout(kill, variant.graceMs);
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', () => {
      const exitMs = killed ? undefined : performance.now() - start;
      clearTimeout(timer);
      resolve({ answerMs, exitMs, answered: out.includes('VM status') });
    });
  });
}

/** $1: the command, $2: how many times. Prints `start end ok` per run. */
const BASH_LOOP = `
for ((i = 0; i < $2; i++)); do
  t0=$EPOCHREALTIME
  out=$(eval "$1")
  t1=$EPOCHREALTIME
  case $out in *"VM status"*) ok=1 ;; *) ok=0 ;; esac
  echo "$t0 $t1 $ok"
done`;

/**
 * The seeds run their nc lines from bash, not from Node, and a shell forks far more
 * cheaply than Node spawns. This runs `n` commands in one bash loop that timestamps each
 * with $EPOCHREALTIME (a builtin, so timing adds no process) and captures the output with
 * `$(...)` as a script reading the answer would. Only the time to exit is observable.
 */
export function runSeedLoopInBash(variant: SeedVariant, path: string, n: number): Promise<SeedRun[]> {
  return new Promise((resolve, reject) => {
    // C locale: $EPOCHREALTIME uses the locale's decimal separator.
    const child = spawn('bash', ['-c', BASH_LOOP, 'seed-loop', seedCommand(variant, path), String(n)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LC_ALL: 'C' },
      detached: true,
    });
    // A variant that stops exiting on its own would hang the loop; kill it and its nc.
    const timer = setTimeout(() => killGroup(child.pid), DEADLINE_MS + n * 1000);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`bash seed loop ended with ${signal ?? code}`));
      else resolve(out.trim().split('\n').map(parseLoopLine));
    });
  });
}

function parseLoopLine(line: string): SeedRun {
  const [t0, t1, ok] = line.split(' ');
  return { answerMs: undefined, exitMs: (Number(t1) - Number(t0)) * 1000, answered: ok === '1' };
}
