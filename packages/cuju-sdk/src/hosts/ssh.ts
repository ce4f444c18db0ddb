/**
 * SshHost: Cuju on another machine, through one ssh2 connection. Commands are argv
 * arrays turned into a single command string by quoting every element (quote.ts);
 * long-running VMs are started detached by a small wrapper (remote-scripts.ts) that
 * survives the connection and records the pid and exit status next to the log.
 */
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { CujuArgumentError } from '../errors.js';
import { checkText, checkUnixSocketPath } from '../validate.js';
import {
  checkAdoptOptions,
  checkArgv,
  checkRunOptions,
  checkSpawnOptions,
  checkVmRef,
  writeRequest,
} from './args.js';
import { ControlChannel } from './control.js';
import {
  HostAbortedError,
  HostBinaryMissingError,
  HostCommandError,
  HostConnectError,
  HostDisconnectedError,
  HostError,
  type HostErrorOptions,
  HostTimeoutError,
} from './errors.js';
import { type DeathRecord, FollowReader, RunLines, VmHandle } from './follow.js';
import type {
  AdoptOptions,
  Host,
  RunOptions,
  RunResult,
  SpawnOptions,
  VmProcess,
  VmRef,
  WriteFileOptions,
} from './host.js';
import { checkWriteFile, failureOf, writeFileArgv } from './outcome.js';
import { PID_MARKER, PID_MARKER_LINE, remoteCommand } from './quote.js';
import type { Redact } from './redact.js';
import { CONTROL, FOLLOW, KILL, KILL_GROUP, SPAWN, VM_WRAPPER, WRITE_FILE } from './remote-scripts.js';
import { signalStatus } from './signals.js';
import {
  checkSshOptions,
  type OpenedConnection,
  openConnection,
  type SshHostOptions,
} from './ssh-connect.js';

export type { HostKeyCheck, SshHostOptions } from './ssh-connect.js';

/** How long a timed-out or aborted remote command gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 1_000;

interface ExecOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** For messages: what ran. */
  what: string;
  /** The command was built with `reportPid`: strip the marker, and kill by pid on timeout. */
  reportPid?: boolean;
  /** The command runs through sudo: so must the signals that stop it (root's processes). */
  sudo?: boolean;
  /** Each line of output as it arrives (never the `reportPid` marker). */
  onLine?: RunOptions['onLine'];
  /** Written to the channel, which is then ended (for a command built with `stdin: 'channel'`). */
  input?: Buffer;
}

/** Only SshHost.connect() makes an SshHost: `new SshHost()` from JavaScript is refused. */
const CONNECTED = Symbol('SshHost.connect');

export class SshHost implements Host {
  readonly name: string;
  readonly address: string;
  /** The `SHA256:` fingerprint of the host key that was verified for this connection. */
  readonly hostKeyFingerprint: string;
  /** Resolves once the connection has closed, by close() or because it was lost. */
  readonly closed: Promise<void>;
  // Private (#) so that util.inspect, JSON.stringify and console.log never reach the ssh2
  // client, which holds the private key and passphrase in its configuration.
  readonly #client: Client;
  readonly #redact: Redact;
  #lost: HostError | undefined;
  #closing = false;

  /**
   * Connects, checks the host key (before authenticating) and authenticates. Rejects with
   * CujuArgumentError for bad options (nothing sent), or a HostError: HOST_KEY_UNKNOWN /
   * HOST_KEY_CHANGED, HOST_AUTH_FAILED, HOST_CONNECT_FAILED, HOST_TIMEOUT.
   */
  static async connect(options: SshHostOptions): Promise<SshHost> {
    const checked = checkSshOptions(options);
    const name = `ssh:${checked.username}@${checked.host}:${checked.port}`;
    const opened = await openConnection(checked, name);
    return new SshHost(CONNECTED, opened, name, checked.address, checked.redact);
  }

  private constructor(
    token: typeof CONNECTED,
    opened: OpenedConnection,
    name: string,
    address: string,
    redact: Redact,
  ) {
    if (token !== CONNECTED) {
      throw new CujuArgumentError('SshHost', 'is made by SshHost.connect(options), not with new');
    }
    this.#client = opened.client;
    this.#redact = redact;
    this.hostKeyFingerprint = opened.fingerprint;
    this.name = name;
    this.address = address;
    const client = this.#client;
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    // Keepalive timeouts and socket errors arrive here, followed by 'close'.
    client.on('error', (err: Error) => {
      this.#lost ??= new HostDisconnectedError(`connection lost (${err.message})`, {
        ...this.#ctx,
        cause: err,
      });
    });
    this.closed = new Promise((resolve) => {
      client.once('close', () => {
        this.#lost ??= new HostDisconnectedError(
          this.#closing ? 'the connection was closed' : 'the server closed the connection',
          this.#ctx,
        );
        resolve();
      });
    });
  }

  /** False once the connection has closed or been lost. */
  get connected(): boolean {
    return this.#lost === undefined;
  }

  /** `text` with this host's secrets (`redact`, the passphrase, URL credentials) replaced by `<redacted>`. */
  redact(text: string): string {
    return this.#redact(checkText('text', text));
  }

  /** How every error of this host is made: named after it, its texts redacted. */
  get #ctx(): HostErrorOptions & { host: string; redact: Redact } {
    return { host: this.name, redact: this.#redact };
  }

  async run(argv: readonly string[], runOptions?: RunOptions): Promise<RunResult> {
    checkArgv(argv);
    const options = checkRunOptions(runOptions);
    const command = remoteCommand(argv, { sudo: options.sudo, cwd: options.cwd, reportPid: true });
    const result = await this.#execCollect(command, {
      ...options,
      what: `'${argv.join(' ')}'`,
      reportPid: true,
    });
    const failure = failureOf(argv, result, { sudo: options.sudo, ...this.#ctx });
    if (failure) throw failure;
    if (options.cwd !== undefined && result.code === 1 && /\bcd: /.test(result.stderr)) {
      throw new HostError(
        'HOST_COMMAND_FAILED',
        `cannot change to directory ${options.cwd}: ${result.stderr.trim()}`,
        this.#ctx,
      );
    }
    if (options.check && result.code !== 0) {
      throw new HostCommandError(argv, result.code, result.stderr, this.#ctx);
    }
    return result;
  }

  /**
   * Starts argv detached on the host under VM_WRAPPER (remote-scripts.ts: setsid, so it
   * survives this connection), stdout and stderr appended to logPath, pid in `LOG.pid`.
   * The handle follows the log with `tail -F` (inotify) and learns of the death the moment
   * the wrapper records it (`LOG.exit`, a monotonic stamp: see FOLLOW), not by polling.
   * Signals go through a command channel kept open to the host (CONTROL), opened with the
   * first VM. Needs GNU tail, flock and setsid (util-linux) on the host.
   */
  async spawnVm(argv: readonly string[], spawnOptions: SpawnOptions): Promise<VmProcess> {
    checkArgv(argv);
    const options = checkSpawnOptions(spawnOptions);
    const program = argv[0]!;
    const logPath =
      options.cwd !== undefined && !posix.isAbsolute(options.logPath)
        ? posix.join(options.cwd, options.logPath)
        : options.logPath;
    // Opened beside the start, so that the first kill finds it open.
    const control = this.#control(options.sudo).catch(() => undefined);
    const spawnArgv = ['sh', '-c', SPAWN, 'cuju-spawn', VM_WRAPPER, logPath, options.cwd ?? '', ...argv];
    const result = await this.#execCollect(remoteCommand(spawnArgv, { sudo: options.sudo }), {
      what: `starting '${program}'`,
    });
    // The wrapper's own report first: failureOf knows only the shell's wording.
    if (result.code === 127 && result.stderr.includes(`cuju-spawn: ${program}: not found`)) {
      throw new HostBinaryMissingError(program, { ...this.#ctx, sudo: options.sudo });
    }
    const failure = failureOf(spawnArgv, result, { sudo: options.sudo, ...this.#ctx });
    if (failure) throw failure;
    const started = /^(\d+) (\d+) (.+)$/m.exec(result.stdout);
    if (result.code !== 0 || !started) {
      throw new HostError(
        'HOST_COMMAND_FAILED',
        `cannot start '${program}' (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`,
        this.#ctx,
      );
    }
    const pid = Number(started[1]);
    const offset = Number(started[2]);
    const ref: VmRef = { pid, logPath: started[3]!, ...(options.sudo ? { sudo: true } : {}) };
    await control;
    try {
      return await this.#follow(ref, offset);
    } catch (err) {
      // A VM nobody can follow or see exit is worse than none: stop it, then report.
      await this.#signalProcess(pid, 'SIGKILL', options.sudo).catch(() => {});
      throw err;
    }
  }

  /**
   * Adopts a VM that spawnVm() started (through this connection or an earlier one, from
   * this process or another) from its pid and log: FOLLOW from `offset` (default: the
   * log's end), the death through the wrapper's lock. Starts nothing on the host but the
   * follower; a VM that is gone gives a handle that has already died.
   */
  async adoptVm(ref: VmRef, adoptOptions?: AdoptOptions): Promise<VmProcess> {
    const r = checkVmRef(ref);
    const { offset } = checkAdoptOptions(adoptOptions);
    await this.#control(r.sudo).catch(() => undefined);
    return this.#follow(r, offset);
  }
  /**
   * Writes the file through one exec channel running WRITE_FILE (remote-scripts.ts): the
   * content is the channel's data, the script's stdin; the script renames its temporary
   * file into place only once every byte has arrived. Needs mktemp on the host.
   */
  async writeFile(filePath: string, content: string | Uint8Array, options?: WriteFileOptions): Promise<void> {
    const { path, mode, sudo, data } = writeRequest(filePath, content, options);
    const argv = writeFileArgv(WRITE_FILE, path, mode, data.length);
    const result = await this.#execCollect(remoteCommand(argv, { sudo, stdin: 'channel' }), {
      what: `writing ${path}`,
      input: data,
      sudo,
    });
    checkWriteFile(argv, path, result, { sudo, ...this.#ctx });
  }

  /**
   * Opens the Unix socket on the host through OpenSSH stream-local forwarding (no nc).
   * sshd connects to it on the host, so the kernel's limit applies there: at most 107
   * bytes, no NUL (checkUnixSocketPath).
   */
  async connectMonitor(path: string): Promise<Duplex> {
    checkUnixSocketPath('path', path);
    this.#assertConnected();
    return new Promise((resolve, reject) => {
      this.#client.openssh_forwardOutStreamLocal(path, (err, stream) => {
        if (err) {
          reject(
            new HostConnectError(
              `cannot open monitor socket ${path} through stream-local forwarding (${err.message}): is the VM ` +
                'running with that monitor path, and does sshd allow it (AllowStreamLocalForwarding)?',
              { ...this.#ctx, cause: err },
            ),
          );
        } else resolve(stream);
      });
    });
  }

  /** Closes the connection. VMs started through it keep running; their handles' `exited` rejects. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#client.end();
      const timer = setTimeout(() => this.#client.destroy(), 2_000);
      await this.closed;
      clearTimeout(timer);
    }
    await this.closed;
  }

  /**
   * Runs FOLLOW for a VM: its log lines from `offset` (its end when undefined), its death
   * as soon as the wrapper records it, then its exit once every line is in. Resolves once
   * the follower has started.
   */
  async #follow(ref: VmRef, offset: number | undefined): Promise<VmHandle> {
    const { pid, logPath, sudo } = ref;
    const handle = new VmHandle(ref, (signal) => this.#signalProcess(pid, signal, sudo));
    const argv = [
      'sh',
      '-c',
      FOLLOW,
      'cuju-follow',
      logPath,
      String(pid),
      offset === undefined ? '' : String(offset),
    ];
    const channel = await this.#openExec(remoteCommand(argv, { sudo, stdin: 'channel' }));
    const control = this.#controls.get(sudo === true);
    const reader = new FollowReader(handle, (record) => this.#mapStamp(control, record));
    channel.on('data', (chunk: Buffer) => reader.stdout(chunk));
    channel.stderr.on('data', (chunk: Buffer) => reader.stderr(chunk));
    let released = false;
    channel.on('close', () => {
      if (released) return;
      if (!reader.ended) {
        handle.fail(
          new HostDisconnectedError(
            `stopped following process ${pid} (${this.#lost?.message ?? 'the channel closed'}); it may ` +
              `still be running: see ${logPath} and ${logPath}.exit on the host`,
            this.#ctx,
          ),
        );
        return;
      }
      const gap = reader.missing();
      if (!gap) {
        reader.finish(undefined);
        return;
      }
      // Bytes the VM wrote just before it died that tail had not sent yet.
      void this.#readRange(logPath, gap.from, gap.to, sudo).then(
        (rest) => reader.finish(rest),
        () => reader.finish(undefined),
      );
    });
    handle.releaser = async () => {
      released = true;
      channel.end();
    };
    await reader.ready;
    return handle;
  }

  /** A death stamp of this host on this process's clock, through the control channel's calibration. */
  #mapStamp(control: Promise<ControlChannel> | undefined, record: DeathRecord): number | undefined {
    const settled = control && this.#calibrated.get(control);
    return settled?.toPerformance(record);
  }

  /** Control channels whose calibration is done, by their promise (for synchronous mapping). */
  readonly #calibrated = new WeakMap<Promise<ControlChannel>, ControlChannel>();

  /**
   * The command channel (CONTROL) of this connection, plain or through sudo: opened once,
   * calibrated against this process's clock, kept until the connection closes.
   */
  #control(sudo: boolean | undefined): Promise<ControlChannel> {
    const key = sudo === true;
    const existing = this.#controls.get(key);
    if (existing) return existing;
    const opening = (async () => {
      const command = remoteCommand(['sh', '-c', CONTROL, 'cuju-control'], { sudo: key, stdin: 'channel' });
      const channel = await this.#openExec(command);
      const control = new ControlChannel(channel, this.#ctx, () => this.#lost);
      await control.calibrate();
      return control;
    })();
    this.#controls.set(key, opening);
    opening.then(
      (control) => this.#calibrated.set(opening, control),
      () => {
        if (this.#controls.get(key) === opening) this.#controls.delete(key);
      },
    );
    return opening;
  }

  readonly #controls = new Map<boolean, Promise<ControlChannel>>();

  /** Bytes [from, to) of a file on the host, raw. */
  async #readRange(path: string, from: number, to: number, sudo: boolean | undefined): Promise<Buffer> {
    const argv = [
      'sh',
      '-c',
      'tail -c "+$1" -- "$3" | head -c "$2"',
      'cuju-read',
      String(from + 1),
      String(to - from),
      path,
    ];
    const channel = await this.#openExec(remoteCommand(argv, { sudo }));
    return new Promise((resolve) => {
      const out: Buffer[] = [];
      channel.on('data', (b: Buffer) => out.push(b));
      channel.stderr.on('data', () => {});
      channel.on('close', () => resolve(Buffer.concat(out)));
    });
  }

  /**
   * Signals a VM through the open command channel; when that cannot be opened, through an
   * exec channel of its own (KILL) as a fallback.
   */
  async #signalProcess(pid: number, signal: 'SIGTERM' | 'SIGKILL', sudo?: boolean): Promise<void> {
    let control: ControlChannel | undefined;
    try {
      control = await this.#control(sudo);
    } catch (err) {
      if (this.#lost) throw this.#lost;
      void err; // no command channel (MaxSessions?): an exec channel of its own below
    }
    if (control?.open) {
      await control.kill(signal === 'SIGKILL' ? 'KILL' : 'TERM', pid);
      return;
    }
    const argv = ['sh', '-c', KILL, 'cuju-kill', signal.slice(3), String(pid)];
    const result = await this.#execCollect(remoteCommand(argv, { sudo }), { what: `kill ${pid}` });
    const failure = failureOf(argv, result, { sudo, ...this.#ctx });
    if (failure) throw failure;
    if (result.code !== 0) {
      throw new HostError(
        'HOST_COMMAND_FAILED',
        `cannot send ${signal} to process ${pid}: ${result.stderr.trim()}`,
        this.#ctx,
      );
    }
  }

  /**
   * Runs a command string on an exec channel to its end. On timeout or abort the command's
   * process group (its pid, from `reportPid`) is sent SIGTERM, then SIGKILL, through a
   * second channel. Not SSH `signal` requests: sshd refuses them for root logins (no
   * privilege separation after a root login). Closing the channel is the last resort.
   */
  async #execCollect(command: string, options: ExecOptions): Promise<RunResult> {
    if (options.signal?.aborted) {
      throw new HostAbortedError(`${options.what} was aborted before it started`, this.#ctx);
    }
    const channel = await this.#openExec(command);
    return new Promise<RunResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let pid: number | undefined;
      let markerSkipped = !options.reportPid;
      const lines =
        options.onLine &&
        new RunLines(options.onLine, (line) => {
          // Hold back the marker and what the login shell printed before it: the first
          // line that looks like it is it (the command starts after it), a later one is
          // the command's own.
          if (markerSkipped) return false;
          if (PID_MARKER_LINE.test(line)) markerSkipped = true;
          return true;
        });
      channel.on('data', (b: Buffer) => {
        out.push(b);
        lines?.stdout.push(b);
      });
      channel.stderr.on('data', (b: Buffer) => {
        err.push(b);
        lines?.stderr.push(b);
        if (options.reportPid && pid === undefined) {
          pid = takePid(err);
          if (pid !== undefined && stopped) void this.#signalGroup(pid, 'TERM', options.sudo); // stopped before it was known
        }
      });
      let stopped: HostError | undefined;
      const timers: NodeJS.Timeout[] = [];
      const send = (signal: 'TERM' | 'KILL') => {
        if (pid !== undefined) void this.#signalGroup(pid, signal, options.sudo);
      };
      const stop = (error: HostError) => {
        if (stopped) return;
        stopped = error;
        send('TERM');
        timers.push(setTimeout(() => send('KILL'), KILL_GRACE_MS));
        timers.push(setTimeout(() => channel.close(), 2 * KILL_GRACE_MS));
      };
      if (options.timeoutMs !== undefined) {
        timers.push(
          setTimeout(
            () =>
              stop(
                new HostTimeoutError(
                  `${options.what} did not finish within ${options.timeoutMs} ms`,
                  this.#ctx,
                ),
              ),
            options.timeoutMs,
          ),
        );
      }
      const onAbort = () => stop(new HostAbortedError(`${options.what} was aborted`, this.#ctx));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // Aborted while the channel was opening: stop it now (by its pid once known).
      if (options.signal?.aborted) onAbort();
      if (options.input !== undefined) {
        // ssh2 honours the channel's window; writes to a channel the server has closed
        // (the command exited without reading, the connection is gone) are dropped.
        channel.end(options.input.length > 0 ? options.input : undefined);
      }
      channel.on('close', () => {
        for (const t of timers) clearTimeout(t);
        options.signal?.removeEventListener('abort', onAbort);
        lines?.end();
        if (stopped) return reject(stopped);
        const exit = exits.get(channel);
        if (!exit) {
          return reject(
            new HostDisconnectedError(`${options.what}: the channel closed without an exit status`, {
              ...this.#ctx,
              cause: this.#lost,
            }),
          );
        }
        let stderr = Buffer.concat(err).toString('utf8');
        if (options.reportPid) stderr = withoutPreamble(stderr);
        resolve({
          code: exit.code ?? signalStatus(exit.signal ?? ''),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr,
          ...(exit.signal ? { signal: exit.signal } : {}),
        });
      });
    });
  }

  /** Best effort: the connection may be gone, and then so is the chance to signal. */
  async #signalGroup(pid: number, signal: 'TERM' | 'KILL', sudo?: boolean): Promise<void> {
    try {
      await this.#execCollect(
        remoteCommand(['sh', '-c', KILL_GROUP, 'cuju-kill', signal, String(pid)], { sudo }),
        {
          what: `kill -${signal} -${pid}`,
        },
      );
    } catch {
      // the caller falls back to closing the channel
    }
  }

  #openExec(command: string): Promise<ClientChannel> {
    this.#assertConnected();
    return new Promise((resolve, reject) => {
      this.#client.exec(command, (err, channel) => {
        if (!err) {
          // A quick command's exit status can come in the same read as the channel's
          // confirmation, and so be emitted before the caller (an await later) listens.
          channel.once('exit', (code: number | null, signal?: string) =>
            exits.set(channel, { code, signal }),
          );
          return resolve(channel);
        }
        if (this.#lost) return reject(this.#lost);
        reject(
          new HostError(
            'HOST_COMMAND_FAILED',
            `the server refused a session channel (${err.message}): too many at once? sshd's MaxSessions ` +
              '(default 10) bounds running VMs plus concurrent commands per connection',
            { ...this.#ctx, cause: err },
          ),
        );
      });
    });
  }

  #assertConnected(): void {
    if (this.#lost) throw this.#lost;
  }
}

/** The command's own stderr: what follows the `cuju-pid:` line (all of it if none came). */
function withoutPreamble(stderr: string): string {
  const m = PID_MARKER.exec(stderr);
  return m ? stderr.slice(m.index + m[0].length) : stderr;
}

/** Each exec channel's exit status, recorded from the moment the channel opened. */
const exits = new WeakMap<ClientChannel, { code: number | null; signal?: string }>();

/** The pid from the `cuju-pid:` line, once the whole line has arrived. */
function takePid(stderr: Buffer[]): number | undefined {
  const m = PID_MARKER.exec(Buffer.concat(stderr).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}
