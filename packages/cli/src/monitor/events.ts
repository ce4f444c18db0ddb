/**
 * `cuju monitor events --socket PATH`: the monitor's QMP events, one per line as they
 * come, like `virsh qemu-monitor-event --loop`; `--json` gives each as a JSON line.
 * The stream is @cuju/qmp's (bounded; a gap in `seq` shows a loss).
 */
import { QmpClient, QmpDisconnectedError } from '@cuju/qmp';
import type { CommandContext } from '../context.js';

/** Options of `cuju monitor events`. */
export interface MonitorEventsOptions {
  socket: string;
  /** Only these events (default all). */
  events?: string[];
  /** Stop after this many events (default: until Ctrl-C or the monitor closes). */
  count?: number;
}

/** Prints events until the count, Ctrl-C (exit 130) or the monitor's end (exit 0). */
export async function monitorEvents(ctx: CommandContext, o: MonitorEventsOptions): Promise<void> {
  const { out, signal } = ctx;
  const client = await QmpClient.connect({ path: o.socket, signal });
  let seen = 0;
  try {
    out.record('connected', { socket: o.socket });
    out.note(`watching events on ${o.socket}${o.count ? ` (${o.count})` : ''}; Ctrl-C ends`);
    const stream = client.events({ ...(o.events?.length ? { names: o.events } : {}), signal });
    try {
      for await (const e of stream) {
        seen++;
        const at = `${e.timestamp.seconds}.${String(e.timestamp.microseconds).padStart(6, '0')}`;
        out.record('event', { event: e.event, data: e.data ?? null, timestamp: e.timestamp, seq: e.seq });
        out.line(
          `event ${e.event} at ${at}: ${e.data === undefined ? '<null>' : JSON.stringify(e.data, bigintSafe)}`,
        );
        if (o.count !== undefined && seen >= o.count) break;
      }
    } catch (err) {
      if (!(err instanceof QmpDisconnectedError)) throw err;
      out.record('closed', { events: seen, reason: err.message });
      out.note(`monitor closed: ${err.message}`);
      return;
    }
    // A stream ends quietly when the signal aborts: say so with the interrupt's exit status.
    signal.throwIfAborted();
  } finally {
    await client.close().catch(() => {});
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
