import type { EventStream, EventStreamOptions, QmpEvent } from './events.js';
import type { QmpCommandMap } from './generated/qemu-7.2.js';
import type { ExecuteOptions, QmpCommandName } from './types.js';

/** The arguments after the command name: optional when the command takes none or only optional ones. */
export type ExecuteArgs<K extends QmpCommandName> =
  Record<string, never> extends QmpCommandMap[K]['args']
    ? [args?: QmpCommandMap[K]['args'], options?: ExecuteOptions]
    : [args: QmpCommandMap[K]['args'], options?: ExecuteOptions];

/** What `events()` returns: an async iterator of events that can be closed. */
export type MonitorEventStream = Pick<EventStream, 'next' | 'return' | 'close' | 'dropped' | 'pending'> &
  AsyncIterableIterator<QmpEvent>;

/**
 * The QMP side of a monitor, as code that drives QEMU needs it: run a command, watch
 * events, close. After go-qemu's `Monitor` (Connect, Disconnect, Run, Events): QmpClient
 * implements it over a socket; a libvirt transport (`virsh qemu-monitor-command`,
 * `virDomainQemuMonitorCommand`) or the recording double in `@cuju/qmp/testing` can
 * implement it too, and code that takes a QmpMonitor works with each.
 *
 * Beside it, `Hmp` is the human monitor (`run(line)`); `QmpHmp` turns any QmpMonitor
 * into an Hmp through `human-monitor-command`.
 */
export interface QmpMonitor {
  /** Where the monitor is, as shown in errors (e.g. `unix:/run/vm1.qmp`). */
  readonly endpoint: string;
  /** Runs a command; resolves with QEMU's `return`, rejects with a QmpError (QmpCommandError when QEMU refused it). */
  execute<K extends QmpCommandName>(
    command: K,
    ...rest: ExecuteArgs<K>
  ): Promise<QmpCommandMap[K]['returns']>;
  /** A command QEMU 7.2's schema does not have (a newer QEMU's, or a fork's such as Cuju's): untyped. */
  execute<C extends string>(
    command: C extends QmpCommandName ? never : C,
    args?: Record<string, unknown>,
    options?: ExecuteOptions,
  ): Promise<unknown>;
  /** Events from now on, bounded (see EventStreamOptions); ends with the connection's error. */
  events(options?: EventStreamOptions & { names?: readonly string[] }): MonitorEventStream;
  /** Closes the connection; pending calls reject with QmpDisconnectedError. */
  close(): Promise<void>;
}
