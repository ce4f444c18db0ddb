/**
 * POSIX shell quoting and the argument checks that run before anything is sent to a host.
 *
 * SSH has no argv: the server hands one command string to the user's login shell. So
 * every argument is single-quoted (inside single quotes a POSIX shell treats every byte
 * literally, except `'` itself, which is written as `'\''`: close, escaped quote, reopen).
 * The command string is built only from quoted arguments and fixed text of this module;
 * no caller string is ever concatenated raw.
 */
import { HostArgumentError } from './errors.js';

/** One argument, single-quoted for a POSIX shell: `it's` → `'it'\''s'`. */
export function shellQuote(arg: string): string {
  assertNoNul(arg, 'a shell argument');
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/** A whole argv as one shell command line, each element quoted on its own. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

export interface RemoteCommandOptions {
  sudo?: boolean;
  cwd?: string;
  /**
   * Where the program's stdin comes from: /dev/null (default), or the channel itself, for
   * a remote script that must notice (EOF) when the connection goes away.
   */
  stdin?: 'null' | 'channel';
  /** Print `cuju-pid:PID` as the first line on stderr, so that the program can be killed later. */
  reportPid?: boolean;
}

/**
 * The stderr line of a command built with `reportPid`: the first line of its own, after
 * whatever the login shell printed first (a chatty ~/.bashrc, a motd).
 */
export const PID_MARKER = /(?<=^|\n)cuju-pid:(\d+)\n/;

/** That line as a line splitter delivers it (without its line break). */
export const PID_MARKER_LINE = /^cuju-pid:\d+$/;

/**
 * The command string for running argv through an SSH exec channel:
 * `[printf 'cuju-pid:%s\n' "$$" >&2; ][cd -- 'CWD' && ]exec [sudo -n -- ]'ARGV0' ... [</dev/null]`.
 *
 * `exec` makes the program the session's process itself (sshd made that process a
 * process group leader), so `$$` is its pid and its group's id, its exit status is the
 * channel's, and killing that group reaches it and its children. stdin comes from
 * /dev/null rather than from the channel, so that a program that reads stdin does not
 * wait for input that never comes.
 */
export function remoteCommand(argv: readonly string[], options: RemoteCommandOptions = {}): string {
  assertArgv(argv);
  const parts: string[] = [];
  if (options.reportPid) parts.push(`printf 'cuju-pid:%s\\n' "$$" >&2;`);
  if (options.cwd !== undefined) {
    assertPath(options.cwd, 'cwd');
    parts.push('cd --', shellQuote(options.cwd), '&&');
  }
  parts.push('exec');
  if (options.sudo) parts.push('sudo -n --');
  parts.push(shellJoin(argv));
  if (options.stdin !== 'channel') parts.push('</dev/null');
  return parts.join(' ');
}

/**
 * An argv must be a non-empty array of strings without NUL bytes (which no exec can carry
 * and which would cut an SSH command string short), with a non-empty program name.
 */
export function assertArgv(argv: readonly string[]): void {
  if (!Array.isArray(argv) || argv.length === 0) {
    throw new HostArgumentError('argv must be a non-empty array: [program, ...arguments]');
  }
  argv.forEach((arg, i) => {
    if (typeof arg !== 'string') throw new HostArgumentError(`argv[${i}] is not a string`);
    assertNoNul(arg, `argv[${i}]`);
  });
  if (argv[0] === '') throw new HostArgumentError('argv[0] (the program) is empty');
}

/**
 * A path (log file, monitor socket, working directory) must be non-empty and free of NUL,
 * CR and LF: no real path needs them, and a newline in a path is the classic way of
 * smuggling a second command or a forged log line through.
 */
export function assertPath(path: string, what: string): void {
  if (typeof path !== 'string' || path === '')
    throw new HostArgumentError(`${what} must be a non-empty path`);
  assertNoNul(path, what);
  if (/[\r\n]/.test(path)) {
    throw new HostArgumentError(`${what} contains a line break (${JSON.stringify(path)}): refused`);
  }
}

/** A path to write a file to: a path (assertPath) that names a file, not a directory (`dir/`). */
export function assertFilePath(path: string): void {
  assertPath(path, 'path');
  if (path.endsWith('/')) {
    throw new HostArgumentError(`path ${JSON.stringify(path)} ends in '/': give the path of a file`);
  }
}

/** Permission bits for chmod: an integer from 0 to 0o7777. */
export function assertFileMode(mode: number): void {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new HostArgumentError(
      `mode ${String(mode)} is not a file mode: give permission bits such as 0o644`,
    );
  }
}

/** A file's content as bytes: a string as UTF-8, a Uint8Array (Buffer) as it is, without a copy. */
export function fileBytes(content: string | Uint8Array): Buffer {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof Uint8Array)
    return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  throw new HostArgumentError('content must be a string or a Uint8Array (Buffer)');
}

/**
 * A checked writeFile request: the path and mode refused with INVALID_ARGUMENT when bad,
 * the content as bytes, the mode defaulting to 0o644. Nothing is sent before this passes.
 */
export function writeRequest(
  path: string,
  content: string | Uint8Array,
  mode: number = 0o644,
): { mode: number; data: Buffer } {
  assertFilePath(path);
  assertFileMode(mode);
  return { mode, data: fileBytes(content) };
}

function assertNoNul(value: string, what: string): void {
  if (value.includes('\0')) {
    throw new HostArgumentError(`${what} contains a NUL byte (${JSON.stringify(value)}): refused`);
  }
}
