import { describe, expect, it } from 'vitest';
import {
  HmpOutputError,
  parseInfoMigrate,
  parseInfoMigrateCapabilities,
  parseInfoStatus,
  parseInfoVersion,
} from '../src/index.js';

// QEMU 2.8 fixtures, written from 2.8's hmp.c formats (hmp_info_migrate and friends);
// the capability list is that of a 2.8 tree with one downstream capability appended, as
// a fork such as Cuju adds one. Upstream 7.2 output is captured from a real QEMU at run
// time in hmp-qemu.test.ts; Cuju's own lines are parsed (and tested) in @cuju/sdk.
const CAPS_28 = [
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

describe('parsers on QEMU 2.8 output', () => {
  it('info migrate with the capabilities line; a line of no known shape is kept, not dropped', () => {
    const text =
      'GFT STATUS START\r\n' +
      `capabilities: ${CAPS_28.map((c) => `${c}: ${c === 'cuju-ft' ? 'on' : 'off'} `).join('')}\r\n` +
      'Migration status: cancelled\r\n' +
      'total time: 1520 milliseconds\r\n' +
      'expected downtime: 300 milliseconds\r\n' +
      'setup: 4 milliseconds\r\n' +
      'transferred ram: 1234 kbytes\r\n' +
      'throughput: 0.00 mbps\r\n' +
      'dirty sync count: 2\r\n' +
      'in func qmp_query_migrate\r\n';
    const info = parseInfoMigrate(text);
    expect(info.capabilities?.['cuju-ft']).toBe(true);
    expect(info.capabilities?.events).toBe(false);
    expect(Object.keys(info.capabilities ?? {})).toEqual(CAPS_28);
    expect(info).toMatchObject({
      status: 'cancelled',
      totalTimeMs: 1520,
      expectedDowntimeMs: 300,
      setupTimeMs: 4,
    });
    expect(info.fields['transferred ram']).toBe('1234 kbytes');
    expect(info.fields['dirty sync count']).toBe('2');
    // A fork's own lines are not this parser's business: they stay, in order, as they came.
    expect(info.unknownLines).toEqual(['GFT STATUS START', 'in func qmp_query_migrate']);
    expect(info).not.toHaveProperty('gftStatus');
  });

  it('info migrate before any migration, and after a failure', () => {
    const failed = parseInfoMigrate('Migration status: failed (Unable to write to socket: Broken pipe)\r\n');
    expect(failed).toMatchObject({ status: 'failed', errorDesc: 'Unable to write to socket: Broken pipe' });
    expect(parseInfoMigrate('')).toEqual({ fields: {}, unknownLines: [] });
  });

  it('info migrate_capabilities, one per line', () => {
    const text = `${CAPS_28.map((c) => `${c}: ${c === 'cuju-ft' ? 'on' : 'off'}`).join('\r\n')}\r\n`;
    const { capabilities, unknownLines } = parseInfoMigrateCapabilities(text);
    expect(capabilities['cuju-ft']).toBe(true);
    expect(Object.keys(capabilities)).toEqual(CAPS_28);
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

  it('throws HmpOutputError with the text when the expected line is missing', () => {
    for (const [parse, text] of [
      [parseInfoStatus, "unknown command: 'info status'\r\n"],
      [parseInfoVersion, ''],
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
