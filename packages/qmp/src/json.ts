import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { QmpArgumentError } from './errors.js';

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * JSON for QMP with exact 64-bit integers.
 *
 * QAPI has int64, uint64 and size members (memory addresses, byte counts) that can
 * exceed 2^53, where JSON.parse silently rounds. Integers outside the safe range come
 * back as `bigint`; every other number is a plain `number`. The lossless parser is only
 * used for lines that hold a number token of 16 or more digits (see mayHoldLongInteger),
 * so ordinary traffic, and long digit runs inside strings (an HMP hex dump), keep the
 * speed of JSON.parse.
 */
const INTEGER = /^-?\d+$/;

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** What may stand before a JSON number token: start, `:`, `,`, `[` or whitespace. */
function numberMayStartAfter(c: number): boolean {
  return c === 0x3a || c === 0x2c || c === 0x5b || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** What may follow the digits of a number token: end, `,`, `}`, `]`, whitespace, a fraction or exponent. */
function numberMayEndBefore(c: number): boolean {
  return (
    c === 0x2c ||
    c === 0x7d ||
    c === 0x5d ||
    c === 0x20 ||
    c === 0x09 ||
    c === 0x0a ||
    c === 0x0d ||
    c === 0x2e ||
    c === 0x65 ||
    c === 0x45
  );
}

/**
 * True when `text` may hold an integer too large for a double: a run of 16 or more
 * digits bounded like a number token. Any run of 16 digits covers one of every 16th
 * position, so only those are looked at (about n/16 reads for ordinary text). It may
 * say true for a run inside a string (the lossless parser then reads the line, exactly
 * as right), never false for a number token that needs it.
 */
export function mayHoldLongInteger(text: string): boolean {
  const n = text.length;
  for (let i = 15; i < n; i += 16) {
    if (!isDigit(text.charCodeAt(i))) continue;
    // A run of 16 digits through i covers i - 8 or i + 8: a shorter run (a timestamp)
    // is turned away after two reads.
    if (!isDigit(text.charCodeAt(i - 8)) && !(i + 8 < n && isDigit(text.charCodeAt(i + 8)))) continue;
    let s = i;
    while (s > 0 && isDigit(text.charCodeAt(s - 1))) s--;
    let e = i + 1;
    while (e < n && isDigit(text.charCodeAt(e))) e++;
    if (e - s >= 16) {
      let b = s - 1;
      if (b >= 0 && text.charCodeAt(b) === 0x2d) b--;
      if (
        (b < 0 || numberMayStartAfter(text.charCodeAt(b))) &&
        (e === n || numberMayEndBefore(text.charCodeAt(e)))
      ) {
        return true;
      }
    }
    // The next run of 16 digits starts after e, so it covers position e + 16 or later.
    i = e;
  }
  return false;
}

function parseExactNumber(source: string): number | bigint {
  const n = Number(source);
  if (Number.isSafeInteger(n) || !INTEGER.test(source)) return n;
  return BigInt(source);
}

/** Parses a QMP message; integers beyond 2^53 become exact `bigint`s instead of being rounded. */
export function parseQmpJson(text: string): unknown {
  if (!mayHoldLongInteger(text)) return JSON.parse(text);
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
  if (value === undefined) return;
  // The path is built only for an error message, from this stack of keys.
  const keys: Array<string | number> = [];
  const refuse = (why: string) =>
    new QmpArgumentError(
      `arguments${keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`,
      `of '${command}' ${why}`,
    );
  const visit = (v: unknown, depth: number): void => {
    if (depth > MAX_NESTING - 2) throw refuse(`nests deeper than QEMU accepts (${MAX_NESTING})`);
    switch (typeof v) {
      case 'string':
        if (LONE_SURROGATE.test(v)) throw refuse('is not well-formed Unicode (a lone surrogate)');
        return;
      case 'number':
        if (!Number.isFinite(v)) throw refuse(`is ${v}, which JSON cannot carry`);
        return;
      case 'function':
      case 'symbol':
        throw refuse(`is a ${typeof v}, which JSON cannot carry`);
      case 'undefined':
        // A member that is undefined is left out, as meant; in an array JSON would write null.
        if (typeof keys[keys.length - 1] === 'number')
          throw refuse('is undefined, which JSON would send as null');
        return;
      case 'object':
        if (v === null) return;
        if (
          !Array.isArray(v) &&
          !isPlainObject(v) &&
          typeof (v as { toJSON?: unknown }).toJSON !== 'function'
        ) {
          // A Map, a Set, a typed array... JSON.stringify would send {} or an index map.
          throw refuse(`is a ${v.constructor?.name ?? 'non-plain object'}, which JSON cannot carry as it is`);
        }
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) {
            keys.push(i);
            visit(v[i], depth + 1);
            keys.pop();
          }
        } else {
          for (const k in v) {
            if (!Object.hasOwn(v, k)) continue;
            keys.push(k);
            visit((v as Record<string, unknown>)[k], depth + 1);
            keys.pop();
          }
        }
        return;
      default:
        return;
    }
  };
  visit(value, 0);
}
