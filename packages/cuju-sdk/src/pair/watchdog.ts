/**
 * The liveness watchdog of a protected pair (issue 18): is each VM still making progress?
 *
 * Progress is what the build offers: an answer of the VM's monitor (kept since before FT;
 * one probe in flight at a time, so a VM that stopped answering is never sent a queue of
 * them) and, for the primary, its epoch markers on stdout. A VM is unresponsive once a
 * probe sent at least `threshold` ago is still unanswered and nothing else showed progress
 * since then (for a VM without a monitor: no epoch for `threshold`), where `threshold` is
 * the longer of `thresholdMs` and `thresholdEpochs` epochs.
 *
 * Two guards keep a slow machine from looking like a hung VM: the verdict needs an
 * unanswered probe that had the whole threshold to be answered (a timer of this process
 * that ran late does not count against the VM), and it is given only after this process
 * has read what arrived meanwhile (an answer waiting in a socket is taken first:
 * setImmediate runs after Node's poll phase).
 */
import type { PairRole } from './engine.js';

export interface WatchdogSettings {
  intervalMs: number;
  thresholdMs: number;
  thresholdEpochs: number;
  epochUs: number;
}

export interface WatchdogHooks {
  /** One probe of the VM's monitor, or undefined when it has none (progress is then its epochs only). */
  probe(role: PairRole, signal: AbortSignal): Promise<void> | undefined;
  unresponsive(role: PairRole, detail: string): void;
  responsive(role: PairRole, detail: string): void;
}

interface Watched {
  lastProgressAt: number;
  probeSentAt: number | undefined;
  flagged: boolean;
  hasMonitor: boolean;
}

/** A probe that has not answered after this many thresholds is given up and sent again. */
const PROBE_PATIENCE = 20;

export class Watchdog {
  private readonly watched = new Map<PairRole, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();
  private stopped = false;

  constructor(
    private readonly settings: WatchdogSettings,
    private readonly hooks: WatchdogHooks,
  ) {}

  /** The silence that makes a VM unresponsive (ms). */
  get thresholdMs(): number {
    const { thresholdMs, thresholdEpochs, epochUs } = this.settings;
    return Math.max(thresholdMs, (thresholdEpochs * epochUs) / 1000);
  }

  /** Starts watching these roles (with or without a monitor to probe). */
  start(roles: ReadonlyArray<{ role: PairRole; hasMonitor: boolean }>): void {
    const now = performance.now();
    for (const { role, hasMonitor } of roles) {
      this.watched.set(role, { lastProgressAt: now, probeSentAt: undefined, flagged: false, hasMonitor });
    }
    this.timer = setInterval(() => this.tick(), this.settings.intervalMs);
    this.timer.unref();
    this.tick();
  }

  /** Something showed that the VM progresses (an epoch marker). */
  progress(role: PairRole): void {
    const w = this.watched.get(role);
    if (!w || this.stopped) return;
    w.lastProgressAt = performance.now();
    if (w.flagged) {
      w.flagged = false;
      this.hooks.responsive(role, `the ${role} VM makes progress again`);
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.controller.abort();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = performance.now();
    for (const [role, w] of this.watched) {
      if (
        w.hasMonitor &&
        (w.probeSentAt === undefined || now - w.probeSentAt > PROBE_PATIENCE * this.thresholdMs)
      ) {
        this.sendProbe(role, w);
      }
      if (!w.flagged && this.silent(w, now)) setImmediate(() => this.verdict(role, w));
    }
  }

  private sendProbe(role: PairRole, w: Watched): void {
    const probe = this.hooks.probe(role, this.controller.signal);
    if (!probe) {
      w.hasMonitor = false;
      return;
    }
    const sentAt = performance.now();
    w.probeSentAt = sentAt;
    probe.then(
      () => {
        if (w.probeSentAt === sentAt) w.probeSentAt = undefined;
        this.progress(role);
      },
      () => {
        // An error (the connection closed, the deadline) is no proof of life: the VM stays
        // silent since this probe was sent; another goes out after PROBE_PATIENCE.
      },
    );
  }

  /** Silent for the threshold: an unanswered probe that had all of it (or no epoch, without a monitor). */
  private silent(w: Watched, now: number): boolean {
    const threshold = this.thresholdMs;
    if (now - w.lastProgressAt < threshold) return false;
    if (!w.hasMonitor) return true;
    return w.probeSentAt !== undefined && now - w.probeSentAt >= threshold;
  }

  private verdict(role: PairRole, w: Watched): void {
    if (this.stopped || w.flagged) return;
    const now = performance.now();
    if (!this.silent(w, now)) return;
    w.flagged = true;
    const silence = Math.round(now - w.lastProgressAt);
    const what = w.hasMonitor
      ? 'no monitor answer and no epoch'
      : 'no epoch marker (its monitor is not open)';
    this.hooks.unresponsive(
      role,
      `the ${role} VM shows ${what} for ${silence} ms (threshold ${Math.round(this.thresholdMs)} ms: ${this.settings.thresholdMs} ms, ${this.settings.thresholdEpochs} epochs of ${this.settings.epochUs} us)`,
    );
  }
}
