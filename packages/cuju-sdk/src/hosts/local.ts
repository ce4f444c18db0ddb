/**
 * LocalHost: Cuju on this machine, through child_process without a shell. argv goes to
 * the kernel as it is (no quoting needed, none possible to get wrong).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, statSync } from 'node:fs';
import { type FileHandle, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { checkOptions, checkText, checkUnixSocketPath } from '../validate.js';
import {
  checkAdoptOptions,
  checkArgv,
  checkHostPath,
  checkName,
  checkRunOptions,
  checkSpawnOptions,
  checkVmRef,
  writeRequest,
} from './args.js';
import {
  HostAbortedError,
  HostBinaryMissingError,
  HostCommandError,
  HostConnectError,
  HostError,
  type HostErrorOptions,
  HostTimeoutError,
  safeCause,
} from './errors.js';
import {
  exitOf,
  FileFollower,
  FollowReader,
  LineSplitter,
  monotonicToPerformance,
  parseDeathRecord,
  RunLines,
  readRange,
  VmHandle,
} from './follow.js';
import type {
  AdoptOptions,
  Host,
  RunOptions,
  RunResult,
  SpawnOptions,
  VmExit,
  VmProcess,
  VmRef,
  WriteFileOptions,
} from './host.js';
import { checkWriteFile, failureOf, writeFileArgv } from './outcome.js';
import { makeRedact, type Redact, type SecretPattern } from './redact.js';
import { FOLLOW, VM_WRAPPER, WRITE_FILE } from './remote-scripts.js';
import { signalStatus } from './signals.js';

/** `new LocalHost()` options. */
export interface LocalHostOptions {
  /** The address other hosts use to reach this one (default 127.0.0.1). */
  address?: string;
  /**
   * Secrets to keep out of this host's errors (strings, or RegExps for every match): the
   * messages, and the `argv` and `stderr` copies errors keep, show `<redacted>` instead.
   * Credentials in URLs (`https://user:TOKEN@...`) are always redacted.
   */
  redact?: readonly SecretPattern[];
}

/** How long a timed-out or aborted command gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 1_000;

export class LocalHost implements Host {
  readonly name = 'local';
  readonly address: string;
  readonly #redact: Redact;

  constructor(options?: LocalHostOptions) {
    const o = checkOptions('options', options);
    this.address =
      o.address === undefined ? '127.0.0.1' : checkName('address', o.address, 'a host name or address');
    this.#redact = makeRedact('redact', o.redact);
  }

  /** `text` with the secrets this host was given (and URL credentials) replaced by `<redacted>`. */
  redact(text: string): string {
    return this.#redact(checkText('text', text));
  }

  /** How every error of this host is made: named after it, its texts redacted. */
  get #ctx(): HostErrorOptions & { host: string; redact: Redact } {
    return { host: this.name, redact: this.#redact };
  }

  async run(argv: readonly string[], options?: RunOptions): Promise<RunResult> {
    checkArgv(argv);
    const o = checkRunOptions(options);
    if (o.cwd !== undefined) this.#assertDirectory(o.cwd);
    const full = o.sudo ? ['sudo', '-n', '--', ...argv] : [...argv];
    const result = await this.#execute(full, o);
    const failure = failureOf(argv, result, { sudo: o.sudo, ...this.#ctx });
    if (failure) throw failure;
    if (o.check && result.code !== 0) {
      throw new HostCommandError(argv, result.code, result.stderr, this.#ctx);
    }
    return result;
  }

  /**
   * Starts VM_WRAPPER (remote-scripts.ts, the same wrapper SshHost uses) detached, as this
   * process's child: the VM runs under it in its own session and process group, stdout and
   * stderr appended to `logPath`. The VM's lines come from the log (fs.watch, a poll as a
   * backstop); its death the moment the wrapper exits (a child's exit is seen at once),
   * stamped by the wrapper with the host's monotonic clock. Needs sh, flock and setsid
   * (util-linux).
   */
  async spawnVm(argv: readonly string[], spawnOptions: SpawnOptions): Promise<VmProcess> {
    checkArgv(argv);
    const options = checkSpawnOptions(spawnOptions);
    if (options.cwd !== undefined) this.#assertDirectory(options.cwd);
    const logPath = resolve(options.cwd ?? process.cwd(), options.logPath);
    const program = argv[0]!;
    let fd: number;
    try {
      fd = openSync(logPath, 'a');
    } catch (err) {
      throw new HostError('HOST_COMMAND_FAILED', `cannot open log file ${logPath}: ${errorCode(err)}`, {
        ...this.#ctx,
        cause: safeCause(err, this.#redact),
      });
    }
    const start = fstatSync(fd).size;
    closeSync(fd);

    const wrapper = ['sh', '-c', VM_WRAPPER, 'cuju-vm', logPath, ...argv];
    const full = options.sudo ? ['sudo', '-n', '--', ...wrapper] : wrapper;
    // detached: its own session, so that a Ctrl-C meant for this process does not reach
    // the VM, and so that it outlives this process. Its pipes stay open (and drained):
    // closing them could kill sudo, the wrapper's parent, with SIGPIPE.
    const child = spawn(full[0]!, full.slice(1), {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await started(child, full[0]!, this.#ctx);
    const pid = await this.#wrapperPid(child, wrapper, program, options.sudo);
    const handle = new VmHandle({ pid, logPath, ...(options.sudo ? { sudo: true } : {}) }, (signal) =>
      this.#signalGroup(pid, signal, options.sudo),
    );
    const splitter = new LineSplitter((line) => handle.deliverLine(line));
    const follower = new FileFollower(logPath, start, (chunk) => splitter.push(chunk));
    const onExit = () => {
      const seenAt = performance.now();
      void (async () => {
        const record = parseDeathRecord(await readFile(`${logPath}.exit`, 'utf8').catch(() => ''));
        // The wrapper's stamp when it read CLOCK_MONOTONIC (root); otherwise when this
        // process saw the wrapper end, which is finer than the 10 ms of /proc/uptime.
        let exit = exitOf(record, record?.clock === 'monotonic' ? monotonicToPerformance(record.ns) : seenAt);
        if (!record) exit = await this.#outlive(pid, exit);
        handle.die(exit);
        await follower.finish().catch(() => {});
        splitter.end();
        await this.#removeWrapperFiles(logPath, options.sudo);
        handle.settle(exit);
      })();
    };
    child.once('exit', onExit);
    handle.releaser = async () => {
      child.off('exit', onExit);
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
      await follower.finish().catch(() => {});
    };
    return handle;
  }

  /**
   * Adopts a VM that spawnVm() started (in this process or an earlier one) from its pid
   * and log: the FOLLOW script (the one SshHost runs) follows its log from `offset` and
   * reports its death through the wrapper's lock. Starts nothing.
   */
  async adoptVm(ref: VmRef, adoptOptions?: AdoptOptions): Promise<VmProcess> {
    const r = checkVmRef(ref);
    const offset = checkAdoptOptions(adoptOptions).offset;
    const argv = [
      'sh',
      '-c',
      FOLLOW,
      'cuju-follow',
      r.logPath,
      String(r.pid),
      offset === undefined ? '' : String(offset),
    ];
    const full = r.sudo ? ['sudo', '-n', '--', ...argv] : argv;
    const handle = new VmHandle(r, (signal) => this.#signalGroup(r.pid, signal, r.sudo));
    const reader = new FollowReader(handle, (record) =>
      record.clock === 'monotonic' ? monotonicToPerformance(record.ns) : undefined,
    );
    // Its stdin is a pipe from this process: when this process ends, the follower does.
    const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    await started(child, full[0]!, this.#ctx);
    child.stdin?.on('error', () => {});
    child.stdout?.on('data', (b: Buffer) => reader.stdout(b));
    child.stderr?.on('data', (b: Buffer) => reader.stderr(b));
    child.once('close', () => {
      void (async () => {
        if (!reader.ended) {
          handle.fail(new HostError('HOST_COMMAND_FAILED', `stopped following process ${r.pid}`, this.#ctx));
          return;
        }
        const gap = reader.missing();
        reader.finish(gap ? await readRange(r.logPath, gap.from, gap.to).catch(() => undefined) : undefined);
      })();
    });
    handle.releaser = async () => {
      child.stdin?.end();
      await new Promise<void>((done) =>
        child.exitCode !== null || child.signalCode !== null ? done() : child.once('close', () => done()),
      );
    };
    // Lines are counted from the offset the script reports first.
    await reader.ready;
    return handle;
  }
  /**
   * Writes the file through node:fs (a temporary file created exclusively next to it,
   * written, chmod, fsync, renamed over `path`); with `sudo`, through `sudo -n sh -c`
   * WRITE_FILE (remote-scripts.ts) with the content on its stdin, as SshHost does.
   */
  async writeFile(filePath: string, content: string | Uint8Array, options?: WriteFileOptions): Promise<void> {
    const { path, mode, sudo, data } = writeRequest(filePath, content, options);
    const fail = (reason: string, cause?: unknown) =>
      new HostError('HOST_COMMAND_FAILED', `cannot write ${path}: ${reason}`, {
        ...this.#ctx,
        ...(cause === undefined ? {} : { cause: safeCause(cause, this.#redact) }),
      });

    if (sudo) {
      const argv = writeFileArgv(WRITE_FILE, path, mode, data.length);
      const result = await this.#execute(['sudo', '-n', '--', ...argv], {}, data);
      checkWriteFile(argv, path, result, { sudo: true, ...this.#ctx });
      return;
    }

    const target = resolve(path);
    const dir = dirname(target);
    if (!(await isDirectory(dir))) {
      throw fail(existsSync(dir) ? `${dir} is not a directory` : `directory ${dir} does not exist`);
    }
    // rename(2) would replace a symlink to a directory; refuse it as WRITE_FILE does.
    if (await isDirectory(target)) throw fail(`${path} is a directory`);
    const tmp = join(dir, `.cuju-write.${randomBytes(6).toString('hex')}`);
    let file: FileHandle | undefined;
    try {
      file = await open(tmp, 'wx', 0o600);
      await file.writeFile(data);
      await file.chmod(mode);
      await file.sync();
      await file.close();
      file = undefined;
      await rename(tmp, target);
    } catch (err) {
      await file?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
      throw fail((err as Error).message, err);
    }
  }

  /** Connects to the Unix socket `path` (at most 107 bytes, no NUL: see checkUnixSocketPath). */
  async connectMonitor(path: string): Promise<Duplex> {
    checkUnixSocketPath('path', path);
    return new Promise((resolvePromise, reject) => {
      const socket = createConnection({ path });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolvePromise(socket);
      });
      socket.once('error', (err) => {
        reject(
          new HostConnectError(
            `cannot connect to monitor socket ${path} (${errorCode(err)}): is the VM running with ` +
              '-chardev socket,path=...,server,nowait on this path?',
            { ...this.#ctx, cause: safeCause(err, this.#redact) },
          ),
        );
      });
    });
  }

  async close(): Promise<void> {
    // Nothing to close: spawned VMs are meant to outlive the handle's owner.
  }

  /**
   * The VM's pid, as the wrapper prints it first on its stdout; or the typed error for why
   * the wrapper ended without starting it (program not found, sudo refused, log in use).
   */
  #wrapperPid(
    child: ChildProcess,
    wrapper: readonly string[],
    program: string,
    sudo: boolean | undefined,
  ): Promise<number> {
    return new Promise((resolvePid, reject) => {
      let out = '';
      let err = '';
      const onOut = (b: Buffer) => {
        out += b.toString('utf8');
        const m = /^(\d+)\n/.exec(out);
        if (!m) return;
        child.stdout?.off('data', onOut);
        child.off('exit', onExit);
        // Drained from here on (the wrapper writes nothing more; sudo might).
        child.stdout?.resume();
        child.stderr?.resume();
        resolvePid(Number(m[1]));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        child.stdout?.off('data', onOut);
        const result = { code: code ?? signalStatus(signal ?? ''), stdout: out, stderr: err };
        if (result.code === 127 && err.includes(`cuju-vm: ${program}: not found`)) {
          reject(new HostBinaryMissingError(program, { ...this.#ctx, sudo }));
          return;
        }
        const failure = failureOf(wrapper, result, { sudo, ...this.#ctx });
        reject(
          failure ??
            new HostError(
              'HOST_COMMAND_FAILED',
              `cannot start '${program}' (exit ${result.code}): ${err.trim() || 'the wrapper reported no pid'}`,
              this.#ctx,
            ),
        );
      };
      child.stdout?.on('data', onOut);
      child.stderr?.on('data', (b: Buffer) => {
        err += b.toString('utf8');
      });
      child.once('exit', onExit);
    });
  }

  /**
   * A wrapper that ended without recording the VM's exit was killed itself: the VM may
   * still run. Watch its pid until it is gone (every 50 ms) and report that moment.
   */
  async #outlive(pid: number, exit: VmExit): Promise<VmExit> {
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        return errorCode(err) === 'EPERM';
      }
    };
    if (!alive()) return exit;
    while (alive()) await new Promise((r) => setTimeout(r, 50));
    return { ...exit, diedAt: performance.now() };
  }

  /** LOG.pid, LOG.exit and LOG.lock, once read: only the log stays. */
  async #removeWrapperFiles(logPath: string, sudo: boolean | undefined): Promise<void> {
    const files = ['pid', 'exit', 'lock'].map((ext) => `${logPath}.${ext}`);
    if (sudo) {
      await this.run(['rm', '-f', '--', ...files], { sudo: true }).catch(() => {});
      return;
    }
    await Promise.all(files.map((f) => rm(f, { force: true }).catch(() => {})));
  }

  /**
   * Spawns argv without a shell, collects its output (and hands its lines to
   * `options.onLine`), enforces timeout and abort. stdin is `input`, or /dev/null.
   */
  #execute(full: readonly string[], options: RunOptions, input?: Buffer): Promise<RunResult> {
    if (options.signal?.aborted) {
      return Promise.reject(
        new HostAbortedError(`'${full.join(' ')}' was aborted before it started`, this.#ctx),
      );
    }
    return new Promise<RunResult>((resolvePromise, reject) => {
      // Own process group, so that a timeout kills what the command started as well.
      const child = spawn(full[0]!, full.slice(1), {
        cwd: options.cwd,
        detached: true,
        stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
      if (input && child.stdin) {
        child.stdin.on('error', () => {}); // EPIPE: the command exited without reading it all
        child.stdin.end(input);
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const lines = options.onLine ? new RunLines(options.onLine) : undefined;
      child.stdout?.on('data', (b: Buffer) => {
        out.push(b);
        lines?.stdout.push(b);
      });
      child.stderr?.on('data', (b: Buffer) => {
        err.push(b);
        lines?.stderr.push(b);
      });
      let stopped: HostError | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      const stop = (error: HostError) => {
        if (stopped) return;
        stopped = error;
        this.#signalGroupSync(child.pid, 'SIGTERM');
        graceTimer = setTimeout(() => this.#signalGroupSync(child.pid, 'SIGKILL'), KILL_GRACE_MS);
      };
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(
              () =>
                stop(
                  new HostTimeoutError(
                    `'${full.join(' ')}' did not finish within ${options.timeoutMs} ms`,
                    this.#ctx,
                  ),
                ),
              options.timeoutMs,
            );
      const onAbort = () => stop(new HostAbortedError(`'${full.join(' ')}' was aborted`, this.#ctx));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        clearTimeout(graceTimer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      child.once('error', (e) => {
        cleanup();
        reject(spawnError(e, full[0]!, this.#ctx));
      });
      child.once('close', (code, signal) => {
        cleanup();
        lines?.end();
        if (stopped) return reject(stopped);
        resolvePromise({
          code: code ?? signalStatus(signal ?? ''),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          ...(signal ? { signal } : {}),
        });
      });
    });
  }

  async #signalGroup(pid: number, signal: 'SIGTERM' | 'SIGKILL', sudo?: boolean): Promise<void> {
    if (sudo) {
      // The group holds root's processes: signal it as root. A gone group is no error.
      const r = await this.run(
        ['sh', '-c', 'kill -s "$1" -- "-$2" 2>&1', 'sh', signal.slice(3), String(pid)],
        {
          sudo: true,
        },
      );
      if (r.code !== 0 && !/no such process/i.test(r.stdout)) {
        throw new HostError(
          'HOST_COMMAND_FAILED',
          `cannot signal process group ${pid}: ${r.stdout.trim()}`,
          this.#ctx,
        );
      }
      return;
    }
    this.#signalGroupSync(pid, signal);
  }

  #signalGroupSync(pid: number | undefined, signal: NodeJS.Signals): void {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch (err) {
      if (errorCode(err) === 'ESRCH') return; // already gone
      throw new HostError(
        'HOST_COMMAND_FAILED',
        `cannot send ${signal} to process group ${pid}: ${errorCode(err)}`,
        {
          ...this.#ctx,
          cause: safeCause(err, this.#redact),
        },
      );
    }
  }

  #assertDirectory(cwd: string): void {
    checkHostPath('cwd', cwd);
    let isDir = false;
    try {
      isDir = statSync(cwd).isDirectory();
    } catch {}
    // Checked here because spawn reports a missing cwd as ENOENT of the program.
    if (!isDir) throw new HostError('HOST_COMMAND_FAILED', `cwd ${cwd} is not a directory`, this.#ctx);
  }
}

/** Resolves once the child has started; rejects with the typed spawn error otherwise. */
function started(child: ChildProcess, program: string, ctx: ErrorContext): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    child.once('spawn', () => {
      child.removeAllListeners('error');
      child.on('error', () => {}); // later errors (a failed kill) are reported by kill() itself
      resolvePromise();
    });
    child.once('error', (err) => reject(spawnError(err, program, ctx)));
  });
}

type ErrorContext = HostErrorOptions & { redact: Redact };

/** The typed error for a failed spawn; Node's own error (it holds the whole argv) is not kept. */
function spawnError(err: Error, program: string, ctx: ErrorContext): HostError {
  if (errorCode(err) === 'ENOENT') return new HostBinaryMissingError(program, ctx);
  const cause = safeCause(err, ctx.redact);
  if (errorCode(err) === 'EACCES') {
    return new HostError('HOST_COMMAND_FAILED', `'${program}' is not executable (EACCES): check its mode`, {
      ...ctx,
      cause,
    });
  }
  return new HostError('HOST_COMMAND_FAILED', `cannot start '${program}': ${err.message}`, { ...ctx, cause });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);
}
