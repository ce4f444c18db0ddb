/**
 * The fixed shell scripts SshHost runs on the host (and LocalHost, for WRITE_FILE through
 * sudo). They are constants: caller data only ever reaches them as positional parameters
 * ("$1", "$@"), each passed as one quoted argument of `sh -c SCRIPT NAME ARGS...` (or as
 * an argv element, locally), so no caller string is ever parsed as shell.
 */

/**
 * Runs in its own session (setsid), so that it survives the SSH connection: starts the
 * program with stdout and stderr appended to LOG, publishes its pid in LOG.pid, waits for
 * it and publishes the shell's status for it (128 + N after signal N) in LOG.exit. Both
 * files are written under a temporary name and renamed, so a reader never sees half.
 *
 * $1 = LOG, then the program's argv.
 */
export const VM_WRAPPER = `log=$1; shift
"$@" >>"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$log.pid.tmp" && mv -f -- "$log.pid.tmp" "$log.pid"
wait "$pid"
status=$?
echo "$status" >"$log.exit.tmp" && mv -f -- "$log.exit.tmp" "$log.exit"`;

/**
 * Starts VM_WRAPPER detached and prints `PID OFFSET LOG`: the program's pid, the log's
 * size before the start (where its lines begin) and the log's absolute path. Exit 127
 * with `cuju-spawn: NAME: not found` when the program is not on PATH; 125 with a message
 * when the log or the working directory cannot be used.
 *
 * $1 = VM_WRAPPER, $2 = LOG, $3 = working directory ('' for none), then the program's argv.
 */
export const SPAWN = `wrapper=$1 log=$2 dir=$3; shift 3
case $log in /*) ;; *) log=$PWD/$log ;; esac
if [ -n "$dir" ]; then cd -- "$dir" || exit 125; fi
command -v -- "$1" >/dev/null 2>&1 || { printf 'cuju-spawn: %s: not found\\n' "$1" >&2; exit 127; }
rm -f -- "$log.pid" "$log.exit" || exit 125
: >>"$log" || exit 125
size=$(wc -c <"$log") || exit 125
setsid sh -c "$wrapper" cuju-vm "$log" "$@" </dev/null >/dev/null 2>&1 &
i=0
while [ ! -s "$log.pid" ]; do
  i=$((i + 1))
  if [ "$i" -gt 200 ]; then echo "cuju-spawn: the wrapper did not report a pid within 10 s" >&2; exit 125; fi
  sleep 0.05
done
printf '%s %s %s\\n' "$(cat -- "$log.pid")" "$((size + 0))" "$log"`;

/**
 * Follows LOG from byte OFFSET until the process PID has gone (GNU tail's --pid: after
 * the process has died tail reads the file once more, so no last line is lost; -s 0.1
 * makes it look every 100 ms), then reports the status from LOG.exit on stderr as
 * `cuju-exit:STATUS` (`cuju-exit:` alone when none was recorded within 5 s). LOG.pid and
 * LOG.exit are removed once read: only the log stays.
 *
 * Its stdin is the SSH channel: when the connection is closed or lost, sshd closes it,
 * the watcher's `cat` sees EOF and stops tail and the script, so no follower outlives its
 * connection, and LOG.exit stays for whoever looks next.
 *
 * $1 = LOG, $2 = PID, $3 = OFFSET.
 */
export const FOLLOW = `log=$1 pid=$2 offset=$3
exec 3<&0
tail -c "+$((offset + 1))" -F -s 0.1 --pid="$pid" -- "$log" </dev/null 2>/dev/null &
tail=$!
{ cat <&3 >/dev/null 2>&1; kill "$tail" $$ 2>/dev/null; } </dev/null >/dev/null 2>&1 &
watcher=$!
exec 3<&-
wait "$tail"
i=0
while [ ! -e "$log.exit" ] && [ "$i" -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
status=$(cat -- "$log.exit" 2>/dev/null)
rm -f -- "$log.pid" "$log.exit"
kill "$watcher" 2>/dev/null
printf 'cuju-exit:%s\\n' "$status" >&2`;

/**
 * Sends signal $1 to the process group $2 (a command run with `reportPid`: its pid is
 * its group's id), or to the process alone if it leads no group. Never fails: a group
 * that is already gone is what the caller wanted.
 */
export const KILL_GROUP = `kill -s "$1" -- "-$2" 2>/dev/null || kill -s "$1" "$2" 2>/dev/null; exit 0`;

/** Sends signal $1 (TERM, KILL) to pid $2; a process that is already gone is no error. */
export const KILL = `out=$(kill -s "$1" "$2" 2>&1) || case $out in
  *"No such process"*) ;;
  *) echo "$out" >&2; exit 1 ;;
esac`;

/**
 * Writes its stdin to PATH atomically: into a temporary file made by mktemp in PATH's
 * directory (`.cuju-write.XXXXXX`, mode 0600 until chmod), then chmod MODE, then renamed
 * over PATH (mv within one directory is rename(2)). The temporary file is renamed only if
 * exactly SIZE bytes arrived: stdin is the SSH channel, and a connection lost mid-transfer
 * looks like an early EOF, which must not put a truncated file in place. On any failure
 * (and on HUP, INT, TERM, PIPE) the temporary file is removed and the reason is printed on
 * stderr: `directory DIR does not exist`, `DIR is not a directory`, `PATH is a directory`,
 * a transfer cut short, or what mktemp, cat, chmod or mv said. Exits 0 once PATH holds the
 * new content.
 *
 * $1 = PATH (not ending in /), $2 = MODE (octal digits, for chmod), $3 = SIZE (bytes).
 */
export const WRITE_FILE = `path=$1 mode=$2 size=$3
case $path in
  */*) dir=\${path%/*} ;;
  *) dir=. ;;
esac
if [ -z "$dir" ]; then dir=/; fi
if [ -e "$dir" ] && [ ! -d "$dir" ]; then printf '%s is not a directory\\n' "$dir" >&2; exit 1; fi
if [ ! -d "$dir" ]; then printf 'directory %s does not exist\\n' "$dir" >&2; exit 1; fi
if [ -d "$path" ]; then printf '%s is a directory\\n' "$path" >&2; exit 1; fi
case $dir in -*) dir=./$dir ;; esac
tmp=
trap 'if [ -n "$tmp" ]; then rm -f -- "$tmp"; fi' EXIT
trap 'exit 1' HUP INT TERM PIPE
tmp=$(mktemp "$dir/.cuju-write.XXXXXX") || exit 1
cat >"$tmp" || exit 1
got=$(wc -c <"$tmp") || exit 1
if [ "$((got + 0))" -ne "$size" ]; then
  rm -f -- "$tmp"
  printf 'the transfer was cut short (%s of %s bytes arrived)\\n' "$((got + 0))" "$size" >&2
  exit 1
fi
chmod "$mode" "$tmp" || exit 1
mv -f -- "$tmp" "$path" || exit 1
tmp=`;
