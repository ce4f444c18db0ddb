/**
 * The argument checks every Host method runs before anything is sent or started. Values
 * come from JavaScript and JSON callers as much as from TypeScript, so each is taken as
 * `unknown` and refused with CujuArgumentError naming it (`argv[1]`, `cwd`, `timeoutMs`).
 * Arguments are never echoed: they may be secrets.
 */
import { CujuArgumentError } from '../errors.js';
import {
  checkAbortSignal,
  checkBoolean,
  checkFunction,
  checkIntegerIn,
  checkObject,
  checkOptions,
  checkText,
  checkTimeoutMs,
  kindOf,
} from '../validate.js';
import type { AdoptOptions, Host, RunOptions, SpawnOptions, VmRef, WriteFileOptions } from './host.js';

/**
 * An argv: a non-empty array of strings without NUL bytes (which no exec can carry and
 * which would cut an SSH command string short), with a non-empty program name.
 */
export function checkArgv(value: unknown, field = 'argv'): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new CujuArgumentError(
      field,
      `must be a non-empty array: [program, ...arguments], got ${Array.isArray(value) ? 'an empty array' : kindOf(value)}`,
    );
  }
  // An index loop, not forEach: a sparse array's holes are undefined arguments too.
  for (let i = 0; i < value.length; i++) checkNoNul(`${field}[${i}]`, checkText(`${field}[${i}]`, value[i]));
  if (value[0] === '') throw new CujuArgumentError(`${field}[0]`, 'must not be empty (it is the program)');
  return value as readonly string[];
}

/**
 * A path on the host (log file, working directory): a non-empty string free of NUL, CR and
 * LF. No real path needs them, and a newline in a path is the classic way of smuggling a
 * second command or a forged log line through.
 */
export function checkHostPath(field: string, value: unknown): string {
  const path = checkText(field, value);
  if (path === '') throw new CujuArgumentError(field, 'must be a non-empty path');
  checkNoNul(field, path);
  if (/[\r\n]/.test(path)) throw new CujuArgumentError(field, 'must not contain a line break');
  return path;
}

/** `options` of run(): each field checked; unknown fields are ignored. */
export function checkRunOptions(value: unknown): RunOptions {
  const o = checkOptions('options', value);
  if (o.sudo !== undefined) checkBoolean('sudo', o.sudo);
  if (o.check !== undefined) checkBoolean('check', o.check);
  if (o.timeoutMs !== undefined) checkTimeoutMs('timeoutMs', o.timeoutMs);
  if (o.signal !== undefined) checkAbortSignal('signal', o.signal);
  if (o.cwd !== undefined) checkHostPath('cwd', o.cwd);
  if (o.onLine !== undefined) checkFunction('onLine', o.onLine);
  return o as RunOptions;
}

/** `options` of spawnVm() (required: it holds the log path). */
export function checkSpawnOptions(value: unknown): SpawnOptions {
  const o = checkObject('options', value);
  checkHostPath('logPath', o.logPath);
  if (o.sudo !== undefined) checkBoolean('sudo', o.sudo);
  if (o.cwd !== undefined) checkHostPath('cwd', o.cwd);
  return o as unknown as SpawnOptions;
}

/**
 * A checked writeFile() request: the path (of a file, not `dir/`), the mode (0 to 0o7777,
 * default 0o644), sudo, and the content as bytes (a string as UTF-8, a Uint8Array as it
 * is, without a copy). Nothing is sent before this passes.
 */
export function writeRequest(
  path: unknown,
  content: unknown,
  options: unknown,
): { path: string; mode: number; sudo: boolean; data: Buffer } {
  const file = checkHostPath('path', path);
  if (file.endsWith('/')) throw new CujuArgumentError('path', "must name a file, not end in '/'");
  const o = checkOptions('options', options) as WriteFileOptions;
  const mode = o.mode === undefined ? 0o644 : checkIntegerIn('mode', o.mode, 0, 0o7777);
  const sudo = o.sudo === undefined ? false : checkBoolean('sudo', o.sudo);
  return { path: file, mode, sudo, data: fileBytes(content) };
}

function fileBytes(content: unknown): Buffer {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof Uint8Array)
    return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  throw new CujuArgumentError('content', `must be a string or a Uint8Array (Buffer), got ${kindOf(content)}`);
}

/** A signal for VmProcess.kill(): SIGTERM (the default) or SIGKILL. */
export function checkKillSignal(value: unknown): 'SIGTERM' | 'SIGKILL' {
  if (value === undefined) return 'SIGTERM';
  if (value !== 'SIGTERM' && value !== 'SIGKILL') {
    throw new CujuArgumentError('signal', `must be 'SIGTERM' or 'SIGKILL', got ${kindOf(value)}`);
  }
  return value;
}

export function checkNoNul(field: string, value: string): string {
  if (value.includes('\0')) throw new CujuArgumentError(field, 'must not contain a NUL byte');
  return value;
}

/**
 * A host name, user name or address: a non-empty string without whitespace, control
 * characters or any of `forbidden` (a newline smuggled into a name would reach logs and
 * known_hosts look-ups), not starting with `-` (ssh and friends would read an option).
 */
export function checkName(field: string, value: unknown, what: string, forbidden = ''): string {
  const text = checkText(field, value);
  let ok = text !== '' && !text.startsWith('-');
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code <= 0x20 || code === 0x7f || /\s/u.test(ch) || forbidden.includes(ch)) ok = false;
  }
  if (!ok) throw new CujuArgumentError(field, `must be ${what}, got ${JSON.stringify(text.slice(0, 64))}`);
  return text;
}

/** A Host (LocalHost, SshHost, or the caller's own): an object with a name and the methods used. */
export function checkHost(field: string, value: unknown): Host {
  const host = checkObject(field, value);
  checkText(`${field}.name`, host.name);
  for (const method of ['run', 'spawnVm', 'writeFile', 'connectMonitor'] as const) {
    checkFunction(`${field}.${method}`, host[method]);
  }
  if (host.redact !== undefined) checkFunction(`${field}.redact`, host.redact);
  return value as Host;
}

/** A VmRef (pid, log path, sudo), as adoptVm takes it. */
export function checkVmRef(value: unknown, field = 'ref'): VmRef {
  const o = checkObject(field, value);
  const pid = checkIntegerIn(`${field}.pid`, o.pid, 1, 2 ** 22);
  const logPath = checkHostPath(`${field}.logPath`, o.logPath);
  const sudo = o.sudo === undefined ? undefined : checkBoolean(`${field}.sudo`, o.sudo);
  return { pid, logPath, ...(sudo ? { sudo } : {}) };
}

/** `options` of adoptVm(). */
export function checkAdoptOptions(value: unknown): AdoptOptions {
  const o = checkOptions('options', value);
  if (o.offset === undefined) return {};
  return { offset: checkIntegerIn('offset', o.offset, 0, Number.MAX_SAFE_INTEGER) };
}
