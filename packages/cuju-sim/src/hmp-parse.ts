/**
 * HMP command-line parsing as QEMU 2.8 does it: monitor_parse_command(),
 * monitor_parse_arguments(), get_str() and the get_expr() expression parser, all in
 * monitor.c. Read at QEMU 2.8.1 (0x88888888/qemu-2.8.1 @102352e, an upstream 2.8.1 tree)
 * and cross-checked with Cuju's own table (hmp-table.ts).
 *
 * The C code works on bytes of a NUL-terminated string, and so does this module: the
 * line is UTF-8 encoded and cut at its first NUL, limits (get_str's 1024-byte buffer,
 * the 256-byte command name) are in bytes, and `isspace`/`isgraph` are the C-locale ones.
 *
 * Error outputs are the exact monitor text, lines ending in "\n" (the monitor adds the
 * "\r"). get_str() reports quoting errors with printf(), i.e. on QEMU's stdout, not on
 * the monitor; those are returned separately as `stdout`.
 */
import { compareCmd, type HmpCommandDef, sortHmpTable } from './hmp-table.js';

export type HmpArgValue = string | number | boolean;
export type HmpArgs = Record<string, HmpArgValue>;

export type ParsedHmp =
  /** Blank line: QEMU prints nothing (not even an error). */
  | { kind: 'empty' }
  /**
   * A top-level command. `name` is the canonical (long) alias: `c` gives 'cont'. Flags
   * (`-d`) appear as `true` only when given; absent optionals are absent, as in QEMU's QDict.
   * `info` without a subcommand is `{ name: 'info', args: {} }` (QEMU then prints `help info`).
   */
  | { kind: 'command'; name: string; args: HmpArgs }
  /** `info ITEM`: `item` is the subcommand name from hmp-commands-info.hx. */
  | { kind: 'info'; item: string; args: HmpArgs }
  /** `output`: exact monitor text. `stdout`: what QEMU printed on its own stdout, if anything. */
  | { kind: 'error'; output: string; stdout?: string };

const NUL = 0;
const SLASH = 0x2f;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
const DASH = 0x2d;

/** C-locale isspace(): space, \t \n \v \f \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** C-locale isgraph(). */
function isGraph(c: number): boolean {
  return c > 0x20 && c < 0x7f;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toCString(line: string): Uint8Array {
  const bytes = encoder.encode(line);
  const nul = bytes.indexOf(NUL);
  return nul < 0 ? bytes : bytes.subarray(0, nul);
}

function at(b: Uint8Array, i: number): number {
  return b[i] ?? NUL;
}

function text(b: Uint8Array, from: number, to: number): string {
  return decoder.decode(b.subarray(from, to));
}

/** printf("%c") of one byte, as a string. */
function charOf(c: number): string {
  return c < 0x80 ? String.fromCharCode(c) : decoder.decode(Uint8Array.of(c));
}

/**
 * monitor_printf() formats with g_strdup_vprintf() and then monitor_puts() stops at the
 * first NUL: a "%c" of '\0' silently drops the rest of that message, newline included.
 */
function monitorText(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

// ---------------------------------------------------------------- get_str()

type StrResult = { ok: true; value: string; p: number } | { ok: false; p: number; stdout?: string };

/** get_str()'s escapes: \n \r \\ \' \" and nothing else. */
const ESCAPES = new Map<number, number>([
  [0x6e, 0x0a],
  [0x72, 0x0d],
  [BACKSLASH, BACKSLASH],
  [SQUOTE, SQUOTE],
  [DQUOTE, DQUOTE],
]);

/** get_str()'s `char buf[1024]`: longer strings are silently cut to 1023 bytes. */
const STR_BUF_SIZE = 1024;

/**
 * get_str(): one unquoted token up to whitespace, or a double-quoted string with the
 * escapes \n \r \\ \' \". A token only *starting* with '"' is quoted; `a"b` is literal.
 */
function getStr(b: Uint8Array, start: number): StrResult {
  let p = start;
  const out: number[] = [];
  const put = (c: number): void => {
    if (out.length < STR_BUF_SIZE - 1) out.push(c);
  };
  while (isSpace(at(b, p))) p++;
  if (at(b, p) === NUL) return { ok: false, p };
  if (at(b, p) === DQUOTE) {
    p++;
    while (at(b, p) !== NUL && at(b, p) !== DQUOTE) {
      if (at(b, p) !== BACKSLASH) {
        put(at(b, p));
        p++;
        continue;
      }
      p++;
      const c = at(b, p);
      p++;
      const mapped = ESCAPES.get(c);
      if (mapped === undefined) {
        // printf() on stdout; for a trailing backslash c is '\0' and printf writes the NUL.
        return { ok: false, p, stdout: `unsupported escape code: '\\${charOf(c)}'\n` };
      }
      put(mapped);
    }
    if (at(b, p) !== DQUOTE) return { ok: false, p, stdout: 'unterminated string\n' };
    p++;
  } else {
    while (at(b, p) !== NUL && !isSpace(at(b, p))) {
      put(at(b, p));
      p++;
    }
  }
  return { ok: true, value: decoder.decode(Uint8Array.from(out)), p };
}

// ---------------------------------------------------------------- get_expr()

class ExprError {
  constructor(readonly message: string) {}
}

const U64_MAX = (1n << 64n) - 1n;
const i64 = (v: bigint): bigint => BigInt.asIntN(64, v);

function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return 99;
}

/**
 * glibc strtoull(s, &end, 0) as get_expr uses it: "0x" + hex digit is hex, a leading '0'
 * is octal ("08" parses as 0 and stops at '8'), otherwise decimal. `end === p` when no
 * digit was read.
 */
function strtoull(b: Uint8Array, p: number): { value: bigint; end: number; overflow: boolean } {
  let i = p;
  let base = 10n;
  if (at(b, i) === 0x30) {
    if ((at(b, i + 1) | 0x20) === 0x78 && digitValue(at(b, i + 2)) < 16) {
      base = 16n;
      i += 2;
    } else {
      base = 8n;
    }
  }
  let value = 0n;
  const digitsStart = i;
  while (BigInt(digitValue(at(b, i))) < base) {
    value = value * base + BigInt(digitValue(at(b, i)));
    i++;
  }
  return { value, end: i === digitsStart ? p : i, overflow: value > U64_MAX };
}

/** Binary operator levels: expr_sum (+ -) < expr_logic (& | ^) < expr_prod (* / %). */
const LEVEL = new Map<number, number>([
  [0x2b, 0],
  [DASH, 0],
  [0x26, 1],
  [0x7c, 1],
  [0x5e, 1],
  [0x2a, 2],
  [SLASH, 2],
  [0x25, 2],
]);

/**
 * get_expr() with expr_sum/expr_logic/expr_prod/expr_unary: int64 arithmetic, precedence
 * unary > * / % > & | ^ > + -, and whitespace skipped after every token (so
 * "1000 * 5" is one expression, and "5 -3" is 2). Errors are expr_error() texts.
 */
function getExpr(
  b: Uint8Array,
  start: number,
): { ok: true; value: bigint; p: number } | { ok: false; error: string } {
  let pch = start;
  const cur = (): number => at(b, pch);
  const skipSpaces = (): void => {
    while (isSpace(cur())) pch++;
  };
  const next = (): void => {
    if (cur() !== NUL) {
      pch++;
      skipSpaces();
    }
  };
  const fail = (message: string): never => {
    throw new ExprError(message);
  };

  const unary = (): bigint => {
    const c = cur();
    if (c === 0x2b) {
      next();
      return unary();
    }
    if (c === DASH) {
      next();
      return i64(-unary());
    }
    if (c === 0x7e) {
      next();
      return i64(~unary());
    }
    if (c === 0x28) {
      next();
      const n = sum();
      if (cur() !== 0x29) fail("')' expected");
      next();
      return n;
    }
    if (c === SQUOTE) {
      pch++;
      if (cur() === NUL) fail('character constant expected');
      // `n = *pch` with a signed char.
      const n = BigInt(cur() >= 0x80 ? cur() - 0x100 : cur());
      pch++;
      if (cur() !== SQUOTE) fail("missing terminating ' character");
      next();
      return n;
    }
    if (c === 0x24) {
      // `$reg`: a CPU register. cuju-sim has no CPU state, so every name is unknown
      // (real x86 QEMU knows $eax, $pc, ...). Deliberate deviation.
      pch++;
      while (/[A-Za-z0-9_.]/.test(String.fromCharCode(cur()))) pch++;
      skipSpaces();
      return fail('unknown register');
    }
    if (c === NUL) return fail('unexpected end of expression');
    const { value, end, overflow } = strtoull(b, pch);
    if (overflow) fail('number too large');
    if (end === pch) fail(`invalid char '${charOf(c)}' in expression`);
    pch = end;
    skipSpaces();
    return i64(value);
  };

  /**
   * expr_sum / expr_logic / expr_prod as one precedence-climbing loop: the same left
   * associativity and the same moment of evaluation (an operation is applied as soon as
   * its right operand is parsed, so "1/0 x" reports the division), with two JS frames
   * per parenthesis instead of four, so a 4095-byte readline line cannot overflow.
   */
  const binary = (minLevel: number): bigint => {
    let val = unary();
    for (;;) {
      const op = cur();
      const level = LEVEL.get(op);
      if (level === undefined || level < minLevel) return val;
      next();
      const val2 = binary(level + 1);
      val = apply(op, val, val2);
    }
  };
  const sum = (): bigint => binary(0);

  const apply = (op: number, a: bigint, b: bigint): bigint => {
    switch (op) {
      case 0x2b:
        return i64(a + b);
      case DASH:
        return i64(a - b);
      case 0x26:
        return a & b;
      case 0x7c:
        return a | b;
      case 0x5e:
        return a ^ b;
      case 0x2a:
        return i64(a * b);
      default:
        if (b === 0n) fail('division by zero');
        // C truncates toward zero like BigInt. INT64_MIN / -1 traps (SIGFPE) in QEMU;
        // here it wraps. Deliberate deviation: crashing the simulator helps nobody.
        return i64(op === SLASH ? a / b : a % b);
    }
  };

  skipSpaces();
  try {
    const value = sum();
    return { ok: true, value, p: pch };
  } catch (e) {
    if (e instanceof ExprError) return { ok: false, error: `${e.message}\n` };
    // Deeper nesting than a readline line (4095 bytes) can hold: QEMU's C stack would
    // cope, ours may not. cuju-sim's own text, never seen from QEMU.
    if (e instanceof RangeError) return { ok: false, error: 'cuju-sim: expression nested too deeply\n' };
    throw e;
  }
}

// ---------------------------------------------------------------- monitor_parse_arguments()

type ArgsResult = { ok: true; args: HmpArgs } | { ok: false; output: string; stdout?: string };

/**
 * monitor_parse_arguments() for the types cuju-sim's table uses: s F B (string), S (rest
 * of line), i l M (expression), b (on|off), -x (flag), with optional '?' ('.' for i/l/M).
 */
function parseArguments(def: HmpCommandDef, b: Uint8Array, start: number): ArgsResult {
  const ts = def.argsType;
  const args: HmpArgs = {};
  const fail = (output: string, stdout?: string): ArgsResult =>
    stdout === undefined ? { ok: false, output } : { ok: false, output, stdout };
  let t = 0;
  let p = start;
  const skipSpaces = (): void => {
    while (isSpace(at(b, p))) p++;
  };

  for (;;) {
    // key_get_info()
    if (ts[t] === ',') t++;
    const colon = ts.indexOf(':', t);
    if (colon < 0) break;
    const key = ts.slice(t, colon);
    t = colon + 1;
    const c = ts[t] ?? '';
    t++;

    switch (c) {
      case 's':
      case 'F':
      case 'B': {
        skipSpaces();
        if (ts[t] === '?') {
          t++;
          if (at(b, p) === NUL) break;
        }
        const r = getStr(b, p);
        if (!r.ok) {
          const what = c === 'F' ? 'filename' : c === 'B' ? 'block device name' : 'string';
          return fail(`${def.name}: ${what} expected\n`, r.stdout);
        }
        args[key] = r.value;
        p = r.p;
        break;
      }
      case 'i':
      case 'l':
      case 'M': {
        skipSpaces();
        if (ts[t] === '?' || ts[t] === '.') {
          if (ts[t] === '?') {
            if (at(b, p) === NUL) {
              t++;
              break;
            }
          } else if (at(b, p) === 0x2e) {
            p++;
            skipSpaces();
          } else {
            t++;
            break;
          }
          t++;
        }
        const r = getExpr(b, p);
        if (!r.ok) return fail(r.error);
        let val = r.value;
        // `(val >> 32) & 0xffffffff` on an int64: anything outside 0..0xffffffff,
        // negative numbers included, is refused for 'i'.
        if (c === 'i' && ((val >> 32n) & 0xffffffffn) !== 0n) {
          return fail(`'${def.name}' has failed: integer is for 32-bit values\n`);
        }
        if (c === 'M') {
          if (val < 0n) return fail('enter a positive value\n');
          val = i64(val << 20n);
        }
        args[key] = Number(val);
        p = r.p;
        break;
      }
      case 'b': {
        skipSpaces();
        const beg = p;
        while (isGraph(at(b, p))) p++;
        const word = text(b, beg, p);
        if (word !== 'on' && word !== 'off') return fail("Expected 'on' or 'off'\n");
        args[key] = word === 'on';
        break;
      }
      case '-': {
        const tmp = p;
        const flag = ts[t] ?? '';
        t++;
        // `c = *typestr++` read the NUL: bad_type prints it, which cuts the message.
        if (flag === '') return fail(monitorText(`${def.name}: unknown type '\0'\n`));
        skipSpaces();
        if (at(b, p) !== DASH) break;
        p++;
        const letter = charOf(at(b, p));
        if (letter !== flag) {
          // is_valid_option(): a letter found as "-x" anywhere in the *rest* of the type
          // string is left for a later flag; order therefore matters ("-c -d uri" fails).
          if (!ts.slice(t).includes(`-${at(b, p) === NUL ? '' : letter}`)) {
            return fail(
              monitorText(`${def.name}: unsupported option -${at(b, p) === NUL ? '\0' : letter}\n`),
            );
          }
          p = tmp;
          break;
        }
        // No check that whitespace follows: "-ctcp:..." sets -c and leaves "tcp:...".
        p++;
        args[key] = true;
        break;
      }
      case 'S': {
        skipSpaces();
        if (ts[t] === '?') {
          t++;
          if (at(b, p) === NUL) break;
        }
        if (at(b, p) === NUL) return fail(`${def.name}: string expected\n`);
        args[key] = text(b, p, b.length);
        p = b.length;
        break;
      }
      default:
        return fail(monitorText(`${def.name}: unknown type '${c === '' ? '\0' : c}'\n`));
    }
  }
  skipSpaces();
  if (at(b, p) !== NUL) return fail(`${def.name}: extraneous characters at the end of line\n`);
  return { ok: true, args };
}

// ---------------------------------------------------------------- monitor_parse_command()

/** get_command_name()'s `char cmdname[256]`. */
const CMD_NAME_MAX = 255;

type Resolved =
  | { kind: 'empty' }
  | { kind: 'unknown'; output: string }
  | { kind: 'found'; def: HmpCommandDef; p: number; sub: boolean };

/**
 * monitor_parse_command(): the name runs to whitespace, '/' or the end. An unknown name
 * is echoed with everything from the start of *this level's* input, leading spaces
 * included ("  foo" gives "unknown command: '  foo'"; "info foo" gives "'foo'").
 */
function resolve(b: Uint8Array, start: number, table: readonly HmpCommandDef[], sub: boolean): Resolved {
  let p = start;
  while (isSpace(at(b, p))) p++;
  if (at(b, p) === NUL) return { kind: 'empty' };
  const nameStart = p;
  while (at(b, p) !== NUL && at(b, p) !== SLASH && !isSpace(at(b, p))) p++;
  const name = text(b, nameStart, Math.min(p, nameStart + CMD_NAME_MAX));
  const def = table.find((d) => compareCmd(name, d.name));
  if (!def) return { kind: 'unknown', output: `unknown command: '${text(b, start, p)}'\n` };
  while (isSpace(at(b, p))) p++;
  if (def.subTable && at(b, p) !== NUL) return resolve(b, p, def.subTable, true);
  return { kind: 'found', def, p, sub };
}

/**
 * Parse one HMP line as QEMU 2.8's handle_hmp_command() would before running it, with
 * the command table of one build (hmp-table.ts HMP_TABLES).
 */
export function parseHmpCommandLine(line: string, table: readonly HmpCommandDef[]): ParsedHmp {
  const b = toCString(line);
  const r = resolve(b, 0, table, false);
  if (r.kind === 'empty') return { kind: 'empty' };
  if (r.kind === 'unknown') return { kind: 'error', output: r.output };
  const parsed = parseArguments(r.def, b, r.p);
  if (!parsed.ok) {
    // handle_hmp_command() adds this line after any argument error, naming cmd->name
    // (the whole "c|cont", or the info subcommand alone: `Try "help status"`).
    const output = `${parsed.output}Try "help ${r.def.name}" for more information\n`;
    return parsed.stdout === undefined
      ? { kind: 'error', output }
      : { kind: 'error', output, stdout: parsed.stdout };
  }
  return r.sub
    ? { kind: 'info', item: r.def.canonical, args: parsed.args }
    : { kind: 'command', name: r.def.canonical, args: parsed.args };
}

// ---------------------------------------------------------------- help

/** parse_cmdline()'s MAX_ARGS: more words and `help` prints nothing. */
const MAX_HELP_ARGS = 16;

function helpLine(prefix: readonly string[], def: HmpCommandDef): string {
  return `${prefix.map((a) => `${a} `).join('')}${def.name} ${def.params} -- ${def.help}\n`;
}

/** help_cmd_dump(): all of a table, or the entry matching args[index] (recursing into `info`). */
function helpDump(table: readonly HmpCommandDef[], args: readonly string[], index: number): string {
  const sorted = sortHmpTable(table);
  const prefix = args.slice(0, index);
  const word = args[index];
  if (word === undefined) return sorted.map((d) => helpLine(prefix, d)).join('');
  const def = sorted.find((d) => compareCmd(word, d.name));
  if (!def) return '';
  return def.subTable ? helpDump(def.subTable, args, index + 1) : helpLine(prefix, def);
}

/**
 * What `help` / `help NAME` (and `info` alone, which is `help info`) prints: help_cmd()
 * in monitor.c. One "name params -- help" line per command, sorted by name, with the
 * whole alias string ("c|cont  -- resume emulation": two spaces when params is empty).
 * NAME is split into words with get_str(); an unknown NAME, a quoting error or more
 * than 16 words print nothing. Not emulated: `help log`'s special list (no `log` here).
 */
export function helpText(table: readonly HmpCommandDef[], name?: string): string {
  if (name === undefined) return helpDump(table, [], 0);
  const b = toCString(name);
  const words: string[] = [];
  let p = 0;
  for (;;) {
    while (isSpace(at(b, p))) p++;
    if (at(b, p) === NUL) break;
    if (words.length >= MAX_HELP_ARGS) return '';
    const r = getStr(b, p);
    if (!r.ok) return '';
    words.push(r.value);
    p = r.p;
  }
  return helpDump(table, words, 0);
}
