import type { Socket } from 'node:net';
import type { MonitorSpec } from './config.js';
import { HMP_BANNER, HMP_PROMPT as PROMPT } from './hmp-table.js';
import { MonitorServer } from './monitor-server.js';

const ESC = 0x1b;

/** Runs one command line; resolves with what the monitor prints (`\n` line ends). */
export type HmpRunner = (line: string) => Promise<string>;

interface LineState {
  buf: string;
  /** 0 normal, 1 after ESC, 2 inside an ESC [ sequence. */
  esc: 0 | 1 | 2;
  busy: boolean;
  pending: Buffer[];
}

/**
 * QEMU's readline monitor: banner and prompt on connect; every typed byte is echoed by
 * redrawing the line (ESC[D back to its start, the text, ESC[K), as util/readline.c does;
 * Enter (CR or LF, each on its own) runs the line. Output line ends go out as CRLF
 * (monitor_puts). While a command runs, input waits, as in QEMU.
 */
export class HmpServer extends MonitorServer {
  private readonly states = new WeakMap<Socket, LineState>();

  constructor(
    spec: MonitorSpec,
    stallGreeting: boolean,
    private readonly delayMs: number,
    private readonly run: HmpRunner,
    onAttach?: () => void,
  ) {
    super(spec, stallGreeting, onAttach);
  }

  protected onConnect(socket: Socket): void {
    const state: LineState = { buf: '', esc: 0, busy: false, pending: [] };
    this.states.set(socket, state);
    socket.write(`${HMP_BANNER.replace(/\n$/, '\r\n')}${PROMPT}`);
    socket.on('data', (chunk: Buffer) => {
      state.pending.push(chunk);
      void this.drain(socket, state);
    });
  }

  protected onDisconnect(): void {}

  private async drain(socket: Socket, state: LineState): Promise<void> {
    if (state.busy) return;
    while (state.pending.length) {
      const chunk = state.pending.shift()!;
      for (let i = 0; i < chunk.length; i++) {
        const line = this.feed(socket, state, chunk[i]!);
        if (line === undefined) continue;
        const rest = chunk.subarray(i + 1);
        if (rest.length) state.pending.unshift(rest);
        state.busy = true;
        const out = await this.run(line);
        if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
        state.busy = false;
        if (socket.destroyed) return;
        socket.write(`${out.replace(/\r?\n/g, '\r\n')}${PROMPT}`);
        break;
      }
    }
  }

  /** One typed byte; returns the line when Enter completes it. */
  private feed(socket: Socket, state: LineState, byte: number): string | undefined {
    if (state.esc === 1) {
      state.esc = byte === 0x5b ? 2 : 0;
      return undefined;
    }
    if (state.esc === 2) {
      // CSI parameters are digits and ';'; the final byte ends the sequence (arrows etc. are ignored).
      if (byte < 0x30 || byte > 0x3f) state.esc = 0;
      return undefined;
    }
    if (byte === 10 || byte === 13) {
      const line = state.buf;
      state.buf = '';
      socket.write('\r\n');
      return line;
    }
    if (byte === ESC) {
      state.esc = 1;
      return undefined;
    }
    const before = state.buf.length;
    if (byte === 8 || byte === 127) {
      if (!before) return undefined;
      state.buf = state.buf.slice(0, -1);
    } else if (byte >= 0x20) {
      state.buf += String.fromCharCode(byte);
    } else {
      return undefined;
    }
    socket.write(`${'\x1b[D'.repeat(before)}${state.buf}\x1b[K`);
    return undefined;
  }
}
