/**
 * One adapter's loops while the service leads: its sync passes (every `pollMs`, at once on
 * a hint, with backoff after a failure), its hint stream (opened again after a break), and
 * its publisher (the newest status per VM, retried with backoff per VM, never blocking the
 * sync or the reconciler). The pass itself is the host's (IaasSync.syncOnce).
 */
import type { Logger } from 'pino';
import { isFtServiceError, messageOf } from '../errors.js';
import type { FtStatus, VmView } from '../model.js';
import { canonical } from '../status.js';
import type { IaasAdapter, IaasVm } from './adapter.js';

/** What an AdapterRun needs of the sync that owns it. */
export interface RunHost {
  syncOnce(run: AdapterRun, signal: AbortSignal): Promise<unknown>;
  callSignal(signal: AbortSignal): AbortSignal;
  readonly timing: { pollMs: number; backoff: { baseMs: number; maxMs: number } };
  readonly logger: Logger;
}

/** What a published status is compared by (figures and timestamps change without news). */
function publishKey(s: FtStatus): string {
  return canonical({
    state: s.state,
    reason: s.reason,
    detail: s.detail,
    primaryHost: s.primaryHost,
    secondaryHost: s.secondaryHost,
    observedGeneration: s.observedGeneration,
  });
}

/** One adapter's loops while this instance leads: the sync, its hints, its publisher. */
export class AdapterRun {
  /** The last listed IaasVm of each service VM id (publishStatus needs it). */
  readonly known = new Map<string, IaasVm>();
  private readonly pending = new Map<string, FtStatus>();
  private readonly published = new Map<string, string>();
  private readonly failures = new Map<string, { n: number; until: number }>();
  private syncWake: (() => void) | undefined;
  private syncWoken = false;
  private pubWake: (() => void) | undefined;
  private pubWoken = false;

  constructor(
    readonly adapter: IaasAdapter,
    private readonly sync: RunHost,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<void> {
    await Promise.all([this.syncLoop(), this.hintLoop(), this.publishLoop()]);
  }

  wake(): void {
    this.syncWoken = true;
    this.syncWake?.();
  }

  /** A status to publish (the newest per VM wins). */
  queue(s: FtStatus): void {
    if (this.published.get(s.vmId) === publishKey(s)) return;
    this.pending.set(s.vmId, s);
    this.pubWoken = true;
    this.pubWake?.();
  }

  /** A pass saw this VM: publish its status if the IaaS has not got it yet (after a restart, a failed publish). */
  catchUp(view: VmView): void {
    if (!this.pending.has(view.vm.id)) this.queue(view.status);
  }

  private async syncLoop(): Promise<void> {
    const log = this.sync.logger;
    let failures = 0;
    while (!this.signal.aborted) {
      this.syncWoken = false;
      let waitMs = this.sync.timing.pollMs;
      try {
        await this.sync.syncOnce(this, this.signal);
        failures = 0;
      } catch (err) {
        if (this.signal.aborted) break;
        failures++;
        waitMs = Math.min(waitMs, backoffMs(this.sync.timing.backoff, failures));
        if (!isFtServiceError(err, 'FTS_NOT_LEADER') && !isFtServiceError(err, 'FTS_FENCED'))
          log.warn({ adapter: this.adapter.name, err: messageOf(err) }, 'IaaS sync pass failed');
      }
      await sleep(waitMs, this.signal, (wake) => {
        this.syncWake = wake;
        if (this.syncWoken) wake();
      });
      this.syncWake = undefined;
    }
  }

  private async hintLoop(): Promise<void> {
    const log = this.sync.logger;
    let failures = 0;
    while (!this.signal.aborted) {
      try {
        for await (const hint of this.adapter.hints(this.signal)) {
          failures = 0;
          log.debug({ adapter: this.adapter.name, hint }, 'IaaS hint');
          this.wake();
        }
      } catch (err) {
        if (this.signal.aborted) break;
        log.warn(
          { adapter: this.adapter.name, err: messageOf(err) },
          'IaaS hint stream failed: polling goes on',
        );
      }
      if (this.signal.aborted) break;
      // A stream that ended or broke is opened again after a backoff (polling covers the gap).
      failures++;
      await sleep(backoffMs(this.sync.timing.backoff, failures), this.signal, () => {});
    }
  }

  private async publishLoop(): Promise<void> {
    const log = this.sync.logger;
    while (!this.signal.aborted) {
      this.pubWoken = false;
      const now = Date.now();
      let nextDue = Number.POSITIVE_INFINITY;
      for (const [vmId, status] of [...this.pending]) {
        if (this.signal.aborted) break;
        const f = this.failures.get(vmId);
        if (f && f.until > now) {
          nextDue = Math.min(nextDue, f.until);
          continue;
        }
        const vm = this.known.get(vmId);
        // Not listed yet: the next pass lists it and catches its status up.
        if (!vm) {
          this.pending.delete(vmId);
          continue;
        }
        try {
          await this.adapter.publishStatus(vm, status, this.sync.callSignal(this.signal));
          this.published.set(vmId, publishKey(status));
          this.failures.delete(vmId);
          if (this.pending.get(vmId) === status) this.pending.delete(vmId);
        } catch (err) {
          if (this.signal.aborted) break;
          const n = (f?.n ?? 0) + 1;
          const until = Date.now() + backoffMs(this.sync.timing.backoff, n);
          this.failures.set(vmId, { n, until });
          nextDue = Math.min(nextDue, until);
          log.warn(
            { adapter: this.adapter.name, vmId, attempt: n, err: messageOf(err) },
            'publishing the FT status failed: retrying',
          );
        }
      }
      const waitMs = Number.isFinite(nextDue) ? Math.max(0, nextDue - Date.now()) : this.sync.timing.pollMs;
      await sleep(waitMs, this.signal, (wake) => {
        this.pubWake = wake;
        if (this.pubWoken) wake();
      });
      this.pubWake = undefined;
    }
  }
}

function backoffMs(b: { baseMs: number; maxMs: number }, failures: number): number {
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(failures - 1, 20));
}

/** Waits `ms`, or until `arm`'s wake is called, or the signal aborts. */
function sleep(ms: number, signal: AbortSignal, arm: (wake: () => void) => void): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    arm(done);
  });
}
