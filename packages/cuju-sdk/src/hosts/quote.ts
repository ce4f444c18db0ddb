/**
 * POSIX shell quoting, for the one command string an SSH exec channel takes.
 *
 * SSH has no argv: the server hands one command string to the user's login shell. So
 * every argument is single-quoted (inside single quotes a POSIX shell treats every byte
 * literally, except `'` itself, which is written as `'\''`: close, escaped quote, reopen).
 * The command string is built only from quoted arguments and fixed text of this module;
 * no caller string is ever concatenated raw.
 */
import { checkArgv, checkHostPath, checkNoNul } from './args.js';

/** One argument, single-quoted for a POSIX shell: `it's` → `'it'\''s'`. */
export function shellQuote(arg: string): string {
  checkNoNul('a shell argument', arg);
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
 * The stderr line a command built with `reportPid` prints before it runs. It is the first
 * line the command writes, but not always the first on the channel: the user's login shell
 * runs its startup files first, and what they print (a `.bashrc` that warns, say) comes
 * before it. That text is not the command's, so it is dropped along with the marker.
 */
export const PID_MARKER = /(?:^|\n)cuju-pid:(\d+)\n/;

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
  checkArgv(argv);
  const parts: string[] = [];
  if (options.reportPid) parts.push(`printf 'cuju-pid:%s\\n' "$$" >&2;`);
  if (options.cwd !== undefined) {
    checkHostPath('cwd', options.cwd);
    parts.push('cd --', shellQuote(options.cwd), '&&');
  }
  parts.push('exec');
  if (options.sudo) parts.push('sudo -n --');
  parts.push(shellJoin(argv));
  if (options.stdin !== 'channel') parts.push('</dev/null');
  return parts.join(' ');
}
