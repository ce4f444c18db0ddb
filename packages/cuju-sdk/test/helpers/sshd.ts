/**
 * sshd for tests: the loopback sshd starter (scripts/lib/loopback-sshd.ts, shared with the
 * demo and the benchmarks), whether a missing sshd skips or fails, and process helpers.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { SSHD } from '../../../../scripts/lib/loopback-sshd.js';

export {
  descendants,
  freePort,
  killQuietly,
  SSHD,
  type Sshd,
  startSshd,
} from '../../../../scripts/lib/loopback-sshd.js';

/**
 * Whether sshd can be used. With CUJU_REQUIRE_PEERS=1 (CI) a missing sshd throws, which
 * fails the test file at load; otherwise its tests are skipped and say why.
 */
export function requireSshd(): boolean {
  const install = 'run scripts/install-peers.sh (apt-get install openssh-server)';
  if (existsSync(SSHD)) return true;
  if (process.env.CUJU_REQUIRE_PEERS === '1') {
    throw new Error(`required peer sshd (${SSHD}) is missing (CUJU_REQUIRE_PEERS=1): ${install}`);
  }
  console.warn(`skipping tests that need sshd (${SSHD}): ${install}`);
  return false;
}

/** Whether a process exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Reads from a stream until `marker` has arrived; returns all text so far. */
export function readUntil(stream: Duplex, marker: string, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`no ${JSON.stringify(marker)} within ${ms} ms; got ${JSON.stringify(text)}`));
    }, ms);
    const onData = (b: Buffer) => {
      text += b.toString('utf8');
      if (text.includes(marker)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(text);
      }
    };
    stream.on('data', onData);
  });
}

/** Pids of live processes whose command line contains `text` (e.g. a test's temp dir). */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(text) && alive(Number(entry))) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/**
 * `count` shell scripts that each start a background `sleep N` and then sleep N in the
 * foreground, N a duration no other test uses at the same time (picked at random among
 * 10,000 and unique within this call), so that `running()` finds exactly their processes
 * (the shell is `sh -c SCRIPT`, whose command line holds `sleep N`, and the two sleeps).
 */
export function sleepers(count: number): Array<{ script: string; running: () => number[] }> {
  const base = 20_000 + Math.floor(Math.random() * 10_000) * 10;
  return Array.from({ length: count }, (_, i) => {
    const seconds = base + i;
    return {
      script: `sleep ${seconds} & sleep ${seconds}; wait`,
      running: () => processesMentioning(`sleep ${seconds}`).concat(processesMentioning(`sleep\0${seconds}`)),
    };
  });
}
