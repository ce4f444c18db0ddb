/**
 * What the IaaS examples (zstack.ts, openstack.ts, libvirt.ts) share: the FT service on two
 * simulated hosts with one adapter, the wait until a ticked VM is Protected and its status
 * written back, and the console served until Ctrl-C. Each example keeps what differs: its
 * IaaS, how a VM is ticked there, and where the status shows.
 */
import { join } from 'node:path';
import { LocalHost } from '@cuju/sdk';
import { simBinary } from '@cuju/sim';
import {
  FtPairDriver,
  type FtPairDriverOptions,
  FtService,
  type HostInput,
  type IaasAdapter,
  type IaasCreator,
  type VmView,
} from '@cuju/zstack-plugin';
import { pino } from 'pino';

/** The simulated cluster: two hosts on loopback. */
export const SIM_HOSTS: HostInput[] = [
  { name: 'sim-a', address: '127.0.0.2', capacity: { vms: 8, memoryMiB: 8192 } },
  { name: 'sim-b', address: '127.0.0.3', capacity: { vms: 8, memoryMiB: 8192 } },
];

export const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The FT service on SIM_HOSTS with `adapter` (which also takes the console's create form),
 * its store and VMs under `dir`; resolves once it leads.
 */
export async function startSimService(options: {
  dir: string;
  port: number;
  adapter: IaasAdapter & IaasCreator;
  backupName: FtPairDriverOptions['backupName'];
  pollMs: number;
}): Promise<FtService> {
  const service = await FtService.start({
    store: { kind: 'sqlite', path: join(options.dir, 'fts.db') },
    driver: new FtPairDriver({
      hosts: new Map(SIM_HOSTS.map((h) => [h.name, new LocalHost({ address: h.address })])),
      builds: { master: simBinary },
      runDir: join(options.dir, 'run'),
      stopOnClose: true,
      ...(options.backupName ? { backupName: options.backupName } : {}),
    }),
    hosts: SIM_HOSTS,
    adapters: [options.adapter],
    createVia: options.adapter,
    iaas: { pollMs: options.pollMs },
    listen: { host: '127.0.0.1', port: options.port },
    logger: pino({ level: 'error' }),
  });
  try {
    await service.whenLeader(AbortSignal.timeout(30_000));
  } catch (err) {
    await service.stop();
    throw err;
  }
  return service;
}

/**
 * Prints the VM's status as it changes until it is Protected and `writtenBack` (the
 * IaaS side) agrees, or 120 s pass. Returns the view, or undefined on time-out.
 */
export async function waitProtected(
  service: FtService,
  id: string,
  writtenBack: (view: VmView) => Promise<boolean>,
): Promise<VmView | undefined> {
  let last = '';
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const view = await service.api.getVm(id).catch(() => undefined);
    const state = view
      ? `${view.status.state}${view.status.reason ? ` (${view.status.reason})` : ''}`
      : 'not imported yet';
    if (state !== last) say(`service: ${id} ${state}`);
    last = state;
    if (view?.status.state === 'protected' && (await writtenBack(view))) return view;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

/** Prints the console URL; then returns at once (`once`) or at Ctrl-C / SIGTERM. */
export async function serveConsole(service: FtService, o: { once: boolean; creates: string; stops: string }) {
  say(`console: ${service.url}/  (its create form creates ${o.creates}; tick Fault tolerance)`);
  if (o.once) return;
  say(`Ctrl-C stops ${o.stops}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
