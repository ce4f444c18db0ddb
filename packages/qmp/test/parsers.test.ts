import { describe, expect, it } from 'vitest';
import {
  HmpOutputError,
  parseCujuFtMode,
  parseFtStarted,
  parseInfoMigrate,
  parseInfoMigrateCapabilities,
  parseInfoStatus,
  parseInfoVersion,
} from '../src/index.js';

// Cuju-format fixtures, written from QEMU 2.8's hmp.c formats and Cuju's additions as
// the reference describes them (cuju-monitor.md §2.2-§2.4, §7); they are not captures of
// a Cuju binary, which cannot run here. Upstream 7.2 output is captured from a real QEMU
// at run time in hmp-qemu.test.ts.
const CUJU_CAPS_28 = [
  'xbzrle',
  'rdma-pin-all',
  'auto-converge',
  'zero-blocks',
  'compress',
  'events',
  'postcopy-ram',
  'x-colo',
  'cuju-ft',
];

describe('parsers on Cuju (QEMU 2.8) output', () => {
  it('info migrate with the GFT STATUS line and the capabilities line', () => {
    const text =
      'GFT STATUS START\r\n' +
      `capabilities: ${CUJU_CAPS_28.map((c) => `${c}: ${c === 'cuju-ft' ? 'on' : 'off'} `).join('')}\r\n` +
      'Migration status: cancelled\r\n' +
      'total time: 1520 milliseconds\r\n' +
      'expected downtime: 300 milliseconds\r\n' +
      'setup: 4 milliseconds\r\n' +
      'transferred ram: 1234 kbytes\r\n' +
      'throughput: 0.00 mbps\r\n' +
      'dirty sync count: 2\r\n' +
      'in func qmp_query_migrate\r\n';
    const info = parseInfoMigrate(text);
    expect(info.gftStatus).toBe('START');
    expect(info.capabilities?.['cuju-ft']).toBe(true);
    expect(info.capabilities?.events).toBe(false);
    expect(Object.keys(info.capabilities ?? {})).toEqual(CUJU_CAPS_28);
    expect(info).toMatchObject({
      status: 'cancelled',
      totalTimeMs: 1520,
      expectedDowntimeMs: 300,
      setupTimeMs: 4,
    });
    expect(info.fields['transferred ram']).toBe('1234 kbytes');
    expect(info.fields['dirty sync count']).toBe('2');
    expect(info.unknownLines).toEqual(['in func qmp_query_migrate']);
  });

  it('info migrate in GFT PRE and WAIT, before any migration, and after a failure', () => {
    expect(parseInfoMigrate('GFT STATUS PRE\r\n')).toEqual({
      gftStatus: 'PRE',
      fields: {},
      unknownLines: [],
    });
    expect(parseInfoMigrate('GFT STATUS WAIT\r\n').gftStatus).toBe('WAIT');
    const failed = parseInfoMigrate('Migration status: failed (Unable to write to socket: Broken pipe)\r\n');
    expect(failed).toMatchObject({ status: 'failed', errorDesc: 'Unable to write to socket: Broken pipe' });
    expect(parseInfoMigrate('')).toEqual({ fields: {}, unknownLines: [] });
  });

  it('info migrate_capabilities with cuju-ft', () => {
    const text = `${CUJU_CAPS_28.map((c) => `${c}: ${c === 'cuju-ft' ? 'on' : 'off'}`).join('\r\n')}\r\n`;
    const { capabilities, unknownLines } = parseInfoMigrateCapabilities(text);
    expect(capabilities['cuju-ft']).toBe(true);
    expect(Object.keys(capabilities)).toEqual(CUJU_CAPS_28);
    expect(unknownLines).toEqual([]);
  });

  it('info status on a backup waiting for the primary, and after failover', () => {
    expect(parseInfoStatus('VM status: paused (inmigrate)\r\n')).toEqual({
      running: false,
      status: 'inmigrate',
      singlestep: false,
    });
    expect(parseInfoStatus('VM status: running\r\n')).toEqual({
      running: true,
      status: 'running',
      singlestep: false,
    });
    expect(parseInfoStatus('VM status: running (single step mode)\r\n')).toEqual({
      running: true,
      status: 'running',
      singlestep: true,
    });
    expect(parseInfoStatus('VM status: paused\r\n').status).toBe('paused');
  });

  it('info version in the 2.8 layouts', () => {
    expect(parseInfoVersion('2.8.1\r\n')).toEqual({ major: 2, minor: 8, micro: 1, package: '' });
    expect(parseInfoVersion('2.8.1 (Debian 1:2.8+dfsg-6)\r\n').package).toBe('Debian 1:2.8+dfsg-6');
  });

  it('cuju_ft_mode and ft_started lines', () => {
    expect(parseCujuFtMode('cuju_ft_mode: 5\r\n')).toEqual({ value: 5, name: 'recv' });
    expect(parseCujuFtMode('cuju_ft_mode: -1\r\n')).toEqual({ value: -1, name: 'error' });
    expect(parseCujuFtMode('cuju_ft_mode: 42\r\n')).toEqual({ value: 42, name: 'unknown' });
    expect(parseFtStarted('ft_started: 1\r\n')).toBe(true);
    expect(parseFtStarted('ft_started: 0\r\n')).toBe(false);
  });

  it('throws HmpOutputError with the text when the expected line is missing', () => {
    for (const [parse, text] of [
      [parseInfoStatus, "unknown command: 'info status'\r\n"],
      [parseInfoVersion, ''],
      [parseCujuFtMode, "unknown command: 'cuju-get-ft-mode'\r\n"],
      [parseFtStarted, 'ft_started: maybe\r\n'],
    ] as const) {
      let thrown: unknown;
      try {
        parse(text);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(HmpOutputError);
      expect(thrown).toMatchObject({ code: 'QMP_UNEXPECTED_OUTPUT', output: text });
    }
  });
});
