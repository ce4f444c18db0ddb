/**
 * COLO network comparison (colo.network: colo-compare, filter-mirror, filter-redirector,
 * filter-rewriter over a user-mode NIC) on real QEMU 7.2: the objects are in place while
 * protected, the survivor of a failover drops its redirectors to the dead primary, and a
 * primary that lost its secondary drops its comparison before it runs alone.
 */

import type { QmpClient } from '@cuju/qmp';
import { describe, expect, it } from 'vitest';
import { coloFixtures, hasQemu, loseSecondary } from './colo-helpers.js';

const coloPair = coloFixtures();

const T = 600_000;

async function objects(qmp: QmpClient): Promise<string[]> {
  const props = (await qmp.execute('qom-list', { path: '/objects' })) as Array<{ name: string }>;
  return props.map((p) => p.name);
}

describe.runIf(hasQemu)('FtPair engine colo with colo.network (colo-compare and filters)', () => {
  it(
    'protects a VM with a NIC through colo-compare; the survivor of a failover runs without its redirectors',
    async () => {
      const f = await coloPair({ network: true });
      await f.pair.up();
      const primary = await f.observe(f.primaryPath);
      const backup = await f.observe(f.backupPath);
      expect(await objects(primary)).toEqual(expect.arrayContaining(['comp0', 'm0', 'redire0', 'redire1']));
      expect(await objects(backup)).toEqual(expect.arrayContaining(['f1', 'f2', 'rew0']));
      expect((await primary.execute('query-migrate', {}, { timeoutMs: 60_000 })).status).toBe('colo');

      await f.pair.testFailover();
      expect(f.pair.state).toBe('failed-over');
      await f.until(backup, async (q) => !(await objects(q)).includes('f1'));
      expect(await objects(backup)).not.toEqual(expect.arrayContaining(['f2']));
      expect(await backup.execute('query-status')).toMatchObject({ running: true });
    },
    T,
  );

  it(
    'a killed secondary: the primary drops colo-compare and its filters and runs on',
    async () => {
      const f = await coloPair({ network: true });
      const primary = await loseSecondary(f);
      expect(await objects(primary)).not.toContain('comp0');
      expect(await objects(primary)).not.toContain('m0');
      expect(await primary.execute('query-status')).toMatchObject({ running: true });
    },
    T,
  );
});
