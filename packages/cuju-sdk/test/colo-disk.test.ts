/**
 * COLO block replication (colo.disk: quorum + replication drivers, the secondary's NBD
 * export) on real QEMU 7.2: the guest's disk is replicated while protected, survives a
 * failover on the secondary, and a lost secondary leaves the primary with its own image
 * only; a second secondary is refused before anything starts (it needs a disk resync).
 */
import { describe, expect, it } from 'vitest';
import { COLO_DISK } from '../src/index.js';
import { coloFixtures, hasQemu, hasQemuImg, loseSecondary } from './colo-helpers.js';

const coloPair = coloFixtures();

const T = 600_000;
type Node = { 'node-name': string; drv: string };

describe.runIf(hasQemu && hasQemuImg)('FtPair engine colo with colo.disk (block replication)', () => {
  it(
    "replicates the primary's disk to the secondary over NBD; the secondary keeps the disk after a failover",
    async () => {
      const f = await coloPair({ disk: true });
      await f.pair.up();
      const primary = await f.observe(f.primaryPath);
      const backup = await f.observe(f.backupPath);
      const primaryNodes = (await primary.execute('query-named-block-nodes')) as Node[];
      expect(primaryNodes).toContainEqual(
        expect.objectContaining({ 'node-name': COLO_DISK.primaryChild, drv: 'replication' }),
      );
      const backupNodes = (await backup.execute('query-named-block-nodes')) as Node[];
      expect(backupNodes.map((n) => n.drv)).toEqual(
        expect.arrayContaining(['replication', 'quorum', 'qcow2']),
      );

      await f.pair.testFailover();
      expect(f.pair.state).toBe('failed-over');
      expect(await backup.execute('query-status')).toMatchObject({ running: true });
      const blocks = await backup.execute('query-block');
      expect(blocks.some((b) => b.inserted?.drv === 'quorum')).toBe(true);

      await expect(f.pair.restartSecondary()).rejects.toMatchObject({ code: 'CUJU_FT_PAIR_STATE' });
      expect(f.pair.state).toBe('failed-over');
    },
    T,
  );

  it(
    'a killed secondary: the primary drops the replication child and runs on its own image',
    async () => {
      const f = await coloPair({ disk: true });
      const primary = await loseSecondary(f);
      const nodes = (await primary.execute('query-named-block-nodes')) as Node[];
      expect(nodes.map((n) => n['node-name'])).not.toContain(COLO_DISK.primaryChild);
      expect(await primary.execute('query-status')).toMatchObject({ running: true });
    },
    T,
  );
});
