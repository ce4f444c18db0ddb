/**
 * `npm run console`: the FT service and its console on a simulated cluster: cuju-sim VMs
 * on this machine, as two hosts at 127.0.0.2 and 127.0.0.3, driven through the real
 * FtPair; the embedded SQLite store. Prints the URL; Ctrl-C stops it and every VM it
 * started.
 *
 *   npm run console -- [--port 8740] [--db /path/fts.db] [--token-env FTS_TOKEN]
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LocalHost } from '@cuju/sdk';
import { pino } from 'pino';
import { FtPairDriver, FtService, type HostInput } from '../src/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8740' },
    db: { type: 'string' },
    'token-env': { type: 'string' },
  },
});
const dir = join(tmpdir(), 'cuju-fts-console');
mkdirSync(dir, { recursive: true });
const SIM = fileURLToPath(new URL('../../cuju-sim/bin/cuju-sim.mjs', import.meta.url));
const hosts: HostInput[] = [
  { name: 'sim-a', address: '127.0.0.2', capacity: { vms: 8, memoryMiB: 8192 } },
  { name: 'sim-b', address: '127.0.0.3', capacity: { vms: 8, memoryMiB: 8192 } },
];
const driver = new FtPairDriver({
  hosts: new Map(hosts.map((h) => [h.name, new LocalHost({ address: h.address })])),
  builds: { master: { path: process.execPath, args: [SIM] } },
  runDir: join(dir, 'run'),
  stopOnClose: true,
});
const token = values['token-env'] ? process.env[values['token-env']] : undefined;
const service = await FtService.start({
  store: { kind: 'sqlite', path: values.db ?? join(dir, 'fts.db') },
  driver,
  hosts,
  listen: { host: '127.0.0.1', port: Number(values.port) },
  ...(token ? { token } : {}),
  logger: pino({ level: 'warn' }),
});
process.stdout.write(
  `Cuju FT console (simulated cluster: sim-a 127.0.0.2, sim-b 127.0.0.3; cuju-sim VMs)\n` +
    `  open ${service.url}/\n  store ${values.db ?? join(dir, 'fts.db')}\n  Ctrl-C stops the service and its VMs\n`,
);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void service.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
