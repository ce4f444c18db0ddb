/**
 * The FT service: store + lease + reconciler + driver + HTTP API + console, started and
 * stopped as one. One instance on SQLite (embedded, the default), or several on one
 * PostgreSQL database (HA): every instance serves reads and the console; the lease holder
 * alone reconciles and writes.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import type { z } from 'zod';
import { FtApi } from './api.js';
import type { FtDriver } from './driver.js';
import { FtServiceError, messageOf } from './errors.js';
import { LiveHub } from './http/live.js';
import type { Health } from './http/openapi.js';
import { buildHttp } from './http/server.js';
import type { IaasAdapter } from './iaas/adapter.js';
import type { IaasCreator } from './iaas/create.js';
import { IaasSync, type IaasSyncOptions, iaasPrefix } from './iaas/sync.js';
import { LeaderLease } from './leader.js';
import { ServiceMetrics } from './metrics.js';
import { Host, type HostInput, parseAt } from './model.js';
import { Reconciler, type ReconcilerOptions } from './reconciler.js';
import { FtStore, type StoreConfig } from './store/store.js';

export interface FtServiceOptions {
  store: StoreConfig;
  driver: FtDriver;
  /** The hosts (written to the store by the leader at each acquisition). */
  hosts: readonly HostInput[];
  /** Where the API listens (default 127.0.0.1, a free port). */
  listen?: { host?: string; port?: number };
  /** The bearer token. Required when `listen.host` is not a loopback address. */
  token?: string;
  /**
   * This instance's identity in the lease. Default: `embedded` on SQLite (a restart takes
   * its lease back at once), a random id on PostgreSQL (each instance its own).
   */
  instanceId?: string;
  /** The URL others reach this instance at (default: the listening address). */
  publicUrl?: string;
  /**
   * Lease period (default 6000 ms on PostgreSQL; 10,000 ms on SQLite, where the embedded
   * instance takes its own lease back at once after a restart, so a long period costs
   * nothing and a busy machine does not demote its only instance).
   */
  leaseTtlMs?: number;
  reconciler?: ReconcilerOptions;
  /**
   * IaaS managers whose ticked VMs the service protects (ZStack, OpenStack, libvirt...).
   * While this instance leads, each is synced every `iaas.pollMs` and at once on its hints;
   * the service closes them when it stops.
   */
  adapters?: readonly IaasAdapter[];
  /** The adapters' sync timing. */
  iaas?: IaasSyncOptions;
  /**
   * The console's create form goes to this IaaS (one of `adapters`, e.g. the ZStackAdapter
   * with its create defaults): the VM is created there, ticked, and imported by the sync.
   */
  createVia?: IaasCreator;
  /** A pino logger (default: JSON lines on stderr at `info`). */
  logger?: Logger;
  /** The built console (default: dist/console beside this module, when it exists). */
  consoleDir?: string | false;
}

export class FtService {
  private closing = false;
  private stopped: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly store: FtStore,
    readonly lease: LeaderLease,
    readonly reconciler: Reconciler,
    readonly api: FtApi,
    readonly metrics: ServiceMetrics,
    readonly http: FastifyInstance,
    readonly hub: LiveHub,
    readonly driver: FtDriver,
    readonly log: Logger,
    readonly instanceId: string,
    readonly url: string,
    readonly iaas: IaasSync,
  ) {}

  static async start(options: FtServiceOptions): Promise<FtService> {
    const host = options.listen?.host ?? '127.0.0.1';
    if (!isLoopback(host) && !options.token) {
      throw new FtServiceError(
        'FTS_CONFIG',
        `refusing to listen on ${host} without a bearer token: set a token, or listen on a loopback address`,
      );
    }
    const hosts = options.hosts.map((h, i) => parseAt(Host, h, `hosts[${i}]`));
    IaasSync.check(options.adapters ?? []);
    if (options.createVia && !(options.adapters ?? []).includes(options.createVia as never)) {
      throw new FtServiceError(
        'FTS_CONFIG',
        `createVia: ${options.createVia.name} is not one of the adapters`,
        {
          field: 'createVia',
        },
      );
    }
    const log =
      options.logger ??
      pino({ level: 'info', redact: ['req.headers.authorization', 'token', '*.token'] }, pino.destination(2));
    const leaseTtlMs = options.leaseTtlMs ?? (options.store.kind === 'sqlite' ? 10_000 : 6000);
    // A paused instance's open transaction must not outlive its lease (see stallTimeoutMs).
    const store = await FtStore.open(
      options.store.kind === 'postgres' ? { stallTimeoutMs: leaseTtlMs, ...options.store } : options.store,
    );
    const instanceId =
      options.instanceId ??
      (options.store.kind === 'sqlite' ? 'embedded' : `${hostname()}-${randomUUID().slice(0, 8)}`);
    const hub = new LiveHub();
    const metrics = new ServiceMetrics(store);

    // Late-bound: the URL is known after listen(), the service after construction.
    const ref: { service?: FtService; url: string } = { url: '' };
    const lease = new LeaderLease(store, {
      holder: instanceId,
      get url() {
        return options.publicUrl ?? ref.url;
      },
      ttlMs: leaseTtlMs,
    });
    // The reconciler acts only once the hosts are written for the current token.
    let readyFor: number | undefined;
    const gate = {
      get current() {
        const t = lease.current;
        return t !== undefined && t === readyFor ? t : undefined;
      },
    };
    const reconciler = new Reconciler(
      store,
      options.driver,
      gate,
      log.child({ part: 'reconciler' }),
      options.reconciler,
    );
    const api = new FtApi(
      store,
      {
        get current() {
          return lease.current;
        },
        async leaderUrl() {
          const l = await store.readLease();
          return l.expiresAt > l.now && l.url ? l.url : undefined;
        },
      },
      () => reconciler.wake(),
      (options.adapters ?? []).map(iaasPrefix),
    );
    if (options.createVia && !(options.adapters ?? []).some((a) => a.name === options.createVia?.name)) {
      await store.close();
      throw new FtServiceError(
        'FTS_CONFIG',
        `createVia: ${options.createVia.name} is not one of the adapters`,
      );
    }
    const iaas = new IaasSync(api, store, options.adapters ?? [], log.child({ part: 'iaas' }), options.iaas);
    const consoleDir = options.consoleDir === false ? undefined : (options.consoleDir ?? defaultConsoleDir());
    const health = async (): Promise<z.infer<typeof Health>> => {
      const leader = lease.current !== undefined;
      // /healthz answers even while the database is slow: the leader's URL is a courtesy.
      const l = leader ? undefined : await withinMs(store.readLease(), 1000).catch(() => undefined);
      return {
        ok: !ref.service?.closing,
        role: leader ? 'leader' : 'follower',
        instance: instanceId,
        ...(l && l.expiresAt > l.now && l.url ? { leader: l.url } : {}),
        driver: options.driver.name,
      };
    };
    const http = buildHttp({
      api,
      hub,
      metrics,
      health,
      log,
      token: options.token,
      consoleDir,
      closing: () => ref.service?.closing ?? false,
      iaas: {
        adapters: (options.adapters ?? []).map((a) => a.name),
        creator: options.createVia,
        created: (name) => iaas.wake(name),
      },
    });
    await http.listen({ host, port: options.listen?.port ?? 0 });
    const addr = http.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    ref.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const service = new FtService(
      store,
      lease,
      reconciler,
      api,
      metrics,
      http,
      hub,
      options.driver,
      log,
      instanceId,
      ref.url,
      iaas,
    );
    ref.service = service;

    // Live updates: local commits at once; on followers, the leader's commits by polling.
    store.onChange((c) => {
      for (const s of c.statuses) hub.publish('status', s);
      for (const e of c.events) hub.publish('event', e);
    });
    const stepStarted = new Map<number, number>();
    reconciler.on('progress', (p) => {
      hub.publish('step', p);
      if (p.phase === 'started') stepStarted.set(p.stepId, performance.now());
      if (p.phase !== 'started' && p.phase !== 'progress') {
        const t0 = stepStarted.get(p.stepId);
        stepStarted.delete(p.stepId);
        if (t0 !== undefined)
          metrics.stepSeconds.observe({ kind: p.kind, outcome: p.phase }, (performance.now() - t0) / 1000);
      }
    });
    reconciler.on('pass', (p) => metrics.reconcileSeconds.observe(p.durationMs / 1000));
    reconciler.on('failover', (f) => {
      metrics.failovers.inc();
      if (f.detectionMs !== undefined) metrics.detectionSeconds.observe(f.detectionMs / 1000);
    });
    lease.on('acquired', (token) => {
      metrics.leader.set(1);
      log.info({ instance: instanceId, token }, 'leader: lease acquired');
      hub.publish('leader', { instance: instanceId, token });
      void (async () => {
        try {
          await store.write(token, async (w) => {
            for (const h of hosts) await w.upsertHost(h);
          });
          readyFor = token;
          reconciler.wake();
          if (lease.current === token && !service.closing) iaas.start();
        } catch (err) {
          log.error({ err: messageOf(err) }, 'could not write the hosts as the new leader');
        }
      })();
    });
    lease.on('lost', (why) => {
      metrics.leader.set(0);
      readyFor = undefined;
      log.warn({ instance: instanceId, why }, 'leader: lease lost');
      reconciler.demoted();
      void iaas.stop();
    });
    lease.on('error', (err) => log.warn({ err: messageOf(err) }, 'lease round failed'));
    service.startFollowerFeed();
    lease.start();
    reconciler.start();
    log.info(
      { url: ref.url, instance: instanceId, store: options.store.kind, driver: options.driver.name },
      'FT service started',
    );
    return service;
  }

  get isLeader(): boolean {
    return this.lease.isLeader;
  }

  /** Resolves once this instance leads (or rejects on the signal). */
  async whenLeader(signal?: AbortSignal): Promise<void> {
    while (!this.lease.isLeader) {
      signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Graceful shutdown: no new writes, streams ended, requests in flight finished, the
   * reconciler stopped (a step cut short stays open in the journal for the next leader),
   * the driver closed, the lease given up at once, the store closed.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.closing = true;
      clearInterval(this.pollTimer);
      this.hub.closeAll();
      await this.iaas.stop();
      await this.http.close();
      await this.reconciler.stop();
      await this.driver.close();
      await this.iaas.close();
      await this.reconciler.detach();
      await this.lease.stop({ release: true });
      await this.store.close();
      this.log.info({ instance: this.instanceId }, 'FT service stopped');
    })();
    return this.stopped;
  }

  /** Followers see the leader's writes in the store, not in memory: poll the history. */
  private startFollowerFeed(): void {
    let last: number | undefined;
    this.pollTimer = setInterval(async () => {
      if (this.lease.isLeader || this.closing) {
        last = undefined;
        return;
      }
      try {
        last ??= await this.store.lastEventId();
        const events = await this.store.eventsSince(last);
        for (const e of events) {
          last = e.id;
          this.hub.publish('event', e);
          if (e.kind === 'status') {
            const s = await this.store.getStatus(e.vmId);
            if (s) this.hub.publish('status', s.status);
          }
        }
      } catch {
        // The next tick retries; a broken store shows in /healthz and the logs elsewhere.
      }
    }, 1000);
    this.pollTimer.unref();
  }
}

/** `promise`, or a rejection after `ms`. */
function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function defaultConsoleDir(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, 'console'), join(here, '..', 'dist', 'console')]) {
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}
