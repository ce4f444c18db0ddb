/** The simulated cluster for end-to-end tests: cuju-sim on LocalHost, hosts 127.0.0.2 and .3. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CujuBinary, LocalHost } from '@cuju/sdk';
import { pino } from 'pino';
import { FtPairDriver, type FtPairDriverOptions, FtService, type HostInput } from '../../src/index.js';

export const SIM_BIN = fileURLToPath(new URL('../../../cuju-sim/bin/cuju-sim.mjs', import.meta.url));
export const SIM: CujuBinary = { path: process.execPath, args: [SIM_BIN] };

export const SIM_HOSTS: HostInput[] = [
  { name: 'sim-a', address: '127.0.0.2', capacity: { vms: 16, memoryMiB: 16_384 } },
  { name: 'sim-b', address: '127.0.0.3', capacity: { vms: 16, memoryMiB: 16_384 } },
];

/**
 * The FtPair driver over cuju-sim, stopping its VMs when closed (nothing left behind)
 * unless `stopOnClose` is false (a restart of the service that must find them again).
 */
export function simDriver(
  runDir: string,
  stopOnClose = true,
  extra: Pick<FtPairDriverOptions, 'backupName'> = {},
): FtPairDriver {
  // The simulator runs from its sources (a stale dist/ must not be tested).
  process.env.CUJU_SIM_FROM_SOURCE = '1';
  return new FtPairDriver({
    hosts: new Map(SIM_HOSTS.map((h) => [h.name, new LocalHost({ address: h.address })])),
    builds: { master: SIM },
    runDir,
    stopOnClose,
    timeouts: { launchMs: 30_000, syncMs: 30_000, failoverMs: 15_000 },
    ...extra,
  });
}

/**
 * Pids of cuju-sim processes whose command line mentions `dir`: the simulators themselves
 * (their command line starts with node), not the SDK's shell wrapper around each VM.
 */
export function simProcessesIn(dir: string): number[] {
  try {
    const pattern = `^${process.execPath} .*cuju-sim.*${join(dir)}`;
    const out = execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
    return out.split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The service on the simulated cluster (embedded store in `dir`), leading; the console from
 * `consoleDir`. Its stop() stops the VMs too, unless `keepVms` (then they run on).
 */
export async function startSimService(
  dir: string,
  consoleDir: string | false = false,
  options: { keepVms?: boolean } = {},
): Promise<FtService> {
  const service = await FtService.start({
    store: { kind: 'sqlite', path: join(dir, 'fts.db') },
    driver: simDriver(join(dir, 'run'), options.keepVms !== true),
    hosts: SIM_HOSTS,
    reconciler: { intervalMs: 200 },
    logger: pino({ level: process.env.FTS_TEST_LOG ?? 'silent' }),
    consoleDir,
  });
  await service.whenLeader();
  return service;
}
