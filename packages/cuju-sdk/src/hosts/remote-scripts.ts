/**
 * The fixed shell scripts SshHost runs on the host (and LocalHost, for WRITE_FILE through
 * sudo). They are constants: caller data only ever reaches them as positional parameters
 * ("$1", "$@"), each passed as one quoted argument of `sh -c SCRIPT NAME ARGS...` (or as
 * an argv element, locally), so no caller string is ever parsed as shell.
 */

/**
 * Sets `clock` and `now` to the host's monotonic clock, without starting a process:
 * CLOCK_MONOTONIC in ns from /proc/timer_list (`now at N nsecs`, readable by root), else
 * CLOCK_BOOTTIME from /proc/uptime (10 ms steps: `boottime`). VM_WRAPPER stamps a death
 * with it and CONTROL's `clock` reads it, so that a stamp and the reading that maps it to
 * the client's clock always come from the same source.
 */
const STAMP = `stamp() {
  now=
  { read -r _ && read -r _ && read -r _ _ now _; } 2>/dev/null </proc/timer_list
  case $now in
    '' | *[!0-9]*)
      read -r up _ </proc/uptime
      now=\${up%.*}\${up#*.}0000000
      clock=boottime
      ;;
    *) clock=monotonic ;;
  esac
}`;

/**
 * The parent of one VM, in its own session so that it survives the SSH connection (and,
 * locally, this process). It holds an exclusive flock on LOG.lock for as long as it runs
 * (the VM does not inherit it), starts the program as the leader of a new session and
 * process group (`setsid`: a signal to the group reaches the VM and its children, never
 * the wrapper), stdout and stderr appended to LOG, and prints the program's pid on its own
 * stdout and in LOG.pid (written under a temporary name and renamed). It waits for the
 * program and, the moment `wait` returns, writes LOG.exit: `STATUS CLOCK NS`, the shell's
 * status (128 + N after signal N) and the host's monotonic stamp of the death (STAMP).
 * Then it exits, which releases the lock: a follower blocked on it learns of the death at
 * once, without polling. Nothing is written to its own stdout or stderr after the pid, so
 * a reader that went away cannot kill it with SIGPIPE.
 *
 * Exit 127 with `cuju-vm: NAME: not found` when the program is not on PATH; 125 with a
 * message when LOG is locked by a wrapper that still runs (a VM is using that log) or
 * cannot be used.
 *
 * $1 = LOG, then the program's argv.
 */
export const VM_WRAPPER = `${STAMP}
log=$1; shift
command -v -- "$1" >/dev/null 2>&1 || { printf 'cuju-vm: %s: not found\\n' "$1" >&2; exit 127; }
exec 9>>"$log.lock" || exit 125
if ! flock -n -x 9; then
  printf 'cuju-vm: %s is in use by a running VM\\n' "$log" >&2
  exit 125
fi
rm -f -- "$log.exit"
setsid "$@" >>"$log" 2>&1 </dev/null 9>&- &
pid=$!
echo "$pid" >"$log.pid.tmp" && mv -f -- "$log.pid.tmp" "$log.pid"
echo "$pid"
exec >/dev/null 2>&1
wait "$pid"
status=$?
stamp
printf '%s %s %s\\n' "$status" "$clock" "$now" >"$log.exit"`;

/**
 * Starts VM_WRAPPER detached and prints `PID OFFSET LOG`: the program's pid, the log's
 * size before the start (where its lines begin) and the log's absolute path. Exit 127
 * with `cuju-spawn: NAME: not found` when the program is not on PATH; 125 with a message
 * when the log or the working directory cannot be used, or another VM's wrapper holds the
 * log's lock.
 *
 * $1 = VM_WRAPPER, $2 = LOG, $3 = working directory ('' for none), then the program's argv.
 */
export const SPAWN = `wrapper=$1 log=$2 dir=$3; shift 3
case $log in /*) ;; *) log=$PWD/$log ;; esac
if [ -n "$dir" ]; then cd -- "$dir" || exit 125; fi
command -v -- "$1" >/dev/null 2>&1 || { printf 'cuju-spawn: %s: not found\\n' "$1" >&2; exit 127; }
: >>"$log" || exit 125
if ! flock -n -s "$log.lock" true; then
  printf 'cuju-spawn: %s is in use by a running VM\\n' "$log" >&2
  exit 125
fi
rm -f -- "$log.pid" "$log.exit" || exit 125
size=$(wc -c <"$log") || exit 125
setsid sh -c "$wrapper" cuju-vm "$log" "$@" </dev/null >/dev/null 2>&1 &
i=0
while [ ! -s "$log.pid" ]; do
  i=$((i + 1))
  if [ "$i" -gt 1000 ]; then echo "cuju-spawn: the wrapper did not report a pid within 10 s" >&2; exit 125; fi
  sleep 0.01
done
printf '%s %s %s\\n' "$(cat -- "$log.pid")" "$((size + 0))" "$log"`;

/**
 * Follows a VM started by VM_WRAPPER: LOG's bytes from OFFSET (its current end when '')
 * on stdout, through GNU `tail -F` (inotify: lines come as they are written); on stderr
 * first `cuju-follow:OFFSET running|gone` (gone: its wrapper had already ended), then, the
 * moment the VM is dead, `cuju-death:STATUS CLOCK NS`
 * (LOG.exit; `cuju-death:` alone when none was recorded) and, once tail has been stopped,
 * `cuju-exit:SIZE`, the log's final size, so the reader can fetch what tail had not sent.
 *
 * The death is seen without polling: a shared flock on LOG.lock is granted the moment the
 * wrapper exits. A VM without a wrapper lock (started some other way), or whose wrapper
 * was killed, is watched by its pid every 50 ms instead. LOG.pid, LOG.exit and LOG.lock
 * are removed once read: only the log stays.
 *
 * Its stdin is the SSH channel (or a pipe from this process): when that closes, the
 * watcher's `cat` sees EOF and stops tail, the waiter and the script, so no follower
 * outlives its reader, and LOG.exit stays for whoever looks next.
 *
 * $1 = LOG, $2 = PID, $3 = OFFSET or ''.
 */
export const FOLLOW = `log=$1 pid=$2 offset=$3
if [ -z "$offset" ]; then offset=$(wc -c <"$log" 2>/dev/null); fi
offset=$((offset + 0))
if [ -e "$log.lock" ]; then
  if flock -n -s "$log.lock" true 2>/dev/null; then state=gone; else state=running; fi
elif kill -0 "$pid" 2>/dev/null; then state=running
else state=gone
fi
printf 'cuju-follow:%s %s\\n' "$offset" "$state" >&2
exec 3<&0
tail -c "+$((offset + 1))" -F -s 0.1 -- "$log" </dev/null 2>/dev/null &
tail=$!
if [ -e "$log.lock" ]; then
  flock -s "$log.lock" true </dev/null >/dev/null 2>&1 &
else
  sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.05; done' cuju-watch "$pid" </dev/null >/dev/null 2>&1 &
fi
waiter=$!
{ cat <&3 >/dev/null 2>&1; kill "$tail" "$waiter" $$ 2>/dev/null; } </dev/null >/dev/null 2>&1 &
watcher=$!
exec 3<&-
wait "$waiter"
if [ ! -e "$log.exit" ]; then
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
fi
death=$(cat -- "$log.exit" 2>/dev/null)
printf 'cuju-death:%s\\n' "$death" >&2
kill "$tail" 2>/dev/null
wait "$tail" 2>/dev/null
size=$(wc -c <"$log" 2>/dev/null)
rm -f -- "$log.pid" "$log.exit" "$log.lock"
kill "$watcher" 2>/dev/null
printf 'cuju-exit:%s\\n' "$((size + 0))" >&2`;

/**
 * A command loop kept open on one SSH channel, so that signalling a VM and reading the
 * host's clock start no process and no login shell. One request per line on stdin:
 * `ID kill SIG PID` (SIG one of TERM, KILL, STOP, CONT) or `ID clock`; one reply per
 * line: `ID ok`, `ID ok gone` (no such process: what a kill wanted), `ID ok CLOCK NS`,
 * `ID err WHY`. IDs and arguments are checked against fixed patterns here too; nothing a
 * client sends is ever evaluated. Ends when its stdin (the channel) closes.
 */
export const CONTROL = `${STAMP}
while IFS=' ' read -r id verb a b rest; do
  case $id in '' | *[!0-9]*) continue ;; esac
  case $verb in
    kill)
      case $a in TERM | KILL | STOP | CONT) ;; *) echo "$id err bad-signal"; continue ;; esac
      case $b in '' | *[!0-9]*) echo "$id err bad-pid"; continue ;; esac
      if kill -s "$a" "$b" 2>/dev/null; then echo "$id ok"
      elif kill -0 "$b" 2>/dev/null; then echo "$id err not-permitted"
      else echo "$id ok gone"
      fi
      ;;
    clock) stamp; echo "$id ok $clock $now" ;;
    *) echo "$id err unknown-verb" ;;
  esac
done`;

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
