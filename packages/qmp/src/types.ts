import type { QmpEvent } from './events.js';
import type { QmpCommandMap, QmpEventMap } from './generated/qemu-7.2.js';

export type { QmpInt } from './int.js';

/** A QEMU version as QMP reports it (`major.minor.micro`). */
export interface QmpVersionTriple {
  major: number;
  minor: number;
  micro: number;
}

/** The greeting QEMU sends on connect: its version and the capabilities it offers. */
export interface QmpGreeting {
  version: { qemu: QmpVersionTriple; package: string };
  /** What the server offers for negotiation; today only 'oob'. */
  capabilities: string[];
}

/** Every command name the generated schema knows (QEMU 7.2). */
export type QmpCommandName = keyof QmpCommandMap;
/** Every event name the generated schema knows (QEMU 7.2). */
export type QmpEventName = keyof QmpEventMap;
/** The arguments command `K` takes, from the generated schema. */
export type QmpCommandArgs<K extends QmpCommandName> = QmpCommandMap[K]['args'];
/** What command `K` returns, from the generated schema. */
export type QmpCommandReturn<K extends QmpCommandName> = QmpCommandMap[K]['returns'];

/** An event with its data typed when the name is known to the generated map. */
export type QmpTypedEvent<E extends string> = E extends QmpEventName
  ? QmpEvent<E, QmpEventMap[E]>
  : QmpEvent<E>;

/** Deadline and cancellation for one call. */
export interface CallOptions {
  /**
   * Deadline for this call in ms, from the moment it is made (queueing included).
   * Default: the client's timeout policy for the command. `Infinity` waits forever.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** `execute()` options: a deadline, an AbortSignal, an event to wait for, exec-oob. */
export interface ExecuteOptions extends CallOptions {
  /**
   * Resolve only after the reply AND this event. The wait is armed before the command
   * is sent, so an event that QEMU emits before its reply is not missed. The deadline
   * covers both.
   */
  until?: {
    event: string;
    /** Accept only events this returns true for. */
    filter?: (event: QmpEvent) => boolean;
  };
  /** Send with exec-oob. Only for commands the live schema marks allow-oob. */
  oob?: boolean;
}

/** What a traced message is. */
export type QmpTraceKind = 'greeting' | 'command' | 'reply' | 'event' | 'dropped';

/** One message in or out, for the `trace` hook. Secret-bearing arguments are redacted. */
export interface QmpTraceEntry {
  direction: 'in' | 'out';
  kind: QmpTraceKind;
  id?: number;
  command?: string;
  event?: string;
  /** Size of the message on the wire. */
  bytes: number;
  /** For replies: time since the command was written. */
  durationMs?: number;
  /** The message, with secrets replaced by '<redacted>'. */
  message: unknown;
  /** Why a message was dropped. */
  note?: string;
}

/** Per-command deadlines of a client. */
export interface TimeoutPolicy {
  /** Per-command deadline when neither the call nor `commands` names one. Default 10 000 ms. */
  defaultMs?: number;
  /** Deadlines for particular commands, merged over DEFAULT_COMMAND_TIMEOUTS. */
  commands?: Record<string, number>;
}
