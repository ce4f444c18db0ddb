import { createServer } from 'node:net';

const handedOut = new Set<number>();
/** A free TCP port, never the same twice in this test process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const p = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    if (!handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
}
