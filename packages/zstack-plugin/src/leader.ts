/**
 * One leader at a time, through a lease row in the shared database (no consensus of our
 * own: the database's row locks decide). The leader renews every `ttlMs / 3`; it holds
 * itself leader only until `ttlMs` after its last renewal was SENT (a conservative local
 * deadline, so it stops acting before anyone else can take over). Followers try to take
 * the lease every `ttlMs / 4` and get it once it has expired by the database's clock: a
 * takeover comes at most ttlMs + ttlMs / 4 after the leader's last renewal, within two
 * lease periods. Each acquisition raises the fencing token, which every write carries.
 */
import { EventEmitter } from 'node:events';
import { messageOf } from './errors.js';
import type { FtStore } from './store/store.js';

export interface LeaderOptions {
  /** This instance's identity in the lease. A restart with the same id takes its lease back at once. */
  holder: string;
  /** Where this instance serves its API (followers send writers there). */
  url: string;
  ttlMs: number;
}

export interface LeaderEvents {
  acquired: [token: number];
  lost: [why: string];
  error: [err: unknown];
}

export class LeaderLease extends EventEmitter<LeaderEvents> {
  private token: number | undefined;
  /** Local (monotonic) time until which this instance may act as leader. */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private tick: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: FtStore,
    private readonly options: LeaderOptions,
  ) {
    super();
  }

  /** The fencing token while this instance leads; undefined otherwise. */
  get current(): number | undefined {
    if (this.token !== undefined && performance.now() >= this.validUntil)
      this.step('the lease was not renewed in time');
    return this.token;
  }

  get isLeader(): boolean {
    return this.current !== undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops renewing; gives the lease up at once when `release` (graceful shutdown). */
  async stop(options: { release: boolean }): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.tick;
    const token = this.token;
    if (token !== undefined) {
      this.step('stopping');
      if (options.release) await this.store.release(this.options.holder, token).catch(() => {});
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.tick = this.round().finally(() =>
        this.schedule(this.token === undefined ? this.options.ttlMs / 4 : this.options.ttlMs / 3),
      );
    }, ms);
  }

  private async round(): Promise<void> {
    const { holder, url, ttlMs } = this.options;
    const sentAt = performance.now();
    try {
      if (this.token === undefined) {
        const token = await this.store.tryAcquire(holder, url, ttlMs);
        if (token !== undefined && this.running) {
          this.token = token;
          this.validUntil = sentAt + ttlMs;
          this.emit('acquired', token);
        }
        return;
      }
      if (await this.store.renew(holder, this.token, ttlMs)) {
        this.validUntil = sentAt + ttlMs;
      } else {
        this.step('another instance holds the lease');
      }
    } catch (err) {
      this.emit('error', err);
      if (this.token !== undefined && performance.now() >= this.validUntil) {
        this.step(`the lease could not be renewed: ${messageOf(err)}`);
      }
    }
  }

  private step(why: string): void {
    if (this.token === undefined) return;
    this.token = undefined;
    this.validUntil = 0;
    this.emit('lost', why);
  }
}
