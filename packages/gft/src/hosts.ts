/**
 * The spec's hosts as the SDK's Host objects: LocalHost for `local`, SshHost (host key
 * checked) for `ssh`. Only the hosts the group uses are opened.
 */
import { readFileSync } from 'node:fs';
import { type Host, LocalHost, SshHost } from '@cuju/sdk';
import { GftError } from './errors.js';
import type { GroupSpec, HostSpec } from './spec.js';

/** Opens a Host for one host of the spec. */
export async function openHost(spec: HostSpec): Promise<Host> {
  if (spec.kind === 'local') return new LocalHost({ address: spec.address });
  return SshHost.connect({
    host: spec.sshHost ?? spec.address,
    port: spec.port,
    username: spec.user,
    ...(spec.privateKeyPath !== undefined ? { privateKey: readFileSync(spec.privateKeyPath) } : {}),
    ...(spec.agent !== undefined ? { agent: spec.agent } : {}),
    hostKey: spec.hostKey,
    address: spec.address,
  });
}

/** Opens every host the given names refer to (each once); closes those opened when one fails. */
export async function openHosts(spec: GroupSpec, names: Iterable<string>): Promise<Map<string, Host>> {
  const hosts = new Map<string, Host>();
  try {
    for (const name of new Set(names)) {
      const h = spec.hosts[name];
      if (!h) continue;
      try {
        hosts.set(name, await openHost(h));
      } catch (err) {
        const code = (err as { code?: string }).code;
        throw new GftError(
          'GFT_HOST_FAILED',
          `host '${name}' (${h.kind} ${h.address}) could not be opened${code ? ` (${code})` : ''}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    return hosts;
  } catch (err) {
    await closeHosts(hosts);
    throw err;
  }
}

/** Closes hosts (SSH connections; a LocalHost's close is a no-op). */
export async function closeHosts(hosts: Map<string, Host>): Promise<void> {
  await Promise.allSettled([...hosts.values()].map((h) => h.close()));
}
