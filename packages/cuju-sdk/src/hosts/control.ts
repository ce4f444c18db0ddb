/**
 * A command loop on an SSH channel that stays open (remote-scripts.ts CONTROL): signals to
 * VMs and readings of the host's clock go out as one line each and come back as one line,
 * with no new exec channel, process or login shell per command. SshHost keeps one per
 * connection (and one through sudo when a VM was started with it).
 *
 * It also learns how the host's monotonic clock relates to this process's, so that a
 * death the host stamped can be reported on this process's clock.
 */
import type { ClientChannel } from 'ssh2';
import { HostDisconnectedError, HostError, type HostErrorOptions } from './errors.js';
import { LineSplitter } from './follow.js';

/** A host clock reading as CONTROL's `clock` reports it. */
export interface HostClockReading {
  clock: 'monotonic' | 'boottime';
  ns: bigint;
}

interface Pending {
  resolve(words: string[]): void;
  reject(err: Error): void;
}

/** How many clock samples to take at open; the one with the shortest round trip wins. */
const CLOCK_SAMPLES = 5;

export class ControlChannel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedWith: Error | undefined;
  /** host clock − this process's hrtime (ns), per clock kind, from the best sample. */
  private readonly offsets = new Map<HostClockReading['clock'], bigint>();

  constructor(
    private readonly channel: ClientChannel,
    private readonly ctx: HostErrorOptions & { host: string },
    /** The error to give when the channel goes (the connection's, when it was lost). */
    private readonly lostError: () => HostError | undefined,
  ) {
    const lines = new LineSplitter((line) => this.reply(line));
    channel.on('data', (chunk: Buffer) => lines.push(chunk));
    channel.stderr.on('data', () => {});
    channel.on('close', () => this.shut());
  }

  /** Measures the clock offset (the best of a few round trips). */
  async calibrate(): Promise<void> {
    for (let i = 0; i < CLOCK_SAMPLES; i++) {
      const sent = process.hrtime.bigint();
      const reading = await this.clock();
      const back = process.hrtime.bigint();
      const rtt = back - sent;
      const offset = reading.ns - (sent + back) / 2n;
      const best = this.best.get(reading.clock);
      if (best === undefined || rtt < best) {
        this.best.set(reading.clock, rtt);
        this.offsets.set(reading.clock, offset);
      }
    }
  }

  private readonly best = new Map<HostClockReading['clock'], bigint>();

  /**
   * This process's `performance.now()` for a stamp of the host's clock, or undefined
   * before calibrate() has sampled that clock.
   */
  toPerformance(reading: HostClockReading): number | undefined {
    const offset = this.offsets.get(reading.clock);
    if (offset === undefined) return undefined;
    const localNs = reading.ns - offset;
    const hr = process.hrtime.bigint();
    return performance.now() - Number(hr - localNs) / 1e6;
  }

  /** `kill -s SIG PID` on the host; resolves once the host has sent it (or the process was gone). */
  async kill(signal: 'TERM' | 'KILL' | 'STOP' | 'CONT', pid: number): Promise<'sent' | 'gone'> {
    const words = await this.request(`kill ${signal} ${pid}`);
    return words[0] === 'gone' ? 'gone' : 'sent';
  }

  /** One reading of the host's clock. */
  async clock(): Promise<HostClockReading> {
    const [clock, ns] = await this.request('clock');
    if ((clock !== 'monotonic' && clock !== 'boottime') || !/^\d+$/.test(ns ?? '')) {
      throw new HostError('HOST_COMMAND_FAILED', `unexpected clock reading: ${clock} ${ns}`, this.ctx);
    }
    return { clock, ns: BigInt(ns!) };
  }

  /** Ends the loop (its stdin closes) and rejects what is pending. */
  close(): void {
    this.channel.end();
    this.shut();
  }

  get open(): boolean {
    return this.closedWith === undefined;
  }

  private request(text: string): Promise<string[]> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<string[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.channel.write(`${id} ${text}\n`);
    });
  }

  private reply(line: string): void {
    const [id, status, ...rest] = line.trim().split(' ');
    const pending = this.pending.get(Number(id));
    if (!pending) return;
    this.pending.delete(Number(id));
    if (status === 'ok') pending.resolve(rest);
    else
      pending.reject(new HostError('HOST_COMMAND_FAILED', `the host refused: ${rest.join(' ')}`, this.ctx));
  }

  private shut(): void {
    if (this.closedWith) return;
    this.closedWith =
      this.lostError() ?? new HostDisconnectedError('the control channel to the host closed', this.ctx);
    for (const p of this.pending.values()) p.reject(this.closedWith);
    this.pending.clear();
  }
}
