/**
 * The runner's failures and cancellation on the groupft sim: a cancel (Ctrl-C) at the
 * start of every phase, and a failing step, each leave no process, no monitor socket, no
 * log and no work directory behind, and say which step and why (with Cuju's stdout line
 * when it printed one).
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  GROUP_PHASES,
  type GroupPhaseName,
  GroupRunError,
  parseGroupSpec,
  planGroup,
  runPlan,
} from '../src/index.js';
import { freePort, noneLeft, simSpec, simSpecInput, tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

async function rejection(p: Promise<unknown>): Promise<GroupRunError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GroupRunError);
    return err as GroupRunError;
  }
  throw new Error('the run succeeded');
}

describe('runPlan: cancelled in every phase, nothing is left behind', () => {
  for (const phase of GROUP_PHASES) {
    it(`Ctrl-C as ${phase} starts`, async () => {
      const d = dir();
      // epochUs adds the epoch phase: every phase of GROUP_PHASES is reached.
      const input = await simSpecInput(2, d);
      const spec = parseGroupSpec({ ...input, options: { ...input.options, epochUs: 20_000 } });
      const controller = new AbortController();
      const reached: GroupPhaseName[] = [];
      const run = runPlan(planGroup(spec), {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.type !== 'phase-start') return;
          reached.push(e.phase);
          if (e.phase === phase) controller.abort(new Error('Ctrl-C'));
        },
      });
      const err = await rejection(run);
      expect(err.code).toBe('GFT_ABORTED');
      expect(err.failure.phase).toBe(phase);
      expect(reached.at(-1)).toBe(phase);
      expect(await noneLeft(d)).toEqual([]);
      expect(existsSync(spec.options.workDir)).toBe(false);
    });
  }
});

describe('runPlan: a failing step', () => {
  it("a join port taken on the primary's host: launch-primary-1 fails (the VM aborts), everything stops", async () => {
    const d = dir();
    const spec = await simSpec(2, d);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(spec.members[1]!.primary.joinPort, '0.0.0.0', r));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const err = await rejection(runPlan(planGroup(spec)));
    expect(err.code).toBe('GFT_STEP_FAILED');
    expect(err.failure.stepId).toBe('launch-primary-1');
    expect(err.message).toContain('launch-primary-1');
    expect(await noneLeft(d)).toEqual([]);
    expect(existsSync(spec.options.workDir)).toBe(false);
  });

  it("the leader cannot reach a member: gft-init fails with Cuju's `qmp_gft_leader_init error connect to ...`", async () => {
    const d = dir();
    const spec = await simSpec(2, d);
    const plan = planGroup(spec);
    // Plans are data: member 1's row points at a port nobody listens on.
    const nobody = await freePort();
    const row = plan.phases.find((p) => p.name === 'add-hosts')!.steps[1]!;
    row.line = row.line!.replace(/^(gft_add_host2? 1 127\.0\.0\.2) \d+/, `$1 ${nobody}`);
    const err = await rejection(runPlan(plan));
    expect(err.code).toBe('GFT_STEP_FAILED');
    expect(err.failure.stepId).toBe('gft-init');
    expect(err.failure.marker).toBe(`qmp_gft_leader_init error connect to 127.0.0.2:${nobody}.`);
    expect(err.failure.vm).toBe('m0.primary');
    expect(await noneLeft(d)).toEqual([]);
    expect(existsSync(spec.options.workDir)).toBe(false);
  });
});
