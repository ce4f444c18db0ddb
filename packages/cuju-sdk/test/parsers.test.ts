import { describe, expect, it } from 'vitest';
import { CujuOutputError, parseCujuFtMode, parseCujuInfoMigrate, parseFtStarted } from '../src/index.js';

// Cuju's lines, as each build's hmp.c prints them (hmp.c@21f9f0b:2607-2618 for the
// cuju-get-* commands, hmp.c@d2e55fe:177-186 for the GFT STATUS line). Moved here from
// @cuju/qmp, which now knows no fork.
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
const CAPS_LINE = `capabilities: ${CAPS_28.map((c) => `${c}: ${c === 'cuju-ft' ? 'on' : 'off'} `).join('')}\r\n`;
// Cuju's FT state (MIG_STATE_ACTIVE read as cancelled): total time 0 and nothing else.
const FT_STATE = `${CAPS_LINE}Migration status: cancelled\r\ntotal time: 0 milliseconds\r\n`;

describe('cuju-get-ft-mode and cuju-get-ft-started (master)', () => {
  it('reads cuju_ft_mode: N with its name', () => {
    expect(parseCujuFtMode('cuju_ft_mode: 5\r\n')).toEqual({ value: 5, name: 'recv' });
    expect(parseCujuFtMode('cuju_ft_mode: 0\r\n')).toEqual({ value: 0, name: 'off' });
    expect(parseCujuFtMode('cuju_ft_mode: 6\r\n')).toEqual({ value: 6, name: 'handover' });
    expect(parseCujuFtMode('cuju_ft_mode: -1\r\n')).toEqual({ value: -1, name: 'error' });
    expect(parseCujuFtMode('cuju_ft_mode: 42\r\n')).toEqual({ value: 42, name: 'unknown' });
  });

  it('reads ft_started: 0|1', () => {
    expect(parseFtStarted('ft_started: 1\r\n')).toBe(true);
    expect(parseFtStarted('ft_started: 0\r\n')).toBe(false);
  });

  it.each([
    [parseCujuFtMode, "unknown command: 'cuju-get-ft-mode'\r\n", "a 'cuju_ft_mode: N' line"],
    [parseFtStarted, 'ft_started: maybe\r\n', "an 'ft_started: N' line"],
  ] as const)(
    'throws CujuOutputError with the text when the line is missing (%#)',
    (parse, text, expected) => {
      let thrown: unknown;
      try {
        parse(text);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(CujuOutputError);
      expect(thrown).toMatchObject({ code: 'CUJU_UNEXPECTED_OUTPUT', expected, output: text });
    },
  );
});

describe('info migrate per build', () => {
  it('groupft: GFT STATUS first, then the upstream lines', () => {
    expect(parseCujuInfoMigrate(`GFT STATUS PRE\r\n${FT_STATE}`, 'groupft')).toEqual({
      gftStatus: 'PRE',
      capabilities: Object.fromEntries(CAPS_28.map((c) => [c, c === 'cuju-ft'])),
      status: 'cancelled',
      totalTimeMs: 0,
      fields: {},
      unknownLines: [],
    });
    expect(parseCujuInfoMigrate('GFT STATUS WAIT\r\n', 'groupft')).toEqual({
      gftStatus: 'WAIT',
      fields: {},
      unknownLines: [],
    });
  });

  it("groupft: an answer without the GFT line is not groupft's", () => {
    expect(() => parseCujuInfoMigrate(FT_STATE, 'groupft')).toThrow(CujuOutputError);
  });

  it.each(['master', 'blk-server'] as const)(
    '%s: the upstream lines only; a GFT line there is an unknown line',
    (build) => {
      const info = parseCujuInfoMigrate(FT_STATE, build);
      expect(info).toMatchObject({ status: 'cancelled', totalTimeMs: 0, unknownLines: [] });
      expect(info).not.toHaveProperty('gftStatus');
      expect(info).not.toHaveProperty('setupTimeMs');
      expect(parseCujuInfoMigrate(`GFT STATUS PRE\r\n${FT_STATE}`, build).unknownLines).toEqual([
        'GFT STATUS PRE',
      ]);
      expect(parseCujuInfoMigrate('', build)).toEqual({ fields: {}, unknownLines: [] });
    },
  );

  it('without a build: reads a leading GFT line when there is one', () => {
    expect(parseCujuInfoMigrate(`GFT STATUS PRE\r\n${FT_STATE}`).gftStatus).toBe('PRE');
    expect(parseCujuInfoMigrate(FT_STATE)).not.toHaveProperty('gftStatus');
  });

  it('a failed migration with its reason', () => {
    const failed = parseCujuInfoMigrate(
      `${CAPS_LINE}Migration status: failed (Failed to connect socket: Connection refused)\r\ntotal time: 0 milliseconds\r\n`,
      'master',
    );
    expect(failed).toMatchObject({
      status: 'failed',
      errorDesc: 'Failed to connect socket: Connection refused',
    });
  });
});
