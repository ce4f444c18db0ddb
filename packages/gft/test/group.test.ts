/**
 * A group on cuju-sim's groupft build, across loopback hosts (primaries on 127.0.0.2,
 * backups on .3, spares on .4): up to protection from the plan, a killed member's primary
 * fails the whole group over (the surviving primaries exit(-1), every backup takes over)
 * and watch() reports it, reprotect() forms a new group on the spares, and down() leaves
 * no process and no file. The same through the record, as a later process would.
 */
import { existsSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  downGroup,
  type GroupProgress,
  type GroupWatchEvent,
  groupStatus,
  planGroup,
  readGroupRecord,
  reprotect,
  runPlan,
  watchGroup,
} from '../src/index.js';
import { noneLeft, simSpec, tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('a 3-member group on the groupft sim', () => {
  it('reaches protection, fails over as a whole when a primary dies, is re-protected on the spares, and goes down without a trace', async () => {
    const d = dir();
    const spec = await simSpec(3, d, 3, false);
    const events: GroupProgress[] = [];
    const group = await runPlan(planGroup(spec), { onProgress: (e) => events.push(e) });
    cleanups.push(() => group.down());

    // Phases in the protocol's order; each step done once.
    const phases = events.filter((e) => e.type === 'phase-start').map((e) => e.phase);
    expect(phases).toEqual(['receivers', 'primaries', 'add-hosts', 'capability', 'init', 'confirm']);
    const done = events.filter((e) => e.type === 'step-done').map((e) => e.step.id);
    expect(done.filter((id) => id.startsWith('add-host-'))).toEqual([
      'add-host-0',
      'add-host-1',
      'add-host-2',
    ]);
    expect(events.at(-1)?.type).toBe('protected');

    const status = group.status();
    expect(status.state).toBe('protected');
    expect(status.members.map((m) => m.state)).toEqual(['protected', 'protected', 'protected']);
    expect(status.members[1]?.backup?.markers).toContain('first-commit');

    // The record, read back, gives the same state without a monitor.
    const record = readGroupRecord(JSON.stringify(group.record()));
    expect((await groupStatus(record)).state).toBe('protected');

    // Nothing to re-protect while the group is protected.
    await expect(reprotect(group)).rejects.toMatchObject({ code: 'GFT_STATE' });

    // Member 1's primary dies: the others exit(-1), every backup takes over.
    const seen: GroupWatchEvent[] = [];
    const watching = group.watch({ onEvent: (e) => seen.push(e) });
    process.kill(status.members[1]!.primary!.pid, 'SIGKILL');
    const report = await watching;
    expect(report.firstDeath).toMatchObject({ member: 1, role: 'primary', exit: { signal: 'SIGKILL' } });
    const survivors = report.deaths.filter((x) => x.member !== 1);
    expect(survivors.map((x) => x.exit.code).sort()).toEqual([255, 255]);
    expect(report.takeovers.map((t) => t.member).sort()).toEqual([0, 1, 2]);
    expect(report.state.state).toBe('failed-over');
    expect(seen.at(-1)?.type).toBe('group-failed-over');
    expect(seen.filter((e) => e.type === 'took-over')).toHaveLength(3);

    // Re-protection: the survivors are the primaries, new receivers on the spare host.
    const again: GroupProgress[] = [];
    await reprotect(group, { onProgress: (e) => again.push(e) });
    expect(group.generation).toBe(2);
    const after = group.status();
    expect(after.state).toBe('protected');
    for (const m of after.members) {
      expect(m.primary?.host).toBe('b');
      expect(m.backup?.host).toBe('s');
      expect(m.backup?.ip).toBe('127.0.0.4');
    }
    const lines = again.flatMap((e) => (e.type === 'step-done' && e.step.line ? [e.step.line] : []));
    expect(lines[0]).toMatch(/^gft_add_host 0 127\.0\.0\.3 \d+ ae:ae:00:00:00:21 127\.0\.0\.4 \d+$/);

    await group.down();
    expect(await noneLeft(d)).toEqual([]);
    expect(existsSync(spec.options.workDir)).toBe(false);
  });

  it('a later process finds the group from its record: status, watch, down', async () => {
    const d = dir();
    const spec = await simSpec(2, d);
    const group = await runPlan(planGroup(spec));
    cleanups.push(() => group.down());
    const record = readGroupRecord(JSON.stringify(group.record()));
    // This process lets go of its VMs: only the record knows them now.
    await group.release();
    expect((await groupStatus(record)).state).toBe('protected');
    const watching = watchGroup(record);
    process.kill(record.vms.find((v) => v.key === 'm0.primary')!.pid, 'SIGKILL');
    const report = await watching;
    expect(report.firstDeath.key).toBe('m0.primary');
    expect(report.state.state).toBe('failed-over');
    // This spec has no spare slots: re-protection is refused, the survivors run on.
    await expect(reprotect(record)).rejects.toMatchObject({ code: 'GFT_NO_SPARES' });
    expect((await groupStatus(record)).state).toBe('failed-over');
    await downGroup(record);
    expect(await noneLeft(d)).toEqual([]);
    expect(readdirSync(spec.options.workDir)).toEqual([]);
  });
});
