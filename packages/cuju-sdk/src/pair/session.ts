/**
 * One VM, driven: launched through a Host (or adopted from an earlier process), owned
 * from the moment its process exists, its monitor opened once and kept, its stdout lines,
 * its death as its host records it, and its stop and clean-up. FtPair holds two; group FT
 * holds one per member. Engine-neutral: the engine says which line means "ready" and how
 * a monitor is opened.
 */
import { FtPairError } from '../errors.js';
import type { Host, VmExit, VmProcess, VmRef } from '../hosts/host.js';
import type { CujuVmSpec } from '../spec.js';
import type { VmRecord } from './api.js';
import type { EngineCallOptions, EngineMonitor, FtVm } from './engine.js';
import { abortedError, bounded, sleep } from './wait.js';

/**
 * The sessions an owner (a pair, a group) is responsible for. A session joins the moment
 * its process exists; once the owner is closing, a session that still joins (a spawn that
 * was in flight) is refused, and its launcher kills it at once.
 */
export class SessionOwner<M extends EngineMonitor = EngineMonitor> {
  private readonly sessions = new Set<VmSession<M>>();
  private closing = false;

  /** Takes `session` on; false when the owner is closing (the caller stops the VM). */
  own(session: VmSession<M>): boolean {
    if (this.closing) return false;
    this.sessions.add(session);
    return true;
  }

  /** Lets go of a session (its VM ended or was handed on). */
  drop(session: VmSession<M>): void {
    this.sessions.delete(session);
  }

  /** Every session owned now. */
  all(): VmSession<M>[] {
    return [...this.sessions];
  }

  /** Stops taking sessions on; returns those owned. */
  close(): VmSession<M>[] {
    this.closing = true;
    return this.all();
  }

  /** Takes sessions on again (a stopped pair started anew). */
  reopen(): void {
    this.closing = false;
  }

  /** True once close() was called (and not reopened): no new session is taken on. */
  get isClosing(): boolean {
    return this.closing;
  }
}

/** How a session's VM is started. */
export interface LaunchOptions<M extends EngineMonitor> {
  host: Host;
  /** For messages and records (`primary`, `backup`, a member's name). */
  name: string;
  spec: CujuVmSpec;
  /** The whole command line, the binary first. */
  argv: readonly string[];
  logPath: string;
  sudo?: boolean;
  owner: SessionOwner<M>;
  /** A line that says the VM is up: the monitor is tried at once when it comes. */
  isReady: (line: string) => boolean;
  /**
   * Opens the VM's monitor (tried until it answers, the VM dies, or the deadline). Absent
   * for a process without a monitor (a block server): it is up at its ready line.
   */
  openMonitor?: (options: EngineCallOptions) => Promise<M>;
  /** Files the VM creates besides its log (monitor sockets): removed by removeFiles(). */
  files: readonly string[];
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** How a session adopts a VM that runs already (attach()). */
export interface AdoptSessionOptions<M extends EngineMonitor> {
  host: Host;
  name: string;
  spec: CujuVmSpec;
  ref: VmRef;
  owner: SessionOwner<M>;
  files: readonly string[];
  /** Where its lines start (default: the log's end). */
  offset?: number;
}

/** How long between two tries of a monitor that is not there yet (no ready line has come). */
const MONITOR_RETRY_MS = 100;

/** A VM of a pair or group: see the module comment. */
export class VmSession<M extends EngineMonitor = EngineMonitor> implements FtVm<M> {
  monitor: M | undefined;
  private stopping: Promise<void> | undefined;
  private readonly ownFiles: string[];

  private constructor(
    readonly host: Host,
    readonly name: string,
    readonly spec: CujuVmSpec,
    readonly vm: VmProcess,
    files: readonly string[],
    private readonly owner: SessionOwner<M>,
  ) {
    this.ownFiles = [vm.logPath, ...files];
  }

  /**
   * Starts the VM, owned by `owner` from the moment its process exists, waits until it is
   * up and opens its monitor. On any failure (it exits, the deadline, the signal, the
   * owner closing) the VM is killed before this rejects: nothing is left running.
   */
  static async launch<M extends EngineMonitor>(options: LaunchOptions<M>): Promise<VmSession<M>> {
    const { host, signal, owner } = options;
    if (signal?.aborted) throw abortedError(`starting the ${options.name} VM`, signal);
    const vm = await host.spawnVm(options.argv, {
      logPath: options.logPath,
      ...(options.sudo ? { sudo: true } : {}),
    });
    const session = new VmSession<M>(host, options.name, options.spec, vm, options.files, owner);
    if (!owner.own(session)) {
      await session.kill('SIGKILL').catch(() => {});
      await session.settled();
      await session.removeFiles();
      throw new FtPairError('STOPPED', `starting the ${options.name} VM: down() was called`);
    }
    try {
      if (options.openMonitor) await session.openMonitorWhenUp(options, options.openMonitor);
      else
        await session.waitForLine(options.isReady, {
          what: `the ${options.name} VM's ready line`,
          timeoutMs: options.timeoutMs,
          signal,
        });
      return session;
    } catch (err) {
      await session.stop({ graceMs: 0 });
      owner.drop(session);
      throw err;
    }
  }

  /** Adopts a VM that runs already (or is gone: the session's `died` has then settled). */
  static async adopt<M extends EngineMonitor>(options: AdoptSessionOptions<M>): Promise<VmSession<M>> {
    const adopt = options.host.adoptVm?.bind(options.host);
    if (!adopt) {
      throw new FtPairError(
        'RECORD',
        `host ${options.host.name} cannot adopt a running VM (it has no adoptVm): use a LocalHost or an SshHost`,
      );
    }
    const vm = await adopt(options.ref, options.offset === undefined ? {} : { offset: options.offset });
    const session = new VmSession<M>(
      options.host,
      options.name,
      options.spec,
      vm,
      options.files,
      options.owner,
    );
    if (!options.owner.own(session)) {
      await vm.release();
      throw new FtPairError('STOPPED', `adopting the ${options.name} VM: down() was called`);
    }
    return session;
  }

  /** The VM's pid on its host. */
  get pid(): number {
    return this.vm.pid;
  }

  /** The VM's stdout log on its host. */
  get logPath(): string {
    return this.vm.logPath;
  }

  get running(): boolean {
    return this.vm.running;
  }

  get died(): Promise<VmExit> {
    return this.vm.died;
  }

  /** Resolves once the VM ended and its log was read to the end. */
  get exited(): Promise<VmExit> {
    return this.vm.exited;
  }

  onLine(listener: (line: string) => void): () => void {
    return this.vm.onLine(listener);
  }

  /**
   * The first line (seen already or to come) that `match` accepts; rejects when the VM
   * dies first (VM_EXITED), after `timeoutMs` (TIMEOUT) or at once when `signal` aborts.
   */
  waitForLine(
    match: (line: string) => boolean,
    options: { what: string; timeoutMs: number; signal?: AbortSignal | undefined },
  ): Promise<string> {
    let off: (() => void) | undefined;
    const found = new Promise<string>((resolve, reject) => {
      let done = false;
      off = this.vm.onLine((line) => {
        if (!done && match(line)) {
          done = true;
          resolve(line);
        }
      });
      if (done) off();
      this.vm.died.then(
        (exit) => reject(exitedError(this.name, options.what, exit)),
        (err: unknown) => reject(err),
      );
    });
    return bounded(found, {
      what: options.what,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      onTimeout: () => new FtPairError('TIMEOUT', `no ${options.what} within ${options.timeoutMs} ms`),
    }).finally(() => off?.());
  }

  /**
   * Sends a signal through the VM's host (SshHost: over its open command channel) and says
   * when it was sent and when the host had done it (performance.now(), ms).
   */
  async kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<{ sentAt: number; doneAt: number }> {
    const sentAt = performance.now();
    await this.vm.kill(signal);
    return { sentAt, doneAt: performance.now() };
  }

  /**
   * Closes the monitor, then stops the VM: SIGTERM, SIGKILL after `graceMs` (or at once
   * when `signal` aborts), and waits for its exit. Idempotent: a second call shares the
   * first. A VM whose host can no longer be reached is given up on (its death cannot be
   * seen); the caller learns of that from `died`.
   */
  stop(options: { graceMs: number; signal?: AbortSignal | undefined }): Promise<void> {
    this.stopping ??= (async () => {
      await this.closeMonitor();
      if (this.vm.running) {
        const term = options.graceMs > 0 ? 'SIGTERM' : 'SIGKILL';
        await this.vm.kill(term).catch(() => {});
        if (term === 'SIGTERM') {
          const gone = await bounded(
            this.vm.died.then(
              () => true,
              () => true,
            ),
            { what: `stopping the ${this.name} VM`, signal: options.signal, timeoutMs: options.graceMs },
          ).catch(() => false);
          if (!gone) await this.vm.kill('SIGKILL').catch(() => {});
        }
      }
      await this.settled();
    })();
    return this.stopping;
  }

  /** Resolves once the VM's exit is settled (or its host lost), never rejects. */
  async settled(): Promise<void> {
    await this.vm.exited.catch(() => {});
  }

  /** Closes the monitor connection (the VM is not touched). */
  async closeMonitor(): Promise<void> {
    const monitor = this.monitor;
    this.monitor = undefined;
    await monitor?.close().catch(() => {});
  }

  /** Stops following the VM and closes its monitor, leaving it running (detach()). */
  async release(): Promise<void> {
    await this.closeMonitor();
    await this.vm.release();
    this.owner.drop(this);
  }

  /** Removes the log and the files the VM made (monitor sockets) on its host. */
  async removeFiles(): Promise<void> {
    await this.host.run(['rm', '-f', '--', ...this.ownFiles]).catch(() => {});
  }

  /** The session as a record entry. */
  toRecord(): VmRecord {
    return {
      host: { name: this.host.name, address: this.host.address },
      pid: this.vm.pid,
      logPath: this.vm.logPath,
      ...(this.vm.ref.sudo ? { sudo: true } : {}),
      spec: this.spec,
    };
  }

  /**
   * Tries the monitor as soon as the ready line comes, and every MONITOR_RETRY_MS besides
   * (a VM whose stdout is held back in a buffer never shows the line): until it opens,
   * the VM dies, the deadline passes or the signal aborts.
   */
  private async openMonitorWhenUp(
    options: LaunchOptions<M>,
    openMonitor: (options: EngineCallOptions) => Promise<M>,
  ): Promise<void> {
    const deadline = performance.now() + options.timeoutMs;
    const what = `the ${this.name} VM's monitor`;
    let wake: (() => void) | undefined;
    const off = this.vm.onLine((line) => {
      if (options.isReady(line)) wake?.();
    });
    try {
      for (;;) {
        if (!this.vm.running)
          throw exitedError(this.name, 'its start', await this.vm.died.catch(() => undefined));
        const left = deadline - performance.now();
        if (left <= 0)
          throw new FtPairError('TIMEOUT', `${what} did not open within ${options.timeoutMs} ms`);
        try {
          this.monitor = await openMonitor({ timeoutMs: Math.max(1, left), signal: options.signal });
          return;
        } catch (err) {
          if (options.signal?.aborted) throw abortedError(`opening ${what}`, options.signal);
          if (!isNotThereYet(err)) throw err;
        }
        // Until the next try: the ready line, the VM's death, or a moment.
        await Promise.race([
          new Promise<void>((resolve) => {
            wake = resolve;
          }),
          this.vm.died.then(
            () => {},
            () => {},
          ),
          sleep(MONITOR_RETRY_MS, options.signal, `opening ${what}`),
        ]);
      }
    } finally {
      off();
    }
  }
}

/** A monitor that does not listen yet (the VM is still starting): try again. */
function isNotThereYet(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'HOST_CONNECT_FAILED' || code === 'QMP_CONNECT_FAILED' || code === 'ECONNREFUSED';
}

function exitedError(name: string, what: string, exit: VmExit | undefined): FtPairError {
  const how = exit ? (exit.signal ?? `code ${exit.code}`) : 'its host lost';
  return new FtPairError('VM_EXITED', `the ${name} VM exited (${how}) before ${what}`);
}
