import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CujuBinary } from '../../src/index.js';

/** cuju-sim as the Cuju binary: `node .../cuju-sim.mjs`, the same command line Cuju takes. */
export const SIM_BIN = fileURLToPath(new URL('../../../cuju-sim/bin/cuju-sim.mjs', import.meta.url));
export const SIM: CujuBinary = { path: process.execPath, args: [SIM_BIN] };

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-sdk-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const handedOut = new Set<number>();
/** A free TCP port, never the same twice in this test process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const p = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '0.0.0.0', () => {
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
