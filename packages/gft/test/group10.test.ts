/**
 * Ten members (twenty simulators) reach protection across loopback hosts and go down
 * without a trace. Kept lean: one start, one look, one stop.
 */
import { existsSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { planGroup, runPlan } from '../src/index.js';
import { noneLeft, simSpec, tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('a 10-member group reaches protection and goes down', async () => {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const spec = await simSpec(10, t.dir);
  const group = await runPlan(planGroup(spec));
  cleanups.push(() => group.down());
  const status = group.status();
  expect(status.state).toBe('protected');
  expect(status.members.map((m) => m.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect(status.members.every((m) => m.backup?.markers.includes('first-commit'))).toBe(true);
  await group.down();
  expect(await noneLeft(t.dir)).toEqual([]);
  expect(existsSync(spec.options.workDir)).toBe(false);
});
