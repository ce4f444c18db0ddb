/**
 * What this process knows about VMs whose monitor must not be touched: the monitor
 * endpoints of VMs it put into FT (a new connection to those segfaults QEMU, Cuju issue
 * #13), and the group join ports of the VMs it started (a connection there aborts QEMU,
 * migration.c@d2e55fe:4149). CujuMonitor records the first from what it sends and sees;
 * FtPair records both; CujuMonitor.connect consults both before it opens anything.
 *
 * It is process-wide on purpose: the connection that would crash a VM is usually opened
 * by other code than the one that started FT (a status page, a second tool).
 */

import { checkPort, checkText } from './validate.js';

/** Keys of monitor endpoints whose VM is in FT (see monitorEndpointKey). */
const ftEndpoints = new Set<string>();
/** `host:port` of group join ports. */
const joinPorts = new Set<string>();

const joinKey = (host: unknown, port: unknown) => `${checkText('host', host)}:${checkPort('port', port)}`;

/**
 * The process-wide record of monitor endpoints in FT and of group join ports, which
 * CujuMonitor.connect and FtPair consult before they open anything (see the module comment).
 */
export const cujuFtRegistry = {
  /** The VM behind this monitor endpoint is in FT (or entering it): no new connection. */
  markFt(endpoint: string): void {
    ftEndpoints.add(checkText('endpoint', endpoint));
  },
  /** Its FT has ended (cancelled, failed over, the VM stopped). */
  clearFt(endpoint: string): void {
    ftEndpoints.delete(checkText('endpoint', endpoint));
  },
  /** Whether this process put the VM behind this endpoint into FT (and it has not ended). */
  isFt(endpoint: string): boolean {
    return ftEndpoints.has(checkText('endpoint', endpoint));
  },
  /** A VM listens for group FT control on this address (groupft binds it on every VM). */
  addJoinPort(host: string, port: number): void {
    joinPorts.add(joinKey(host, port));
  },
  /** The VM on this join port is gone. */
  removeJoinPort(host: string, port: number): void {
    joinPorts.delete(joinKey(host, port));
  },
  /** Whether a VM this process knows listens for group FT control here (never connect to it). */
  isJoinPort(host: string, port: number): boolean {
    return joinPorts.has(joinKey(host, port));
  },
  /** What is recorded, for diagnostics. */
  snapshot(): { ftEndpoints: string[]; joinPorts: string[] } {
    return { ftEndpoints: [...ftEndpoints], joinPorts: [...joinPorts] };
  },
} as const;
