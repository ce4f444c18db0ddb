import { describeValue, isRecord } from '../check.js';
import { HmpArgumentError } from '../errors.js';
import { isSecretName, REDACTED } from '../redact.js';
import { describePosition, findReadlineHazard } from './text.js';

/**
 * The one place where HMP command lines are built.
 *
 * `hmpLine(name, argsType, values)` takes the command's `args_type` string exactly as in
 * QEMU's hmp-commands.hx (e.g. `detach:-d,blk:-b,inc:-i,cuju:-c,uri:s`) and refuses any
 * value that would change the command QEMU parses (monitor/hmp.c monitor_parse_arguments):
 *
 * | type | value | rule |
 * |---|---|---|
 * | `-x` (flag) | boolean | `-x` is written when true; flags come first, in args_type order |
 * | `i` | integer | QEMU rejects values with bits above 32 ("integer is for 32-bit values"), so 0 ... 4294967295 |
 * | `l` | integer or bigint | -2^63 ... 2^63-1; a negative is written `(-N)`, since a bare `-N` after a number would be subtracted from it, and after a flag read as an option |
 * | `M` | non-negative integer below 2^43 | MiB (QEMU multiplies by 2^20 in 64 bits) |
 * | `o` | non-negative integer | bytes, written with a `B` suffix (a bare number means MiB to QEMU) |
 * | `T` | finite number | a double |
 * | `b` | boolean, or 'on'/'off' | written as on/off |
 * | `s`, `F`, `B` | string | one token of at most 1023 bytes (QEMU's buffer): not empty, no whitespace (QEMU splits there), no quote (QEMU would parse a quoted string), not starting with '-' (it could be read as a flag), and after a number not starting with an operator (+ * / % & | ^: QEMU would read it as part of the number's expression) |
 * | `S` | string | the rest of the line: not starting with '-' |
 *
 * No string may hold a character QEMU's readline would not insert as typed (see
 * text.ts: C0 and C1 controls, DEL, and any character whose UTF-8 holds the byte 0x9B,
 * such as `ě`); the error names the position. A `?` after the type makes the argument
 * optional; an optional argument may be left out only when every argument after it is
 * left out too (HMP arguments are positional). Error messages never show a value of an
 * argument named like a secret (password, ...) nor any value of a command that carries
 * secrets (set_password, block_passwd, change, object_add).
 */
export type HmpValue = string | number | bigint | boolean | undefined;

interface ArgSpec {
  name: string;
  type: string;
  optional: boolean;
  flag: string | undefined;
}

const COMMAND_NAME = /^[A-Za-z0-9_-]+$/;
const WHITESPACE = /\s/;
/** Commands whose values may all be secrets (a VNC password as `change`'s third word, say). */
const SECRET_COMMANDS = new Set(['set_password', 'block_passwd', 'change', 'object_add']);
const KNOWN_TYPES = new Set(['s', 'F', 'B', 'S', 'i', 'l', 'M', 'o', 'T', 'b']);
/** Types QEMU reads with its expression parser, which would swallow a following `+x`, `/x`, ... */
const EXPRESSION_TYPES = new Set(['i', 'l']);
const EXPRESSION_OPERATOR = /^[+*/%&|^]/;
/** get_str's buffer in monitor/hmp.c: longer tokens are cut. */
const MAX_TOKEN_BYTES = 1023;
/** READLINE_CMD_BUF_SIZE: a readline monitor cuts longer lines. */
export const MAX_READLINE_LINE_BYTES = 4095;
/** Lines that make QEMU prompt for a password on the monitor instead of answering. */
const INTERACTIVE = /^\s*change\s+vnc\s+passw(?:or)?d\s*$/i;

/** Parses an args_type string; throws HmpArgumentError for one this builder does not know. */
function parseArgsType(command: string, argsType: string): ArgSpec[] {
  if (argsType.trim() === '') return [];
  return argsType.split(',').map((part) => {
    const colon = part.indexOf(':');
    if (colon <= 0) throw new HmpArgumentError(command, undefined, `malformed args_type entry '${part}'`);
    const name = part.slice(0, colon);
    let type = part.slice(colon + 1);
    const optional = type.endsWith('?');
    if (optional) type = type.slice(0, -1);
    if (type.startsWith('-')) {
      if (type.length !== 2) throw new HmpArgumentError(command, name, `malformed flag type '${type}'`);
      return { name, type: '-', optional: true, flag: type };
    }
    if (!KNOWN_TYPES.has(type)) {
      throw new HmpArgumentError(command, name, `args_type '${type}' is not supported by hmpLine`);
    }
    return { name, type, optional, flag: undefined };
  });
}

/** Builds one HMP command line, or throws HmpArgumentError naming what was wrong. */
export function hmpLine(
  name: string,
  argsType: string,
  values: Readonly<Record<string, HmpValue>> = {},
): string {
  if (typeof name !== 'string' || !COMMAND_NAME.test(name)) {
    throw new HmpArgumentError(
      typeof name === 'string' ? JSON.stringify(name) : 'HMP',
      undefined,
      `is not a valid HMP command name (letters, digits, '_' and '-'), got ${describeValue(name)}`,
    );
  }
  if (typeof argsType !== 'string') {
    throw new HmpArgumentError(
      name,
      undefined,
      `needs its args_type as a string, got ${describeValue(argsType)}`,
    );
  }
  if (!isRecord(values)) {
    throw new HmpArgumentError(
      name,
      undefined,
      `needs its values as an object, got ${describeValue(values)}`,
    );
  }
  const specs = parseArgsType(name, argsType);
  const known = new Set(specs.map((s) => s.name));
  for (const key of Object.keys(values)) {
    if (!known.has(key)) {
      const expected = specs.length ? specs.map((s) => s.name).join(', ') : 'none';
      throw new HmpArgumentError(name, key, `unknown argument (expected: ${expected})`);
    }
  }
  const flags: string[] = [];
  const positional: string[] = [];
  let omitted: string | undefined;
  let previousType: string | undefined;
  for (const spec of specs) {
    const value = values[spec.name];
    if (spec.flag) {
      if (value === undefined || value === false) continue;
      if (value !== true)
        throw new HmpArgumentError(
          name,
          spec.name,
          `flag ${spec.flag} takes true or false, got ${describe(value)}`,
        );
      flags.push(spec.flag);
      continue;
    }
    if (value === undefined) {
      if (!spec.optional) throw new HmpArgumentError(name, spec.name, 'is required');
      omitted ??= spec.name;
      continue;
    }
    if (omitted) {
      throw new HmpArgumentError(
        name,
        spec.name,
        `cannot be given while the earlier optional argument '${omitted}' is left out`,
      );
    }
    positional.push(
      formatValue(
        name,
        spec,
        value,
        previousType !== undefined && EXPRESSION_TYPES.has(previousType),
        SECRET_COMMANDS.has(name) || isSecretName(spec.name),
      ),
    );
    previousType = spec.type;
  }
  return [name, ...flags, ...positional].join(' ');
}

/**
 * Refuses a whole command line that would not reach QEMU as one command, exactly as
 * written: not a string, blank, a character QEMU's readline would not insert as typed
 * (see text.ts; the error names its position and never shows the line), or a line that
 * would make QEMU prompt for a password on the monitor.
 */
export function assertHmpCommandLine(line: unknown): asserts line is string {
  if (typeof line !== 'string' || line.trim() === '') {
    throw new HmpArgumentError('HMP', undefined, `expected a command line, got ${describeValue(line)}`);
  }
  const hazard = findReadlineHazard(line);
  if (hazard) {
    throw new HmpArgumentError(
      'HMP',
      undefined,
      `line holds ${hazard.what} ${describePosition(hazard)}, which ${hazard.why}`,
      { index: hazard.index, byte: hazard.byte },
    );
  }
  if (INTERACTIVE.test(line)) {
    throw new HmpArgumentError(
      'HMP',
      undefined,
      `'${line.trim()}' would make QEMU prompt for a password on the monitor; give the password as an argument (or use QMP change-vnc-password)`,
    );
  }
}

function formatValue(
  command: string,
  spec: ArgSpec,
  value: HmpValue,
  afterNumber: boolean,
  secret: boolean,
): string {
  const fail = (why: string): never => {
    throw new HmpArgumentError(command, spec.name, why);
  };
  // What an error may show of the value: nothing, where it may be a secret.
  const show = (v: unknown) => (secret ? REDACTED : describe(v));
  const readable = (v: string) => {
    const hazard = findReadlineHazard(v);
    if (!hazard) return;
    throw new HmpArgumentError(
      command,
      spec.name,
      `holds ${secret ? 'a character' : hazard.what} ${describePosition(hazard)}, which ${hazard.why}`,
      { index: hazard.index, byte: hazard.byte },
    );
  };
  switch (spec.type) {
    case 'i': {
      if (typeof value !== 'number' || !Number.isInteger(value))
        fail(`must be an integer, got ${show(value)}`);
      if ((value as number) < 0 || (value as number) > 0xffffffff)
        fail(`must be 0 to 4294967295 (HMP 'i'), got ${show(value)}`);
      return String(value);
    }
    case 'l': {
      const big =
        typeof value === 'bigint'
          ? value
          : typeof value === 'number' && Number.isSafeInteger(value)
            ? BigInt(value)
            : undefined;
      if (big === undefined) return fail(`must be an integer, got ${show(value)}`);
      if (big < -(2n ** 63n) || big >= 2n ** 63n) fail(`must fit in 64 bits, got ${show(value)}`);
      return big < 0n ? `(${big})` : big.toString();
    }
    case 'M': {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= 2 ** 43) {
        fail(`must be an integer from 0 to 2^43-1 (MiB), got ${show(value)}`);
      }
      return String(value);
    }
    case 'o': {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        fail(`must be a non-negative integer (bytes), got ${show(value)}`);
      }
      return `${value}B`;
    }
    case 'T': {
      if (typeof value !== 'number' || !Number.isFinite(value))
        fail(`must be a finite number, got ${show(value)}`);
      return String(value);
    }
    case 'b': {
      if (value === true || value === 'on') return 'on';
      if (value === false || value === 'off') return 'off';
      return fail(`must be true/false or 'on'/'off', got ${show(value)}`);
    }
    case 'S': {
      if (typeof value !== 'string') return fail(`must be a string, got ${show(value)}`);
      readable(value);
      if (value.startsWith('-')) fail(`starts with '-', which HMP could read as a flag: ${show(value)}`);
      return value;
    }
    default: {
      // s, F, B: one token.
      if (typeof value !== 'string') return fail(`must be a string, got ${show(value)}`);
      if (value === '') fail('must not be empty');
      readable(value);
      if (WHITESPACE.test(value))
        fail(`contains whitespace, where HMP would split it into two arguments: ${show(value)}`);
      if (/["']/.test(value))
        fail(`contains a quote, which HMP would parse as a quoted string: ${show(value)}`);
      if (value.startsWith('-')) fail(`starts with '-', which HMP could read as a flag: ${show(value)}`);
      if (afterNumber && EXPRESSION_OPERATOR.test(value)) {
        fail(
          `starts with an operator right after a number, which HMP would read as part of that number's expression: ${show(value)}`,
        );
      }
      if (Buffer.byteLength(value) > MAX_TOKEN_BYTES)
        fail(`is longer than ${MAX_TOKEN_BYTES} bytes, where HMP cuts it`);
      return value;
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  return String(value);
}
