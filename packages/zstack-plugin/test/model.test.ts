import { describe, expect, it } from 'vitest';
import { CreateVm, FtIntentInput, FtServiceError, FtStatus, PairRecord, parseAt } from '../src/index.js';

function refusal(fn: () => unknown): FtServiceError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FtServiceError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('model', () => {
  it('fills the defaults of the create form: FT off, cuju master, auto re-protect, 256 MiB', () => {
    const vm = parseAt(CreateVm, { name: 'web 1', ft: { enabled: true } }, 'body');
    expect(vm).toEqual({
      name: 'web 1',
      memoryMiB: 256,
      ft: {
        enabled: true,
        engine: 'cuju',
        build: 'master',
        placement: { allowedHosts: [], excludedHosts: [] },
        reprotect: 'auto',
      },
    });
    expect(parseAt(CreateVm, { name: 'db' }, 'body').ft.enabled).toBe(false);
  });

  it('names the bad field, as the caller wrote it, and does not echo the value', () => {
    const e1 = refusal(() =>
      parseAt(
        CreateVm,
        { name: 'x', ft: { enabled: true, placement: { allowedHosts: ['ok', 'BAD HOST'] } } },
        'body',
      ),
    );
    expect(e1.code).toBe('FTS_INVALID_INPUT');
    expect(e1.field).toBe('body.ft.placement.allowedHosts[1]');
    expect(e1.message).not.toContain('BAD HOST');
    const e2 = refusal(() => parseAt(FtIntentInput, { enabled: true, epochUs: 10 }, 'body'));
    expect(e2.field).toBe('body.epochUs');
    const e3 = refusal(() => parseAt(FtIntentInput, { enabled: true, engine: 'vmware' }, 'body'));
    expect(e3.field).toBe('body.engine');
    const e4 = refusal(() => parseAt(CreateVm, { name: 'a', colour: 'red' }, 'body'));
    expect(e4.code).toBe('FTS_INVALID_INPUT');
    expect(e4.message).toMatch(/colour/);
    const e5 = refusal(() => parseAt(CreateVm, { name: '../../etc' }, 'body'));
    expect(e5.field).toBe('body.name');
  });

  it("uses vSphere's status words and refuses any other", () => {
    const base = { vmId: 'vm1', figures: {}, lastChangeAt: new Date().toISOString(), observedGeneration: 1 };
    for (const state of [
      'disabled',
      'starting',
      'protected',
      'not-protected',
      'failing-over',
      'failed-over',
    ]) {
      expect(FtStatus.safeParse({ ...base, state }).success).toBe(true);
    }
    expect(FtStatus.safeParse({ ...base, state: 'running' }).success).toBe(false);
    expect(FtStatus.safeParse({ ...base, state: 'not-protected', reason: 'because' }).success).toBe(false);
  });

  it('round-trips a pair record through JSON', () => {
    const record = PairRecord.parse({
      version: 1,
      driver: 'ftpair',
      vmId: 'vm1',
      engine: 'cuju',
      build: 'master',
      state: 'protected',
      primary: { host: 'a', monitorPath: '/run/x/primary.monitor', pid: 42 },
      secondary: { host: 'b' },
      ftPort: 4441,
    });
    expect(PairRecord.parse(JSON.parse(JSON.stringify(record)))).toEqual(record);
    expect(PairRecord.safeParse({ ...record, version: 2 }).success).toBe(false);
  });
});
