/**
 * After a failed or interrupted `ft up`: the pair's monitor sockets that no process
 * serves any more. FtPair stops what it started, but a VM whose launch was in flight at
 * the abort can leave its socket file (the process itself is gone). A socket is removed
 * only when nothing accepts on it (ECONNREFUSED): a live VM's monitor is never touched.
 */
import { rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';

function isStale(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Removes each path that is a Unix socket nobody accepts on. */
export async function removeStaleSockets(paths: readonly string[]): Promise<void> {
  for (const path of new Set(paths)) {
    let socket = false;
    try {
      socket = statSync(path).isSocket();
    } catch {
      continue;
    }
    if (socket && (await isStale(path))) rmSync(path, { force: true });
  }
}
