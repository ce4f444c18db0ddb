/**
 * A running group: one VmSession (the SDK's reusable VM session) per primary and backup,
 * each monitor opened once at launch and kept (Cuju issue #13: never a new connection
 * during FT), every stdout line read for Cuju's markers. FtGroup runs plans (its own
 * start, a re-protection) step by step with progress events, reads the group's state,
 * watches for member deaths and the group failover, and stops everything it owns.
 */
import { setMaxListeners } from 'node:events';
import { CujuEngine, type CujuVmMonitor, type Host, markerError, SessionOwner, VmSession } from '@cuju/sdk';
import { GftError, GroupRunError } from './errors.js';
import type {
  GroupDeath,
  GroupFailoverReport,
  GroupMemberStatus,
  GroupProgress,
  GroupStatus,
  GroupTakeover,
  GroupWatchEvent,
} from './events.js';
import { closeHosts, openHosts } from './hosts.js';
import type { GroupPlan, GroupPlanPhase, GroupPlanStep, GroupPlanVm } from './plan.js';
import { vmKey } from './plan.js';
import type { GroupRecord } from './record.js';
import type { GroupSpec } from './spec.js';
import { type GroupVm, groupState, memberState, summary, toDeath, vmStatus } from './status.js';

/** Options of a run (runPlan, reprotect). */
export interface RunOptions {
  /** Cancels the run: everything it started is stopped, and it rejects with GFT_ABORTED. */
  signal?: AbortSignal;
  /** Each progress event, in order. */
  onProgress?: (event: GroupProgress) => void;
}

/** Options of watch(). */
export interface WatchOptions {
  /** Stops watching: watch() rejects with GFT_ABORTED. */
  signal?: AbortSignal;
  /** Each death, takeover and the group failover, as they are seen. */
  onEvent?: (event: GroupWatchEvent) => void;
}

/** Options of down(). */
export interface DownOptions {
  signal?: AbortSignal;
}

/** The markers that mean a step failed, with the line that says why. */
interface FailureNote {
  vm: string;
  line: string;
  error: Error;
}

/** Where the group keeps the VMs' files on each host, and whether it made that directory. */
interface WorkDir {
  host: string;
  dir: string;
  created: boolean;
}

/**
 * A Cuju group (groupft build) this process started or attached to. Made by runPlan() or
 * attachGroup(); see the module comment.
 */
export class FtGroup {
  readonly spec: GroupSpec;
  readonly engine: CujuEngine;
  #plan: GroupPlan;
  #generation: number;
  readonly #hosts: Map<string, Host>;
  #ownHosts: boolean;
  readonly #owner = new SessionOwner<CujuVmMonitor>();
  readonly #vms = new Map<string, GroupVm>();
  readonly #listeners = new Set<() => void>();
  readonly #workDirs: WorkDir[] = [];
  #down: Promise<void> | undefined;

  /** @internal Use runPlan() or attachGroup(). */
  constructor(plan: GroupPlan, hosts: Map<string, Host>, ownHosts: boolean, generation = 0) {
    this.spec = plan.spec;
    this.#plan = plan;
    this.engine = new CujuEngine(plan.build);
    this.#hosts = hosts;
    this.#ownHosts = ownHosts;
    this.#generation = generation;
  }

  /** The plan of the group's current generation. */
  get plan(): GroupPlan {
    return this.#plan;
  }

  /** How many times the group was formed. */
  get generation(): number {
    return this.#generation;
  }

  /** The Host a spec host name stands for. */
  host(name: string): Host {
    const h = this.#hosts.get(name);
    if (!h) throw new GftError('GFT_STATE', `no host '${name}' is open for this group`);
    return h;
  }

  /** @internal Opens the spec's hosts named that are not open yet (spare hosts, for reprotect). */
  async openHosts(names: Iterable<string>): Promise<void> {
    const missing = [...new Set(names)].filter((n) => !this.#hosts.has(n));
    if (missing.length === 0) return;
    if (!this.#ownHosts && this.#hosts.size > 0) {
      throw new GftError(
        'GFT_STATE',
        `hosts ${missing.join(', ')} were not given (pass them in options.hosts)`,
      );
    }
    const opened = await openHosts(this.spec, missing);
    for (const [k, h] of opened) this.#hosts.set(k, h);
    this.#ownHosts = true;
  }

  /** The group's state from what every VM printed and whether it runs (no monitor command). */
  status(): GroupStatus {
    const members: GroupMemberStatus[] = [];
    for (const m of [...this.spec.members].sort((a, b) => a.id - b.id)) {
      const p = this.#vms.get(vmKey(m.id, 'primary'));
      const b = this.#vms.get(vmKey(m.id, 'backup'));
      members.push({
        id: m.id,
        state: memberState(p, b),
        primary: p && vmStatus(p),
        backup: b && vmStatus(b),
      });
    }
    const state = groupState(members.map((m) => m.state));
    return {
      name: this.spec.name,
      state,
      generation: this.#generation,
      members,
      summary: summary(state, members),
    };
  }

  /** The group as JSON for a later process (attachGroup). */
  record(): GroupRecord {
    return {
      kind: 'cuju-gft-group',
      version: 1,
      spec: this.spec,
      build: this.#plan.build,
      generation: this.#generation,
      savedAt: new Date().toISOString(),
      vms: [...this.#vms.values()].map((v) => ({
        key: v.plan.key,
        member: v.plan.member,
        role: v.plan.role,
        host: v.plan.host,
        ip: v.plan.ip,
        pid: v.session.pid,
        logPath: v.session.logPath,
        ...(this.spec.options.sudo ? { sudo: true } : {}),
        spec: v.plan.spec,
        argv: v.plan.argv,
      })),
    };
  }

  /**
   * Resolves when the group has failed over after a member failure: every member's backup
   * took over (or the member is gone), with who died first, who followed and when each
   * backup took over. Events come as they happen. Rejects with GFT_ABORTED on `signal`.
   */
  watch(options: WatchOptions = {}): Promise<GroupFailoverReport> {
    const { signal, onEvent } = options;
    return new Promise<GroupFailoverReport>((resolve, reject) => {
      const told = new Set<string>();
      const deaths: GroupDeath[] = [];
      /** Each death's exit time as the host stamped it (ms, unrounded: ties at ms are common). */
      const diedAt = new Map<GroupDeath, number>();
      const takeovers: GroupTakeover[] = [];
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        this.#listeners.delete(check);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
      };
      const check = () => {
        if (done) return;
        // Deaths and takeovers in time order, each told once.
        const news: Array<{ at: number; event: () => void }> = [];
        for (const v of this.#vms.values()) {
          if (v.death && !told.has(`d:${v.plan.key}`)) {
            told.add(`d:${v.plan.key}`);
            const death = toDeath(v);
            const at = v.death.at;
            news.push({
              at,
              event: () => {
                deaths.push(death);
                diedAt.set(death, at);
                onEvent?.({ type: 'member-died', death });
              },
            });
          }
          const tookAt = v.markers.get('failover-vm-started');
          // A takeover is told once a death is known: the backup may say it runs before
          // the host has recorded its primary's death.
          const anyDeath = [...this.#vms.values()].some((x) => x.death);
          if (v.plan.role === 'backup' && tookAt !== undefined && anyDeath && !told.has(`t:${v.plan.key}`)) {
            told.add(`t:${v.plan.key}`);
            news.push({
              at: tookAt,
              event: () => {
                const first = Math.min(
                  ...[...this.#vms.values()].map((x) => x.death?.at ?? Number.POSITIVE_INFINITY),
                );
                const t: GroupTakeover = {
                  member: v.plan.member,
                  key: v.plan.key,
                  at: new Date(tookAt).toISOString(),
                  afterMs: Number.isFinite(first) ? Math.max(0, Math.round(tookAt - first)) : 0,
                };
                takeovers.push(t);
                onEvent?.({ type: 'took-over', takeover: t });
              },
            });
          }
        }
        news.sort((a, b) => a.at - b.at);
        for (const n of news) n.event();
        const state = this.status();
        // Settled: every member's backup took over (its primary gone: the groupft survivors
        // exit(-1)), or the member is gone.
        const settled = state.members.every(
          (m) => (m.state === 'failed-over' && m.primary?.running !== true) || m.state === 'down',
        );
        // The failure is the death that came first by the hosts' exit stamps, not the first
        // one seen: a survivor that exits because of it may be seen before it.
        deaths.sort((a, b) => diedAt.get(a)! - diedAt.get(b)!);
        const firstDeath = deaths[0];
        if (firstDeath && settled && state.members.some((m) => m.state === 'failed-over')) {
          const last = Math.max(Date.parse(firstDeath.at), ...takeovers.map((t) => Date.parse(t.at)));
          const report: GroupFailoverReport = {
            firstDeath,
            deaths,
            takeovers,
            failoverMs: Math.round(last - Date.parse(firstDeath.at)),
            state,
          };
          onEvent?.({ type: 'group-failed-over', report });
          finish();
          resolve(report);
        } else if (firstDeath && state.state === 'down') {
          finish(new GftError('GFT_STATE', 'every VM of the group is gone: no backup took over'));
        }
      };
      const onAbort = () => finish(new GftError('GFT_ABORTED', 'watch() was cancelled'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#listeners.add(check);
      check();
    });
  }

  /** Stops every VM of the group, removes their files (and the work directories it made) and closes the hosts it opened. */
  down(options: DownOptions = {}): Promise<void> {
    this.#down ??= (async () => {
      await this.#stopVms([...this.#vms.keys()], options.signal);
      await this.#releaseHosts();
    })();
    return this.#down;
  }

  /** Removes the (empty) work directories the group made and closes the hosts it opened. */
  async #releaseHosts(): Promise<void> {
    for (const w of this.#workDirs.splice(0)) {
      if (w.created)
        await this.#hosts
          .get(w.host)
          ?.run(['rmdir', '--', w.dir])
          .catch(() => {});
    }
    if (this.#ownHosts) await closeHosts(this.#hosts);
  }

  /** Lets the VMs run on and stops following them (the record lets a later process find them). */
  async release(): Promise<void> {
    for (const v of this.#vms.values()) await v.session.release();
    this.#vms.clear();
    if (this.#ownHosts) await closeHosts(this.#hosts);
  }

  /** @internal Takes an adopted session on (attachGroup). */
  adopt(plan: GroupPlanVm, session: VmSession<CujuVmMonitor>): void {
    this.#track(plan, session);
  }

  /**
   * @internal Resolves once an adopted VM's log has been read up to `size` bytes (its
   * size when it was adopted), or its exit settled (its log read to the end), or after
   * `timeoutMs`: the markers it printed before count in status().
   */
  async caughtUp(key: string, size: number, timeoutMs: number): Promise<void> {
    const v = this.#vms.get(key);
    if (!v) return;
    const ended = v.session.exited.then(
      () => true,
      () => true,
    );
    let listener: (() => void) | undefined;
    const read = new Promise<void>((resolve) => {
      listener = () => {
        if (v.bytes >= size) resolve();
      };
      this.#listeners.add(listener);
      listener();
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([read, ended, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (listener) this.#listeners.delete(listener);
  }

  /** @internal The owner adopted and launched sessions join. */
  get owner(): SessionOwner<CujuVmMonitor> {
    return this.#owner;
  }

  /** @internal Runs `plan`'s phases (launching its VMs); on failure or abort stops what it started. */
  async execute(plan: GroupPlan, options: RunOptions, onFailure: 'stop-all' | 'stop-started'): Promise<void> {
    const { signal, onProgress } = options;
    const emit = (e: GroupProgress) => {
      try {
        onProgress?.(e);
      } catch {
        // A listener's error is its own: the run goes on.
      }
    };
    const t0 = performance.now();
    const fail = new AbortController();
    const op = signal ? AbortSignal.any([signal, fail.signal]) : fail.signal;
    // Every step of a parallel phase listens on it (a 32-member group: 32 at once).
    setMaxListeners(0, op, fail.signal);
    const started: string[] = [];
    let current: GroupPlanStep | undefined;
    let currentPhase: GroupPlanPhase | undefined;
    let note: FailureNote | undefined;
    const timeouts = this.spec.options.timeouts;
    // The step a marker or death belongs to: the current phase's step on that VM, else the last started.
    const stepOf = (vm: string): GroupPlanStep | undefined =>
      currentPhase?.steps.find((s) => s.vm === vm) ?? current;

    const onNote = (n: FailureNote) => {
      if (fail.signal.aborted) return;
      note = n;
      fail.abort(n.error);
    };
    const unwatch = this.#watchFailures(onNote);
    try {
      await this.#makeWorkDirs(plan, op);
      for (const phase of plan.phases) {
        if (op.aborted) break;
        const p0 = performance.now();
        currentPhase = phase;
        emit({
          type: 'phase-start',
          phase: phase.name,
          parallel: phase.parallel,
          steps: phase.steps.length,
          at: Date.now(),
        });
        const runStep = async (step: GroupPlanStep) => {
          current = step;
          const s0 = performance.now();
          emit({ type: 'step-start', step, at: Date.now() });
          const pid = await this.#step(plan, step, op, timeouts, started);
          emit({
            type: 'step-done',
            step,
            at: Date.now(),
            ms: performance.now() - s0,
            ...(pid !== undefined ? { pid } : {}),
          });
        };
        await runPhase(phase, runStep, fail);
        emit({ type: 'phase-done', phase: phase.name, at: Date.now(), ms: performance.now() - p0 });
      }
      if (op.aborted) throw op.reason;
      for (const v of this.#vms.values()) this.engine.setInFt(v.session, true);
      this.#plan = plan;
      this.#generation += 1;
      emit({ type: 'protected', at: Date.now(), ms: performance.now() - t0 });
    } catch (err) {
      const step = note ? markerStep(plan, note, stepOf(note.vm)) : current;
      const failure = {
        stepId: step?.id,
        phase: step?.phase,
        marker: note?.line,
        vm: note?.vm,
      };
      let error: GroupRunError;
      if (signal?.aborted) {
        error = new GroupRunError(
          'GFT_ABORTED',
          `cancelled at ${step ? `step ${step.id} (${step.phase})` : 'the start'}: everything it started was stopped`,
          failure,
          { cause: signal.reason },
        );
      } else {
        const cause = note?.error ?? (err as Error);
        const why = note ? `${note.vm} printed \`${note.line}\`: ${cause.message}` : cause.message;
        error = new GroupRunError(
          'GFT_STEP_FAILED',
          `step ${step?.id ?? '(before the first)'}${step ? ` (${step.phase}, on ${step.host} ${step.address}${step.line ? `: ${step.line}` : ''})` : ''} failed: ${why}`,
          failure,
          { cause },
        );
      }
      unwatch();
      await this.#stopVms(onFailure === 'stop-all' ? [...this.#vms.keys()] : started);
      await this.#removeFailedLaunches(plan, started);
      if (onFailure === 'stop-all') await this.#releaseHosts();
      emit({ type: 'failed', error, at: Date.now() });
      throw error;
    } finally {
      unwatch();
    }
  }

  /** @internal Re-keys a surviving session (a backup that took over becomes its member's primary). */
  rekey(from: string, to: GroupPlanVm): void {
    const v = this.#vms.get(from);
    if (!v) return;
    this.#vms.delete(from);
    this.#vms.set(to.key, { ...v, plan: to });
  }

  /** @internal The VM under a key. */
  vm(key: string): { session: VmSession<CujuVmMonitor>; plan: GroupPlanVm } | undefined {
    return this.#vms.get(key);
  }

  /** @internal Stops and forgets the VMs under `keys` (their files removed). */
  async stopVms(keys: string[]): Promise<void> {
    await this.#stopVms(keys);
  }

  // ---- internals --------------------------------------------------------------------

  /** One step: a launch returns the VM's pid. */
  async #step(
    plan: GroupPlan,
    step: GroupPlanStep,
    signal: AbortSignal,
    timeouts: GroupSpec['options']['timeouts'],
    started: string[],
  ): Promise<number | undefined> {
    if (signal.aborted) throw signal.reason;
    if (step.action === 'launch') {
      const vm = plan.vms.find((v) => v.key === step.vm);
      if (!vm) throw new GftError('GFT_STATE', `the plan has no VM ${step.vm}`);
      const host = this.host(vm.host);
      const session = await VmSession.launch<CujuVmMonitor>({
        host,
        name: `member ${vm.member} ${vm.role}`,
        spec: vm.spec,
        argv: vm.argv,
        logPath: vm.logPath,
        ...(this.spec.options.sudo ? { sudo: true } : {}),
        owner: this.#owner,
        isReady: (line) => this.engine.markerOf(line)?.kind === 'vm-init-finished',
        openMonitor: (o) => this.engine.openMonitor(host, vm.spec, o),
        files: [vm.spec.monitorPath],
        timeoutMs: timeouts.launchMs,
        signal,
      });
      started.push(vm.key);
      this.#track(vm, session);
      this.engine.launched(session);
      return session.pid;
    }
    const v = this.#vms.get(step.vm);
    if (!v) throw new GftError('GFT_STATE', `${step.vm} is not running`);
    if (step.action === 'send') {
      const monitor = v.session.monitor;
      if (!monitor) throw new GftError('GFT_STATE', `${step.vm}'s monitor is not open`);
      const out = await monitor.cuju.hmp.run(step.line ?? '', { timeoutMs: timeouts.commandMs, signal });
      // Cuju prints nothing on the monitor when these commands succeed.
      if (out.trim() !== '') throw new GftError('GFT_STEP_FAILED', `the monitor answered: ${out.trim()}`);
      return undefined;
    }
    // confirm: the backup's first commit, the primary's first epoch, info migrate in FT.
    const primary = this.#vms.get(vmKey(step.member, 'primary'));
    const backup = this.#vms.get(vmKey(step.member, 'backup'));
    if (!primary || !backup)
      throw new GftError('GFT_STATE', `member ${step.member} has no primary or backup`);
    const wait = { timeoutMs: timeouts.protectMs, signal };
    await backup.session.waitForLine((l) => this.engine.markerOf(l)?.kind === 'first-commit', {
      ...wait,
      what: `member ${step.member}'s backup's \`first commit\``,
    });
    await primary.session.waitForLine((l) => this.engine.markerOf(l)?.kind === 'timer-tick', {
      ...wait,
      what: `member ${step.member}'s primary's \`migrate_timer tick\``,
    });
    const monitor = primary.session.monitor;
    if (!monitor) throw new GftError('GFT_STATE', `${primary.plan.key}'s monitor is not open`);
    if (!(await monitor.cuju.ftRunning({ timeoutMs: timeouts.commandMs, signal }))) {
      throw new GftError(
        'GFT_STEP_FAILED',
        `member ${step.member}'s \`info migrate\` does not show Cuju's FT state`,
      );
    }
    return undefined;
  }

  /** Follows a session: its markers (with times) and its death. */
  #track(plan: GroupPlanVm, session: VmSession<CujuVmMonitor>): void {
    const v: GroupVm = { plan, session, markers: new Map(), death: undefined, lastLine: '', bytes: 0 };
    this.#vms.set(plan.key, v);
    session.onLine((line) => {
      v.lastLine = line;
      v.bytes += Buffer.byteLength(line) + 1;
      this.#notify();
      const m = this.engine.markerOf(line);
      if (!m) return;
      this.engine.observe(session, line);
      if (!v.markers.has(m.kind)) v.markers.set(m.kind, Date.now());
      this.#notify();
    });
    session.died.then(
      (exit) => {
        // The host's own stamp (performance.now() of this process) as wall-clock time.
        const at = exit.diedAt === undefined ? Date.now() : Date.now() - (performance.now() - exit.diedAt);
        v.death = { at, exit };
        this.#notify();
      },
      () => {},
    );
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  /** Calls `onNote` for the first failure marker or VM death from now on (until the returned function is called). */
  #watchFailures(onNote: (n: FailureNote) => void): () => void {
    const offs: Array<() => void> = [];
    let active = true;
    const watchVm = (v: GroupVm) => {
      offs.push(
        v.session.onLine((line) => {
          if (!active) return;
          const m = this.engine.markerOf(line);
          const error = m && m.kind !== 'qemu-warning' ? markerError(m) : undefined;
          if (error) onNote({ vm: v.plan.key, line, error });
        }),
      );
      v.session.died.then(
        (exit) => {
          if (!active) return;
          const how = exit.signal ?? `code ${exit.code}`;
          onNote({
            vm: v.plan.key,
            line: v.lastLine,
            error: new GftError('GFT_STEP_FAILED', `${v.plan.key} exited (${how})`),
          });
        },
        () => {},
      );
    };
    const known = new Set<string>();
    const scan = () => {
      for (const v of this.#vms.values()) {
        if (known.has(v.plan.key)) continue;
        known.add(v.plan.key);
        watchVm(v);
      }
    };
    scan();
    this.#listeners.add(scan);
    return () => {
      active = false;
      this.#listeners.delete(scan);
      for (const off of offs.splice(0)) off();
    };
  }

  /** Creates the work directory on each host of the plan's new VMs (remembering which it made). */
  async #makeWorkDirs(plan: GroupPlan, signal: AbortSignal): Promise<void> {
    const dir = this.spec.options.workDir;
    for (const name of new Set(plan.vms.filter((v) => !this.#vms.has(v.key)).map((v) => v.host))) {
      if (this.#workDirs.some((w) => w.host === name)) continue;
      const r = await this.host(name).run(
        [
          'sh',
          '-c',
          'if [ -d "$1" ]; then echo exists; else mkdir -p -- "$1" && echo created; fi',
          'sh',
          dir,
        ],
        { check: true, signal },
      );
      this.#workDirs.push({ host: name, dir, created: r.stdout.trim() === 'created' });
    }
  }

  /**
   * A launch that failed has had its VM killed (VmSession.launch) but its log and socket
   * are still there: remove those of every new VM of the plan that did not start.
   */
  async #removeFailedLaunches(plan: GroupPlan, started: string[]): Promise<void> {
    for (const v of plan.vms) {
      if (started.includes(v.key) || this.#vms.get(v.key)?.plan === v) continue;
      if (this.#vms.has(v.key)) continue; // a survivor of an earlier generation
      const host = this.#hosts.get(v.host);
      const files = [
        v.logPath,
        `${v.logPath}.pid`,
        `${v.logPath}.exit`,
        `${v.logPath}.lock`,
        v.spec.monitorPath,
      ];
      await host?.run(['rm', '-f', '--', ...files]).catch(() => {});
    }
  }

  async #stopVms(keys: string[], signal?: AbortSignal): Promise<void> {
    const grace = this.spec.options.timeouts.stopGraceMs;
    const vms = keys.map((k) => this.#vms.get(k)).filter((v): v is GroupVm => v !== undefined);
    await Promise.all(
      vms.map(async (v) => {
        await v.session.stop({ graceMs: grace, signal });
        await v.session.removeFiles();
        this.engine.forget(v.session);
        this.#owner.drop(v.session);
        this.#vms.delete(v.plan.key);
      }),
    );
  }
}

/**
 * The step a failure marker belongs to: gft_init's connection and ACK errors come from the
 * leader's gft_init (and a member's link errors from what it started), printed on stdout
 * after the monitor answered; the others belong to the step running on that VM.
 */
function markerStep(
  plan: GroupPlan,
  note: FailureNote,
  fallback: GroupPlanStep | undefined,
): GroupPlanStep | undefined {
  if (!/^qmp_gft_leader_init |^gft_master_connect_other_master /.test(note.line)) return fallback;
  return plan.phases.flatMap((p) => p.steps).find((s) => s.id === 'gft-init') ?? fallback;
}

/** Runs a phase's steps in order or at once; the first failure aborts the others (through `fail`) and is thrown once all settled. */
async function runPhase(
  phase: GroupPlanPhase,
  runStep: (step: GroupPlanStep) => Promise<void>,
  fail: AbortController,
): Promise<void> {
  if (!phase.parallel) {
    for (const s of phase.steps) await runStep(s);
    return;
  }
  const results = await Promise.allSettled(
    phase.steps.map((s) =>
      runStep(s).catch((err: unknown) => {
        if (!fail.signal.aborted) fail.abort(err);
        throw err;
      }),
    ),
  );
  const first = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (first) throw fail.signal.aborted ? fail.signal.reason : first.reason;
}
