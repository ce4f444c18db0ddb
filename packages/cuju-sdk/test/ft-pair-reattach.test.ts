/**
 * A pair handed to another process after a failover (record() → attach()), as the `cuju`
 * CLI does between `cuju ft test-failover` and `cuju ft restart-secondary`: the new
 * secondary must not take the survivor's monitor socket.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FtPair } from '../src/index.js';
import { makePair, noneLeft } from './helpers/pair.js';
import { SIM } from './helpers/sim.js';

beforeAll(() => {
  process.env.CUJU_SIM_FROM_SOURCE = '1';
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('FtPair after a failover, attached from its record in a new process', () => {
  it.each(['restartSecondary', 'turnOff then turnOn'] as const)(
    '%s: the new secondary gets the lost primary’s monitor, the survivor keeps its own',
    async (how) => {
      const f = await makePair();
      cleanups.push(f.cleanup);
      await f.pair.up();
      await f.pair.testFailover();
      expect(f.pair.state).toBe('failed-over');
      const record = f.pair.record();
      await f.pair.detach();

      const pair = await FtPair.attach(record, { hosts: { local: f.hosts.primary }, binary: SIM });
      cleanups.push(() => pair.down().catch(() => {}));
      expect(pair.state).toBe('failed-over');
      const survivor = record.primary!.spec.monitorPath;
      if (how === 'restartSecondary') await pair.restartSecondary();
      else {
        await pair.turnOff();
        expect(pair.state).toBe('disabled');
        await pair.turnOn();
      }
      expect(pair.state).toBe('protected');
      const now = pair.record();
      expect(now.primary!.spec.monitorPath).toBe(survivor);
      expect(now.backup!.spec.monitorPath).toBe(record.vm.monitorPath);
      expect(now.backup!.spec.monitorPath).not.toBe(survivor);

      await pair.down();
      expect(pair.state).toBe('stopped');
      expect(await noneLeft(f.dir)).toEqual([]);
    },
  );
});
