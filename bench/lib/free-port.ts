import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago: the kernel's pick for a listener on port 0 of
 * 0.0.0.0, closed again before returning. Another process could take it in between;
 * on a bench machine nothing else is allocating ports.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
