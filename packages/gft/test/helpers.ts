/**
 * Group tests on cuju-sim's groupft build: specs on loopback hosts (127.0.0.2 primaries,
 * .3 backups, .4 spares), every port free, everything under one temp directory so that
 * "nothing left behind" is a look at /proc and at that directory.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GroupSpec, type GroupSpecInput, parseGroupSpec } from '../src/index.js';

/** The simulator from its sources (a stale dist/ must not be tested). */
process.env.CUJU_SIM_FROM_SOURCE = '1';
export const SIM_BIN = fileURLToPath(new URL('../../cuju-sim/bin/cuju-sim.mjs', import.meta.url));

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-gft-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const handedOut = new Set<number>();
/**
 * Test files run in parallel workers, each starting VMs that bind many ports: each worker
 * (VITEST_POOL_ID) picks from its own slice of 20000..59999, so two files never hand out
 * the same port between its check and the VM's bind.
 */
const SLICE = 5_000;
const sliceBase = 20_000 + ((Number(process.env.VITEST_POOL_ID ?? 0) || 0) % 8) * SLICE;

/** Whether `port` can be bound on every address now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/** A free TCP port on every address (groupft binds 0:port), never the same twice here. */
export async function freePort(): Promise<number> {
  for (;;) {
    const p = sliceBase + Math.floor(Math.random() * SLICE);
    if (handedOut.has(p) || !(await bindable(p))) continue;
    handedOut.add(p);
    return p;
  }
}

/** A free port P with P + 1 free too (a primary's join port whose backup binds P + 1). */
export async function freePortPair(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (handedOut.has(p + 1) || p + 1 >= sliceBase + SLICE || !(await bindable(p + 1))) continue;
    handedOut.add(p + 1);
    return p;
  }
}

/** A spec of `n` members on the groupft simulator, its files under `workDir`, with `spares` spare slots. */
export async function simSpecInput(
  n: number,
  workDir: string,
  spares = 0,
  addHost2 = true,
): Promise<GroupSpecInput> {
  const members: GroupSpecInput['members'] = [];
  for (let id = 0; id < n; id++) {
    members.push({
      id,
      mac: `ae:ae:00:00:00:${(0x21 + id).toString(16).padStart(2, '0')}`,
      ...(addHost2
        ? {
            primary: { host: 'p', joinPort: await freePort() },
            backup: { host: 'b', ftPort: await freePort(), joinPort: await freePort() },
          }
        : // gft_add_host: the backup binds the primary's join port + 1 (recv_b).
          {
            primary: { host: 'p', joinPort: await freePortPair() },
            backup: { host: 'b', ftPort: await freePort() },
          }),
    });
  }
  const spareSlots: NonNullable<GroupSpecInput['spares']> = [];
  for (let i = 0; i < spares; i++)
    spareSlots.push({ host: 's', ftPort: await freePort(), joinPort: await freePort() });
  return {
    name: `sim-${n}`,
    hosts: {
      p: { kind: 'local', address: '127.0.0.2' },
      b: { kind: 'local', address: '127.0.0.3' },
      s: { kind: 'local', address: '127.0.0.4' },
    },
    members,
    spares: spareSlots,
    options: {
      build: 'groupft',
      workDir: join(workDir, 'run'),
      binary: { path: process.execPath, args: [SIM_BIN, '-sim-build', 'groupft'] },
      timeouts: { launchMs: 60_000, protectMs: 90_000, commandMs: 20_000, stopGraceMs: 2_000 },
    },
  };
}

export async function simSpec(n: number, workDir: string, spares = 0, addHost2 = true): Promise<GroupSpec> {
  return parseGroupSpec(await simSpecInput(n, workDir, spares, addHost2));
}

/** Pids of live processes whose command line mentions `text` (the simulators and their wrappers). */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // A zombie has exited: only its parent's wait is missing.
      if (cmdline.includes(text) && !/^\d+ \(.*\) Z /.test(stat)) found.push(Number(entry));
    } catch {
      // It ended while we looked.
    }
  }
  return found;
}

/** The processes still mentioning `dir` after up to `ms` (empty when all are gone). */
export async function noneLeft(dir: string, ms = 20_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = processesMentioning(dir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}
