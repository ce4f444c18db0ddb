import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { QmpError } from './errors.js';

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

/** Parses a QMP message; integers beyond 2^53 become exact `bigint`s instead of being rounded. */
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

/** QEMU's JSON parser refuses deeper nesting (MAX_NESTING in qobject/json-streamer.c). */
const MAX_NESTING = 1024;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses arguments QEMU could not parse, before anything is sent. QEMU answers a parse
 * error without an id, which cannot be matched to a command and ends the connection; and
 * JSON.stringify would silently turn NaN into null or drop a function, changing the
 * command. Names the JSON path of what was wrong.
 */
export function assertSendable(value: unknown, command: string): void {
  const visit = (v: unknown, path: string, depth: number): void => {
    if (depth > MAX_NESTING - 2) throw refuse(path, `nests deeper than QEMU accepts (${MAX_NESTING})`);
    switch (typeof v) {
      case 'string':
        if (LONE_SURROGATE.test(v)) throw refuse(path, 'is not well-formed Unicode (a lone surrogate)');
        return;
      case 'number':
        if (!Number.isFinite(v)) throw refuse(path, `is ${v}, which JSON cannot carry`);
        return;
      case 'function':
      case 'symbol':
        throw refuse(path, `is a ${typeof v}, which JSON cannot carry`);
      case 'object':
        if (v === null) return;
        if (Array.isArray(v)) for (const [i, item] of v.entries()) visit(item, `${path}[${i}]`, depth + 1);
        else for (const [k, item] of Object.entries(v)) visit(item, `${path}.${k}`, depth + 1);
        return;
      default:
        return;
    }
  };
  const refuse = (path: string, why: string) =>
    new QmpError('INVALID_ARGUMENT', `argument ${path} of '${command}' ${why}`);
  if (value !== undefined) visit(value, 'arguments', 0);
}
