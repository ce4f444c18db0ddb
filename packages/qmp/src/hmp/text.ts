import type { TextPosition } from '../errors.js';

/**
 * What QEMU's readline monitor does with each byte it is sent (util/readline.c,
 * readline_handle_byte, QEMU 7.2; the same table in Cuju's 2.8), read one byte at a time
 * from the socket (monitor_read passes `uint8_t` bytes):
 *
 * - 0x0A, 0x0D end the line and run it;
 * - other C0 bytes (0x00-0x1F) are editing keys (^A, ^D, ^E, TAB completion, ^L, ^W,
 *   backspace 0x08) or are dropped; ESC (0x1B) starts an escape sequence that eats the
 *   bytes after it (ESC [ A recalls the previous command);
 * - DEL (0x7F) is backspace;
 * - 0x9B is CSI, the one-byte form of ESC [: the bytes after it are read as a cursor or
 *   history key. It is also a UTF-8 continuation byte, so an ordinary letter carries it:
 *   `ě` is C4 9B, and `info xěA` types `info x`, a stray 0xC4, then CSI A, which recalls
 *   and reruns the previous command;
 * - every other byte, 0x20-0x7E and 0x80-0xFF except 0x9B, is inserted as typed.
 *
 * So a line reaches QEMU as written only when none of its UTF-8 bytes is below 0x20,
 * 0x7F or 0x9B. On top of that this package refuses the C1 control characters
 * U+0080-U+009F (which readline would insert, but which are control characters and mean
 * nothing in a command) and lone surrogates (which have no UTF-8 form and would be sent
 * as U+FFFD).
 */
export interface ReadlineHazard extends TextPosition {
  /** What is there, for the message: `U+001B (ESC)`, `'ě' (U+011B, UTF-8 C4 9B)`. */
  what: string;
  /** Why it cannot be sent. */
  why: string;
}

const C0_NAMES: Record<number, string> = {
  0: 'NUL',
  8: 'BS',
  9: 'TAB',
  10: 'LF',
  13: 'CR',
  27: 'ESC',
  127: 'DEL',
};

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
const codePoint = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

function utf8Bytes(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/** The first character of `text` that would not reach QEMU's readline as written, or undefined. */
export function findReadlineHazard(text: string): ReadlineHazard | undefined {
  if (PRINTABLE_ASCII.test(text)) return undefined;
  let byte = 0;
  for (let index = 0; index < text.length; ) {
    const cp = text.codePointAt(index)!;
    const units = cp > 0xffff ? 2 : 1;
    const at = { index, byte };
    if (cp >= 0xd800 && cp <= 0xdfff) {
      return {
        ...at,
        what: `a lone surrogate (${codePoint(cp)})`,
        why: 'is not well-formed Unicode and has no UTF-8 form (it would be sent as U+FFFD)',
      };
    }
    if (cp < 0x20 || cp === 0x7f) {
      const name = C0_NAMES[cp];
      return {
        ...at,
        what: `${codePoint(cp)}${name ? ` (${name})` : ''}`,
        why:
          cp === 0x0a || cp === 0x0d
            ? "ends the line early, and QEMU's readline would run what follows as another command"
            : cp === 0x1b
              ? "starts an escape sequence in QEMU's readline (ESC [ A recalls and reruns the previous command)"
              : "is an editing key or is dropped in QEMU's readline, so the line would not arrive as written",
      };
    }
    if (cp >= 0x80 && cp <= 0x9f) {
      return {
        ...at,
        what: `the C1 control character ${codePoint(cp)}`,
        why: 'is a control character, not text',
      };
    }
    const bytes = utf8Bytes(cp);
    if (bytes.includes(0x9b)) {
      return {
        ...at,
        what: `${JSON.stringify(String.fromCodePoint(cp))} (${codePoint(cp)}, UTF-8 ${bytes.map(hex).join(' ')})`,
        why: "holds the byte 0x9B, which QEMU's readline takes for CSI (ESC [) and reads the bytes after it as a cursor or history key (CSI A reruns the previous command)",
      };
    }
    byte += bytes.length;
    index += units;
  }
  return undefined;
}

/** Describes a hazard's place for a message: `at index 6 (byte 7)`. */
export function describePosition(p: TextPosition): string {
  return p.index === p.byte ? `at index ${p.index}` : `at index ${p.index} (byte ${p.byte})`;
}
