import type { Duplex } from 'node:stream';

/** What a command run on a host returned. */
export interface RunResult {
  /** The exit status; for a process killed by a signal, 128 + the signal's number (as shells do). */
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the process was killed by a signal (`SIGTERM`, ...). */
  signal?: string;
}

/** `run()` options: input, working directory, sudo, a deadline, an AbortSignal, line callbacks. */
export interface RunOptions {
  /** Run through `sudo -n` (no password prompt: missing rights fail at once with HostSudoError). */
  sudo?: boolean;
  /** Kill the command (SIGTERM, then SIGKILL) and reject with HostTimeoutError after this long. */
  timeoutMs?: number;
  /** Kill the command and reject with HostAbortedError when this aborts. */
  signal?: AbortSignal;
  cwd?: string;
  /**
   * Reject with HostCommandError when the exit status is not 0 (default false: the result
   * is returned whatever the status). A missing program (HostBinaryMissingError) and a
   * sudo refusal (HostSudoError) always reject.
   */
  check?: boolean;
  /**
   * Called with each line of the command's stdout and of its stderr as it arrives, in order
   * within each stream (the order between the two streams is not kept), without its line
   * break (`\n`, or `\r\n` as a whole). A last line without a break is delivered when the
   * command ends. Bytes are decoded as UTF-8 line by line: a character split across writes
   * comes out whole. Every line has been delivered before `run()` settles, also when it
   * rejects (timeout, abort, lost connection: the lines received until then). The result's
   * `stdout` and `stderr` are the same with or without a listener. A listener that throws
   * (or returns a promise that rejects) is ignored for that line: the run goes on and later
   * lines are still delivered.
   */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** `writeFile()` options: the file mode, sudo. */
export interface WriteFileOptions {
  /**
   * The file's permission bits, 0 to 0o7777 (default 0o644). Set exactly (the umask does not
   * apply) before the file appears under its name.
   */
  mode?: number;
  /**
   * Write as root through `sudo -n` (HostSudoError when refused, HostBinaryMissingError when
   * sudo is not installed). The file is then owned by root.
   */
  sudo?: boolean;
}

/** `spawnVm()` options: the log file, working directory, sudo. */
export interface SpawnOptions {
  /**
   * Where the process's stdout and stderr go, on the host. Appended to: the handle's lines
   * start at the file's end as it was at the start. Relative paths are taken from `cwd`
   * (or the working directory of this process, or the SSH user's home). Over SSH the
   * files `LOG.pid` and `LOG.exit` are written next to it.
   */
  logPath: string;
  sudo?: boolean;
  cwd?: string;
}

/**
 * How the process ended: `code` for an exit, `signal` (`SIGKILL`, ...) for a kill. Both
 * null only over SSH when the process is gone but its status was never recorded (its
 * wrapper was killed too).
 */
export interface VmExit {
  code: number | null;
  signal: string | null;
  /**
   * When the process died, as this process's `performance.now()` (ms): the host's own
   * record, a monotonic stamp its wrapper took when `wait` returned, mapped to this
   * process's clock. Undefined when the host could not record it (the wrapper was killed).
   */
  diedAt?: number;
}

/** A VM started by spawnVm(), as another process can find it again (see adoptVm). */
export interface VmRef {
  pid: number;
  /** Its log; the wrapper's `LOG.pid`, `LOG.exit` and `LOG.lock` sit beside it. */
  logPath: string;
  /** It was started through sudo (signals go through sudo too). */
  sudo?: boolean;
}

/** `adoptVm()` options. */
export interface AdoptOptions {
  /** The byte of the log from which lines are delivered (default: its end, as it is now). */
  offset?: number;
}

/** A long-running process (a Cuju VM) started on a host. */
export interface VmProcess {
  readonly pid: number;
  readonly logPath: string;
  /**
   * Each line the process writes to stdout or stderr, in order, from its start (without
   * the line break; a last line without one is delivered when the process exits). A
   * listener added late is first given the lines seen so far (up to the last 10,000),
   * synchronously, inside this call. Returns the function that removes the listener.
   */
  onLine(listener: (line: string) => void): () => void;
  /**
   * Resolves once the process has exited (however it ended), after every line has been
   * delivered. Over SSH it rejects with HostDisconnectedError when the connection is lost
   * or closed first: the process may then still be running on the host.
   */
  readonly exited: Promise<VmExit>;
  /**
   * Resolves at the first notice of the death, as soon as the host records it (before the
   * last lines are delivered; `exited` waits for those). Over SSH it rejects like `exited`.
   */
  readonly died: Promise<VmExit>;
  /** True until the death has been seen (`died` settled). */
  readonly running: boolean;
  /**
   * Sends the signal (default SIGTERM); resolves once the host has sent it, not once the
   * process has gone (await `died` for that). Over SSH it goes through a channel kept open
   * for such commands (no new login shell per signal). A no-op once the process has exited.
   */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** How to find this VM again from another process (FtPair records, Host.adoptVm). */
  readonly ref: VmRef;
  /**
   * Stops following the process without touching it (it keeps running): no more lines,
   * and `died` and `exited`, unless already settled, reject with HOST_DISCONNECTED. For
   * handing a VM over to another process (FtPair.detach(), then attach() there).
   */
  release(): Promise<void>;
}

/**
 * Where Cuju runs: this machine (LocalHost) or another over SSH (SshHost). Arguments are
 * always an argv array and never pass through a shell unquoted.
 */
export interface Host {
  /** For messages: `local`, `ssh:root@127.0.0.2:2222`. */
  readonly name: string;
  /** The address other hosts use to reach this one (FT links, GFT join ports). */
  readonly address: string;
  /**
   * Runs a program to completion. argv[0] is looked up on PATH and never run through a
   * shell unquoted; a non-zero exit resolves (see `check`). Its output can be followed
   * line by line as it comes (`onLine`). Rejects with CujuArgumentError before anything
   * is sent (an argv that is not a non-empty array of strings, a NUL byte in an argument,
   * an option of the wrong type), or with a HostError: HOST_BINARY_MISSING,
   * HOST_SUDO_DENIED, HOST_TIMEOUT, HOST_ABORTED, HOST_DISCONNECTED, HOST_COMMAND_FAILED.
   */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Starts a long-running program detached from this process and from the SSH session
   * (it survives both), stdout and stderr appended to `logPath`. Resolves once it has
   * started; rejects with HOST_BINARY_MISSING or HOST_SUDO_DENIED before starting anything,
   * and with CujuArgumentError for a path holding NUL, CR or LF.
   */
  spawnVm(argv: readonly string[], options: SpawnOptions): Promise<VmProcess>;
  /**
   * Writes `content` to the file `path` on the host: a string as UTF-8, bytes as they are
   * (any bytes, NUL included; nothing is added, not even a final line break). Atomic: the
   * bytes go to a temporary file in the same directory (`.cuju-write.XXXXXX`), which is
   * given `mode` and then renamed over `path`, so a reader sees the old file or the whole
   * new one, never a part. The file is therefore a new one (a new inode, owned by the
   * writing user); a symlink at `path` is replaced, not written through (one to a
   * directory counts as a directory). Relative paths are taken from this process's working
   * directory (LocalHost) or the SSH user's home (SshHost).
   *
   * Rejects with CujuArgumentError before anything is sent (a path that is empty, ends in
   * `/` or holds NUL, CR or LF; a mode outside 0..0o7777; content neither a string nor a
   * Uint8Array); with a HostError: HOST_COMMAND_FAILED, naming the path, when its directory
   * does not exist, `path` is a directory or the file cannot be written (no temporary file
   * is left behind); HOST_BINARY_MISSING or HOST_SUDO_DENIED with `sudo`;
   * HOST_DISCONNECTED when the connection is lost, in which case `path` is either
   * untouched or entirely replaced (a transfer cut short is never renamed into place).
   */
  writeFile(path: string, content: string | Uint8Array, options?: WriteFileOptions): Promise<void>;
  /**
   * A byte stream to a Unix socket on the host (a Cuju monitor). Rejects with
   * CujuArgumentError for a path the kernel would read as another (a NUL byte, more than
   * 107 bytes: sun_path is 108 with its terminator), HOST_CONNECT_FAILED when nothing
   * listens.
   */
  connectMonitor(path: string): Promise<Duplex>;
  /**
   * A handle for a VM that spawnVm() started, here or in an earlier process, from its pid
   * and log: its lines from `offset` on, its death and exit as its wrapper records them.
   * Starts nothing. A VM that is gone gives a handle whose `died` and `exited` have
   * settled (with the recorded status, or `{ code: null, signal: null }` when none was).
   */
  adoptVm?(ref: VmRef, options?: AdoptOptions): Promise<VmProcess>;
  /** Closes the connection (SSH). Started VMs keep running. */
  close(): Promise<void>;
  /**
   * `text` with this host's secrets replaced by `<redacted>` (LocalHost and SshHost: the
   * `redact` option, URL credentials). Code that reports what it ran on a host (prepareHost)
   * passes its texts through it; a host without it reports them as they are.
   */
  redact?(text: string): string;
}
