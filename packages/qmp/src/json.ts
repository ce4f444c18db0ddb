import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

/**
 * JSON for QMP with exact 64-bit integers.
 *
 * QAPI has int64, uint64 and size members (memory addresses, byte counts) that can
 * exceed 2^53, where JSON.parse silently rounds. Integers outside the safe range come
 * back as `bigint`; every other number is a plain `number`. The lossless parser is only
 * used for lines that contain a run of 16 or more digits, so ordinary traffic keeps the
 * speed of JSON.parse.
 */
const LONG_DIGIT_RUN = /\d{16}/;

const INTEGER = /^-?\d+$/;

function parseExactNumber(source: string): number | bigint {
  const n = Number(source);
  if (Number.isSafeInteger(n) || !INTEGER.test(source)) return n;
  return BigInt(source);
}

export function parseQmpJson(text: string): unknown {
  if (!LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  return parseLossless(text, null, parseExactNumber);
}

/** Serialises a message; bigint values are written as exact JSON integers. */
export function stringifyQmpJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    // JSON.stringify throws a TypeError on bigint; only then take the slower path.
    if (err instanceof TypeError && /BigInt/i.test(err.message)) {
      return stringifyLossless(value) ?? 'null';
    }
    throw err;
  }
}
