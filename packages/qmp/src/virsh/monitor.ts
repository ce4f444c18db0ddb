import {
  checkNonEmptyString,
  checkSignal,
  checkTimeoutMs,
  describeValue,
  isRecord,
  optionsObject,
} from '../check.js';
import {
  QmpArgumentError,
  QmpCommandError,
  QmpDisconnectedError,
  QmpOobError,
  QmpProtocolError,
  QmpTimeoutError,
} from '../errors.js';
import { checkEventsOptions, EventHub, type EventStreamOptions, type QmpEvent } from '../events.js';
import type { Hmp } from '../hmp/hmp.js';
import { assertHmpCommandLine } from '../hmp/line.js';
import { assertSendable, parseQmpJson, stringifyQmpJson } from '../json.js';
import type { MonitorEventStream, QmpMonitor } from '../monitor.js';
import { redactArguments } from '../redact.js';
import { DEFAULT_COMMAND_TIMEOUTS, DEFAULT_TIMEOUT_MS } from '../timeouts.js';
import type { CallOptions, ExecuteOptions, TimeoutPolicy } from '../types.js';
import { type VirshBackoff, VirshLoop, type VirshLoopExit } from './loop.js';
import { checkVirshTarget, classifyVirshStderr, runVirsh, type VirshTarget } from './run.js';

/** Where a libvirt-managed monitor is: the libvirt URI, the domain, and the virsh to run. */
export interface VirshMonitorOptions extends VirshTarget {
  /** The domain's name or UUID. */
  domain: string;
  /** Per-command deadlines (as QmpClient's); each call may still give its own. */
  timeouts?: TimeoutPolicy;
  /** Restart delays of the `qemu-monitor-event --loop` child. */
  eventBackoff?: VirshBackoff;
  /** The event child ended (it is restarted); events while it was down are lost. */
  onEventLoopExit?: (exit: VirshLoopExit) => void;
}

interface Checked {
  target: Required<VirshTarget>;
  domain: string;
  endpoint: string;
  defaultMs: number;
  commands: Readonly<Record<string, number>>;
}

function checkOptions(options: unknown): Checked {
  const opts = optionsObject(options, 'options');
  const target = checkVirshTarget(opts, 'options');
  const domain = checkNonEmptyString(opts.domain, 'options.domain');
  if (/[\0\n\r]/.test(domain))
    throw new QmpArgumentError('options.domain', 'must not contain NUL or line breaks');
  const policy = optionsObject(opts.timeouts, 'options.timeouts');
  const defaultMs = checkTimeoutMs(policy.defaultMs, 'options.timeouts.defaultMs') ?? DEFAULT_TIMEOUT_MS;
  const own = optionsObject(policy.commands, 'options.timeouts.commands');
  for (const [name, value] of Object.entries(own)) checkTimeoutMs(value, `options.timeouts.commands.${name}`);
  return {
    target,
    domain,
    endpoint: `libvirt:${target.uri}#${domain}`,
    defaultMs,
    commands: { ...DEFAULT_COMMAND_TIMEOUTS, ...(own as Record<string, number>) },
  };
}

/** `virsh qemu-monitor-event` prints `event NAME at SECONDS.MICROS for domain 'DOM': DATA`. */
const EVENT_LINE = /^event (\S+) at (-?\d+)\.(\d+) for domain '.*?': (.*)$/;

/** `virsh event --event lifecycle` prints `event 'lifecycle' for domain 'DOM': Stopped Destroyed`. */
const LIFECYCLE_STOPPED = /^event 'lifecycle' for domain '.*?': Stopped(.*)$/;

/** One `qemu-monitor-event` line as a QmpEvent (seq 0: the hub numbers it); undefined for anything else. */
export function parseVirshEventLine(line: string): QmpEvent | undefined {
  const m = EVENT_LINE.exec(line);
  if (!m) return undefined;
  const text = m[4]!;
  let data: unknown;
  if (text !== '<null>') {
    try {
      data = parseQmpJson(text);
    } catch {
      return undefined;
    }
  }
  return {
    event: m[1]!,
    data,
    timestamp: { seconds: Number(m[2]), microseconds: Number(m[3]) },
    seq: 0,
  };
}

/** The number in libvirt's command id (`libvirt-413`), for QmpCommandError.id. */
function idOf(reply: Record<string, unknown>): number {
  const m = /(\d+)$/.exec(String(reply.id ?? ''));
  return m ? Number(m[1]) : 0;
}

/**
 * The part both libvirt monitors share: the checked target, the deadline policy, and the
 * in-flight virsh calls that `close()` ends.
 */
abstract class VirshMonitorBase {
  /** Where the monitor is, as shown in errors: `libvirt:URI#DOMAIN`. */
  readonly endpoint: string;
  /** @internal The checked target, domain and deadline policy. */
  protected readonly checked: Checked;
  /** @internal The options as given (hooks and backoff are read from them). */
  protected readonly given: VirshMonitorOptions;
  private readonly closing = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();

  protected constructor(options: VirshMonitorOptions) {
    this.checked = checkOptions(options);
    this.given = options;
    this.endpoint = this.checked.endpoint;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  /** @internal The deadline of a call: the caller's, else the policy's for the command. */
  protected timeoutFor(command: string, given: number | undefined): number {
    return given ?? this.checked.commands[command] ?? this.checked.defaultMs;
  }

  /** @internal Runs `virsh qemu-monitor-command ...` for one call; close() kills it and rejects it as disconnected. */
  protected call(args: string[], subject: string, timeoutMs: number, signal: AbortSignal | undefined) {
    if (this.closed) {
      return Promise.reject(
        new QmpDisconnectedError(this.endpoint, `cannot run ${subject}: the monitor is closed`),
      );
    }
    const signals = signal ? [signal, this.closing.signal] : [this.closing.signal];
    const run = runVirsh(
      this.checked.target,
      ['qemu-monitor-command', '--domain', this.checked.domain, ...args],
      { timeoutMs, signal: AbortSignal.any(signals), subject },
    ).catch((err: unknown) => {
      if (this.closing.signal.aborted && !signal?.aborted) {
        throw new QmpDisconnectedError(this.endpoint, `${subject} ended: the monitor was closed`, err);
      }
      throw err;
    });
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** @internal Ends every call in flight (their virsh are killed) and refuses new ones. */
  protected async closeCalls(): Promise<void> {
    this.closing.abort(new Error('closed'));
    await Promise.allSettled([...this.inFlight]);
  }
}

/**
 * QMP over libvirt: each command is one `virsh qemu-monitor-command DOMAIN JSON` (libvirt
 * passes it to its own QMP connection and returns QEMU's reply), and events come from one
 * long-lived `virsh qemu-monitor-event --domain DOMAIN --loop` child, started on the
 * first `events()` call (or `until` wait) and restarted with backoff when it ends. A
 * second child (`virsh event --domain DOMAIN --event lifecycle --loop`) watches the
 * domain: when it stops (or is gone), every stream and wait ends with
 * QmpDisconnectedError, as a closed socket ends QmpClient's; commands still run. No
 * native addon: what ZStack's agent does, from Node. Like QmpClient it implements
 * QmpMonitor, so `QmpHmp`, the Cuju SDK and any code written against QmpMonitor work
 * over libvirt unchanged.
 *
 * Limits that come from libvirt, not from this class: no exec-oob (libvirt does not
 * negotiate it; `oob` is refused with QmpOobError); events only reach a stream once
 * its virsh has registered with libvirtd, which happens shortly after the child starts
 * and after each restart (call `startEvents()` early), so `until` cannot see an event
 * that fires before that; libvirt marks the domain tainted (`custom-monitor`).
 */
export class VirshQmp extends VirshMonitorBase implements QmpMonitor {
  private readonly hub = new EventHub(256);
  private loop: VirshLoop | undefined;
  private lifecycle: VirshLoop | undefined;
  private lifecycleLines = 0;
  /** The streams ended because the domain stopped or is gone. */
  private ended = false;

  constructor(options: VirshMonitorOptions) {
    super(options);
  }

  /** As QmpClient.execute: typed for the commands QEMU 7.2 knows, untyped for others. */
  readonly execute = ((command: unknown, args?: unknown, options?: unknown) =>
    this.run(command, args, options)) as QmpMonitor['execute'];

  /** How many times the event child has been started (0: never asked for events). */
  get eventLoopStarts(): number {
    return this.loop?.startCount ?? 0;
  }

  /** The event child's pid while it runs (for diagnostics). */
  get eventLoopPid(): number | undefined {
    return this.loop?.pid;
  }

  /**
   * Starts the `qemu-monitor-event --loop` child now rather than at the first events()
   * call, so that it is registered with libvirtd by the time an event matters.
   */
  startEvents(): void {
    if (this.closed || this.ended) return;
    if (!this.loop) {
      const domain = this.checked.domain;
      this.loop = new VirshLoop({
        target: this.checked.target,
        args: ['qemu-monitor-event', '--domain', domain, '--loop'],
        onLine: (line) => {
          const event = parseVirshEventLine(line);
          if (event) this.hub.publish(event);
        },
        onExit: (exit) => {
          this.endIfGone(exit.stderr);
          this.given.onEventLoopExit?.(exit);
        },
        ...(this.given.eventBackoff ? { backoff: this.given.eventBackoff } : {}),
      });
      // libvirt's lifecycle events say when the domain's QEMU is gone, which is what a
      // closed socket says to QmpClient: the streams end then, with QmpDisconnectedError.
      this.lifecycle = new VirshLoop({
        target: this.checked.target,
        args: ['event', '--domain', domain, '--event', 'lifecycle', '--loop'],
        onLine: (line) => {
          this.lifecycleLines++;
          const m = LIFECYCLE_STOPPED.exec(line);
          if (m) this.endEvents(`the domain stopped (${m[1]!.trim()})`);
        },
        onExit: (exit) => this.endIfGone(exit.stderr),
        ...(this.given.eventBackoff ? { backoff: this.given.eventBackoff } : {}),
      });
    }
    this.loop.start();
    this.lifecycle?.start();
  }

  /** @internal Lifecycle lines seen so far (tests use it to know the watcher is registered). */
  get lifecycleEventCount(): number {
    return this.lifecycleLines;
  }

  /** A restarted event child that cannot find the domain: it is gone for good. */
  private endIfGone(stderr: string): void {
    if (classifyVirshStderr(stderr) === 'no-domain') this.endEvents('the domain is gone');
  }

  /** Ends every stream and wait with QmpDisconnectedError; stops the children. Commands still run. */
  private endEvents(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.hub.end(new QmpDisconnectedError(this.endpoint, why));
    void this.loop?.stop();
    void this.lifecycle?.stop();
  }

  events(options?: EventStreamOptions & { names?: readonly string[] }): MonitorEventStream {
    const { match, stream } = checkEventsOptions(options);
    const s = this.hub.stream(match, stream);
    this.startEvents();
    return s;
  }

  async close(): Promise<void> {
    const calls = this.closeCalls();
    await Promise.all([this.loop?.stop(), this.lifecycle?.stop()]);
    await calls;
    this.hub.end(new QmpDisconnectedError(this.endpoint, 'the client closed the connection'));
  }

  private run(command: unknown, args: unknown, options: unknown): Promise<unknown> {
    let opts: ExecuteOptions;
    let timeoutMs: number;
    try {
      checkNonEmptyString(command, 'command');
      if (args !== undefined && !isRecord(args)) {
        throw new QmpArgumentError('args', `of '${command}' must be an object, got ${describeValue(args)}`);
      }
      assertSendable(args, command as string);
      const o = optionsObject(options, 'options');
      timeoutMs = this.timeoutFor(command as string, checkTimeoutMs(o.timeoutMs, 'options.timeoutMs'));
      const signal = checkSignal(o.signal, 'options.signal');
      if (o.oob === true) {
        throw new QmpOobError(
          command as string,
          `cannot send '${command}' with exec-oob over libvirt: libvirt does not negotiate out-of-band execution`,
        );
      }
      if (o.until !== undefined && (!isRecord(o.until) || typeof o.until.event !== 'string')) {
        throw new QmpArgumentError('options.until', 'must be an object with an event name');
      }
      opts = {
        ...(signal ? { signal } : {}),
        ...(o.until ? { until: o.until as ExecuteOptions['until'] } : {}),
      };
    } catch (err) {
      return Promise.reject(err);
    }
    const name = command as string;
    const message = stringifyQmpJson(
      args === undefined ? { execute: name } : { execute: name, arguments: args },
    );
    const subject = `'${name}' on ${this.checked.domain}`;
    const startedAt = performance.now();
    const until = opts.until;
    let wait: ReturnType<EventHub['arm']> | undefined;
    if (until) {
      // Armed before the command is sent: an event QEMU emits before its reply is kept.
      this.startEvents();
      const filter = until.filter;
      wait = this.hub.arm((e) => e.event === until.event && (!filter || filter(e)), {
        subject: until.event,
        timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    }
    const reply = this.call([message], subject, timeoutMs, opts.signal).then((stdout) =>
      this.unwrap(name, args as Record<string, unknown> | undefined, stdout),
    );
    if (!wait) return reply;
    const armed = wait;
    return reply.then(
      async (value) => {
        const left = timeoutMs - (performance.now() - startedAt);
        if (left <= 0) {
          armed.cancel();
          throw new QmpTimeoutError(
            'event',
            timeoutMs,
            until?.event,
            `no ${until?.event} event within the deadline`,
          );
        }
        await armed.promise;
        return value;
      },
      (err: unknown) => {
        armed.cancel();
        throw err;
      },
    );
  }

  private unwrap(command: string, args: Record<string, unknown> | undefined, stdout: string): unknown {
    let reply: unknown;
    try {
      reply = parseQmpJson(stdout.trim());
    } catch (cause) {
      throw new QmpProtocolError(`${this.endpoint}: virsh printed no QMP reply for '${command}'`, { cause });
    }
    if (!isRecord(reply))
      throw new QmpProtocolError(`${this.endpoint}: '${command}' got a reply that is not an object`);
    if (isRecord(reply.error)) {
      throw new QmpCommandError({
        errorClass: String(reply.error.class ?? 'GenericError'),
        desc: String(reply.error.desc ?? ''),
        command,
        arguments: redactArguments(command, args),
        id: idOf(reply),
      });
    }
    if (!('return' in reply)) {
      throw new QmpProtocolError(`${this.endpoint}: '${command}' got a reply with neither return nor error`);
    }
    return reply.return;
  }
}

/**
 * HMP over libvirt: each line is one `virsh qemu-monitor-command DOMAIN --hmp LINE`
 * (libvirt wraps it in `human-monitor-command`). Lines are checked as HmpClient checks
 * them; the output is the monitor's text (virsh's own trailing newline removed), "" for
 * a command that prints nothing. HMP reports a failed command in its text, as on a
 * readline monitor.
 */
export class VirshHmp extends VirshMonitorBase implements Hmp {
  constructor(options: VirshMonitorOptions) {
    super(options);
  }

  run(line: string, options?: CallOptions): Promise<string> {
    let timeoutMs: number;
    let signal: AbortSignal | undefined;
    try {
      assertHmpCommandLine(line);
      const o = optionsObject(options, 'options');
      timeoutMs = this.timeoutFor('human-monitor-command', checkTimeoutMs(o.timeoutMs, 'options.timeoutMs'));
      signal = checkSignal(o.signal, 'options.signal');
    } catch (err) {
      return Promise.reject(err);
    }
    // `--` ends virsh's options, so a line that starts with a dash is the command, not an option.
    return this.call(
      ['--hmp', '--', line],
      `'${line.split(' ')[0]}' on ${this.checked.domain}`,
      timeoutMs,
      signal,
    ).then((stdout) => (stdout.endsWith('\n') ? stdout.slice(0, -1) : stdout));
  }

  close(): Promise<void> {
    return this.closeCalls();
  }
}
