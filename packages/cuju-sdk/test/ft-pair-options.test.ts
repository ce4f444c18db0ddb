/**
 * What `new FtPair(options)` refuses, before anything is started: bad options, and the
 * backup's spec as the pair derives it from the primary's (recv.sh's `<name>r.monitor`,
 * the next tap), each named as derived when it is.
 */
import { describe, expect, it } from 'vitest';
import { CujuArgumentError, type CujuVmSpec, FtPair, type FtPairOptions, LocalHost } from '../src/index.js';

const host = new LocalHost();

function options(vm: Partial<CujuVmSpec>, extra: Partial<FtPairOptions> = {}): FtPairOptions {
  return {
    primary: host,
    backup: host,
    vm: { monitorPath: '/tmp/vm1.monitor', ...vm },
    binary: { path: '/usr/bin/qemu-system-x86_64' },
    ...extra,
  };
}

/** The CujuArgumentError `new FtPair(options)` throws. */
function refusal(o: unknown): CujuArgumentError {
  try {
    new FtPair(o as FtPairOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(CujuArgumentError);
    return err as CujuArgumentError;
  }
  throw new Error('the options were accepted');
}

/** A monitor path of exactly `bytes` bytes ending in `.monitor`. */
function monitorPath(bytes: number): string {
  return `/tmp/${'v'.repeat(bytes - '/tmp/.monitor'.length)}.monitor`;
}

describe('new FtPair() checks the backup it derives', () => {
  it("names the backup's monitor path as derived when the `r` makes it one byte too long", () => {
    const path = monitorPath(107);
    expect(Buffer.byteLength(path)).toBe(107);
    const err = refusal(options({ monitorPath: path }));
    expect(err.field).toBe('backupVm.monitorPath (derived from vm.monitorPath)');
    expect(err.message).toMatch(/at most 107 bytes .* got 108 bytes$/);
    // One byte shorter fits both, and the derived path is the `r` one.
    const pair = new FtPair(options({ monitorPath: monitorPath(106) }));
    expect(pair.backupSpec.monitorPath).toBe(monitorPath(106).replace(/\.monitor$/, 'r.monitor'));
  });

  it('names the derived QMP path and tap the same way', () => {
    const qmp = refusal(options({ qmpPath: `/tmp/${'q'.repeat(98)}.qmp` }));
    expect(qmp.field).toBe('backupVm.qmpPath (derived from vm.qmpPath)');
    const tap = refusal(options({ nic: { tap: `tap${'9'.repeat(12)}`, mac: 'ae:ae:00:00:00:25' } }));
    expect(tap.field).toBe('backupVm.nic.tap (derived from vm.nic.tap)');
  });

  it('names a backup path that was given, as given', () => {
    const err = refusal(options({}, { backupVm: { monitorPath: monitorPath(108) } }));
    expect(err.field).toBe('backupVm.monitorPath');
    // Given explicitly, a backup path replaces the derived one: a long primary path is fine then.
    expect(
      () =>
        new FtPair(
          options({ monitorPath: monitorPath(107) }, { backupVm: { monitorPath: '/tmp/b.monitor' } }),
        ),
    ).not.toThrow();
  });

  it('names the primary field first, and every other option', () => {
    expect(refusal(options({ monitorPath: monitorPath(108) })).field).toBe('vm.monitorPath');
    expect(refusal(options({ monitorPath: '/tmp/a\0b' })).field).toBe('vm.monitorPath');
    expect(refusal(null).field).toBe('options');
    expect(refusal({ ...options({}), primary: {} }).field).toBe('primary.name');
    expect(refusal({ ...options({}), binary: { path: '' } }).field).toBe('binary.path');
    expect(refusal({ ...options({}), binary: { path: 'q', args: ['a', 1] } }).field).toBe('binary.args[1]');
    expect(refusal({ ...options({}), ftPort: '4441' }).field).toBe('ftPort');
    expect(refusal({ ...options({}), timeouts: { syncMs: -1 } }).field).toBe('timeouts.syncMs');
    expect(refusal({ ...options({}), backupVm: [] }).field).toBe('backupVm');
  });
});
