import type { Socket } from 'node:net';
import type { MonitorSpec } from './config.js';
import { JsonStreamer } from './json-stream.js';
import { MonitorServer } from './monitor-server.js';
import { type QmpReply, qmpError, qmpGreeting, qmpToJson, TEXT } from './qmp-texts.js';
import type { QmpEventOut, Vm } from './vm.js';

/** Runs one QMP command (after negotiation); resolves with its reply. */
export type QmpRunner = (command: string, args: Record<string, unknown>) => Promise<QmpReply>;

interface Session {
  negotiated: boolean;
  streamer: JsonStreamer;
  queue: Promise<void>;
}

/**
 * QEMU 2.8's QMP monitor: the greeting (no capabilities: 2.8 has no oob), capability
 * negotiation, then one command at a time in order, events to every negotiated client.
 * Replies carry the request's id; a message that is not valid QMP gets an error without
 * an id when the id could not be read, as QEMU does.
 */
export class QmpServer extends MonitorServer {
  private readonly sessions = new WeakMap<Socket, Session>();
  private readonly forward = (ev: QmpEventOut) => {
    const socket = this.client;
    if (socket && this.sessions.get(socket)?.negotiated) socket.write(`${qmpToJson(ev)}\r\n`);
  };

  constructor(
    spec: MonitorSpec,
    stallGreeting: boolean,
    private readonly delayMs: number,
    private readonly vm: Vm,
    private readonly run: QmpRunner,
    onAttach?: () => void,
  ) {
    super(spec, stallGreeting, onAttach);
    vm.on('qmp', this.forward);
  }

  protected onConnect(socket: Socket): void {
    const session: Session = { negotiated: false, streamer: new JsonStreamer(), queue: Promise.resolve() };
    this.sessions.set(socket, session);
    socket.write(`${qmpToJson(qmpGreeting())}\r\n`);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      for (const message of session.streamer.push(text)) {
        session.queue = session.queue.then(() => this.handle(socket, session, message));
      }
    });
  }

  protected onDisconnect(): void {}

  private async handle(socket: Socket, session: Session, text: string): Promise<void> {
    const reply = await this.dispatch(session, text);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (!socket.destroyed && reply) socket.write(`${qmpToJson(reply)}\r\n`);
  }

  private async dispatch(session: Session, text: string): Promise<Record<string, unknown> | undefined> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return qmpError('GenericError', TEXT.invalidJson);
    }
    // 2.8 answers valid JSON that is not an object as if it were not JSON at all.
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      return qmpError('GenericError', TEXT.invalidJson);
    }
    const m = message as Record<string, unknown>;
    const withId = (reply: Record<string, unknown>) => ('id' in m ? { ...reply, id: m.id } : reply);
    // Shape errors are found before the id is read: their replies carry none (2.8).
    for (const key of Object.keys(m)) {
      if (key !== 'execute' && key !== 'arguments' && key !== 'id')
        return qmpError('GenericError', TEXT.memberUnexpected(key));
    }
    if (!('execute' in m)) return qmpError('GenericError', TEXT.executeExpected);
    if (typeof m.execute !== 'string') return qmpError('GenericError', TEXT.executeNotString);
    if (
      'arguments' in m &&
      (m.arguments === null || typeof m.arguments !== 'object' || Array.isArray(m.arguments))
    ) {
      return qmpError('GenericError', TEXT.argumentsObject);
    }
    const args = (m.arguments ?? {}) as Record<string, unknown>;
    if (!session.negotiated) {
      if (m.execute !== 'qmp_capabilities')
        return withId(qmpError('CommandNotFound', TEXT.negotiationFirst(m.execute)));
      session.negotiated = true;
      return withId({ return: {} });
    }
    if (m.execute === 'qmp_capabilities') return withId(qmpError('CommandNotFound', TEXT.negotiationDone()));
    return withId(await this.run(m.execute, args));
  }

  override close(): void {
    this.vm.off('qmp', this.forward);
    super.close();
  }
}
