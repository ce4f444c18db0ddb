/**
 * A real FT service process for the crash and HA tests: the service with the
 * DETERMINISTIC FAKE fleet driver (its world in a SQLite file shared by all processes).
 * argv[2] is a JSON config; prints one JSON line `{"url": ..., "pid": ...}` once it
 * listens; SIGTERM stops it gracefully.
 */
import { pino } from 'pino';
import { FtService, type HostInput, type StoreConfig } from '../../src/index.js';
import { FakeFleet } from './fake-fleet.js';

interface ProcConfig {
  store: StoreConfig;
  fleetPath: string;
  delayMs?: number;
  instanceId?: string;
  leaseTtlMs?: number;
  hosts: HostInput[];
  logLevel?: string;
}

const config = JSON.parse(process.argv[2]!) as ProcConfig;
const fleet = new FakeFleet({
  path: config.fleetPath,
  ...(config.delayMs ? { delayMs: config.delayMs } : {}),
});
const service = await FtService.start({
  store: config.store,
  driver: fleet,
  hosts: config.hosts,
  ...(config.instanceId ? { instanceId: config.instanceId } : {}),
  ...(config.leaseTtlMs ? { leaseTtlMs: config.leaseTtlMs } : {}),
  reconciler: { intervalMs: 100, concurrency: 4, backoff: { baseMs: 50, maxMs: 500 } },
  logger: pino({ level: config.logLevel ?? 'warn' }, pino.destination(2)),
  consoleDir: false,
});
process.stdout.write(`${JSON.stringify({ url: service.url, pid: process.pid })}\n`);
process.once('SIGTERM', () => {
  void service.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
