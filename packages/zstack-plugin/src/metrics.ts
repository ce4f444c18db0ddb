/**
 * Prometheus metrics (prom-client, a registry of our own: no global state): VMs by FT
 * status, reconcile pass and step durations, failovers and their detection times, and
 * whether this instance leads.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { FtState } from './model.js';
import type { FtStore } from './store/store.js';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly reconcileSeconds: Histogram;
  readonly stepSeconds: Histogram<'kind' | 'outcome'>;
  readonly failovers: Counter;
  readonly detectionSeconds: Histogram;
  readonly leader: Gauge;

  constructor(store: FtStore) {
    collectDefaultMetrics({ register: this.registry, prefix: 'fts_' });
    new Gauge({
      name: 'fts_vms',
      help: 'VMs by FT status',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        const counts = new Map<string, number>(FtState.options.map((s) => [s, 0]));
        for (const { status } of await store.listStatuses())
          counts.set(status.state, (counts.get(status.state) ?? 0) + 1);
        for (const [status, n] of counts) this.set({ status }, n);
      },
    });
    this.reconcileSeconds = new Histogram({
      name: 'fts_reconcile_duration_seconds',
      help: 'Duration of one reconcile pass (read the store, plan every VM, start steps)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.stepSeconds = new Histogram({
      name: 'fts_step_duration_seconds',
      help: 'Duration of reconciler steps, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      buckets: [0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.failovers = new Counter({
      name: 'fts_failovers_total',
      help: 'Failovers seen',
      registers: [this.registry],
    });
    this.detectionSeconds = new Histogram({
      name: 'fts_failover_detection_seconds',
      help: "From the primary's loss to the secondary running, as the engine measured it",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.leader = new Gauge({
      name: 'fts_leader',
      help: '1 while this instance leads',
      registers: [this.registry],
    });
  }
}
