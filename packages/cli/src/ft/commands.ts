/**
 * `cuju ft up|status|turn-on|turn-off|restart-secondary|test-failover|down`: an FT pair
 * from a spec file, kept between processes in a record file (the SDK's FtPair.record(),
 * adopted again with FtPair.attach()). Each command is one SDK operation with progress.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CujuArgumentError, type CujuVmSpec, FtPair, type FtPairRecord, LocalHost } from '@cuju/sdk';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { type ProgressStep, withProgress } from '../progress.js';
import { removeStaleSockets } from './cleanup.js';
import { pairPlan } from './plan.js';
import { loadPairSpec, loadSavedPair, pairOptionsOf, type SavedPair, saveSavedPair } from './spec.js';

/** The steps of bringing a pair to protection (up, turn-on, restart-secondary). */
const PROTECT_STEPS: readonly ProgressStep[] = [
  { title: 'Launch the primary and the backup', doneAt: ['backup-ready'] },
  { title: 'Turn FT on (migrate_set_capability cuju-ft on)', doneAt: ['enabling'] },
  { title: 'Synchronise (migrate -c) until protected', doneAt: ['protected'] },
];
const SECONDARY_STEPS: readonly ProgressStep[] = [
  { title: 'Launch a new secondary', doneAt: ['backup-ready'] },
  ...PROTECT_STEPS.slice(1),
];

/** Where a VM of a record runs, for status output. */
function vmSummary(vm: FtPairRecord['primary']) {
  return vm
    ? {
        pid: vm.pid,
        host: vm.host.name,
        address: vm.host.address,
        monitor: vm.spec.monitorPath,
        log: vm.logPath,
      }
    : undefined;
}

function describe(ctx: CommandContext, record: FtPairRecord, file: string | undefined): void {
  const { out } = ctx;
  out.record('pair', {
    state: record.state,
    ...(record.reason ? { reason: record.reason } : {}),
    build: record.variant,
    ftPort: record.ftPort,
    primary: vmSummary(record.primary),
    backup: vmSummary(record.backup),
    ...(file ? { record: file } : {}),
  });
  out.line(`state: ${record.state}${record.reason ? ` (${record.reason})` : ''}`);
  for (const role of ['primary', 'backup'] as const) {
    const vm = record[role];
    out.line(
      vm
        ? `${role}: pid ${vm.pid} on ${vm.host.name} (${vm.host.address}), monitor ${vm.spec.monitorPath}, log ${vm.logPath}`
        : `${role}: none`,
    );
  }
  if (file) out.line(`record: ${file}`);
}

/** `cuju ft up SPEC`: launches the pair, protects it, saves the record, leaves it running. */
export async function ftUp(
  ctx: CommandContext,
  specFile: string,
  o: { record: string; dryRun?: boolean; force?: boolean },
): Promise<void> {
  const spec = loadPairSpec(specFile);
  // Without a logDir in the spec the pair's logs go in a directory of its own beside the
  // monitor, so that whatever a failed or interrupted up leaves there goes with it.
  const monitorDir = dirname(String((spec.vm as { monitorPath?: unknown }).monitorPath ?? '.'));
  const ownLogDir =
    spec.logDir || o.dryRun || !existsSync(monitorDir)
      ? undefined
      : mkdtempSync(join(monitorDir, `.cuju-${basename(o.record).replace(/\.json$/, '')}-`));
  const removeOwn = () => {
    if (ownLogDir) rmSync(ownLogDir, { recursive: true, force: true });
  };
  const options = pairOptionsOf(spec, spec.logDir ?? ownLogDir);
  let pair: FtPair;
  try {
    pair = new FtPair(options);
  } catch (err) {
    removeOwn();
    if (err instanceof CujuArgumentError) {
      throw new CliError('CLI_SPEC', `${specFile}: ${err.message}`, { path: err.field, cause: err });
    }
    throw err;
  }
  if (o.dryRun) {
    for (const [i, step] of pairPlan(pair, options).entries()) {
      ctx.out.record('plan', { step: i + 1, ...step });
      if (step.kind === 'launch') {
        ctx.out.line(`# ${i + 1}. ${step.role} on ${step.host}, until: ${step.waitsFor}`);
        ctx.out.line(step.argv.join(' '));
      } else {
        ctx.out.line(`# ${i + 1}. to the ${step.role}'s monitor ${step.monitor}, until: ${step.waitsFor}`);
        ctx.out.line(step.line);
      }
    }
    return;
  }
  if (existsSync(o.record) && !o.force) {
    removeOwn();
    throw new CliError(
      'CLI_STATE',
      `the record ${o.record} exists: its pair may still run (cuju ft down --record ${o.record}), or give --force`,
    );
  }
  try {
    await withProgress(ctx.out, pair, PROTECT_STEPS, () => pair.up({ signal: ctx.signal }));
  } catch (err) {
    // up() stops what it started when it fails or is aborted; down() waits until it has.
    await pair.down().catch(() => {});
    removeOwn();
    const specs = [options.vm, pair.backupSpec];
    await removeStaleSockets(specs.flatMap((v) => [v.monitorPath, ...(v.qmpPath ? [v.qmpPath] : [])]));
    throw err;
  }
  const saved: SavedPair = {
    kind: 'cuju-ft-pair',
    version: 1,
    record: pair.record(),
    binary: options.binary,
    address: options.primary.address,
    ...(spec.timeouts ? { timeouts: spec.timeouts } : {}),
    ...(ownLogDir ? { ownLogDir } : {}),
  };
  saveSavedPair(o.record, saved);
  await pair.detach();
  describe(ctx, saved.record, o.record);
}

/** The logs of VMs the pair no longer has: earlier ones, and those the new record dropped. */
function retiredLogs(saved: SavedPair, now: FtPairRecord): string[] {
  const current = new Set([now.primary?.logPath, now.backup?.logPath]);
  const before = [saved.record.primary?.logPath, saved.record.backup?.logPath, ...(saved.retired ?? [])];
  return [...new Set(before.filter((l): l is string => l !== undefined && !current.has(l)))];
}

/** Adopts the pair of a record file, runs `fn`, saves the record again (or removes it), detaches. */
async function onRecord(
  ctx: CommandContext,
  file: string,
  fn: (pair: FtPair) => Promise<void>,
  after: 'save' | 'remove' = 'save',
): Promise<FtPair> {
  const saved = loadSavedPair(file);
  const host = new LocalHost({ address: saved.address });
  const pair = await FtPair.attach(saved.record as FtPairRecord, {
    hosts: { [saved.record.hosts?.primary?.name ?? 'local']: host, local: host },
    binary: saved.binary,
    ...(saved.ownLogDir ? { logDir: saved.ownLogDir } : {}),
    ...(saved.timeouts ? { timeouts: saved.timeouts } : {}),
    signal: ctx.signal,
  });
  let failure: unknown;
  try {
    await fn(pair);
  } catch (err) {
    failure = err;
  }
  const record = pair.record();
  const retired = retiredLogs(saved, record);
  if (after === 'remove' && failure === undefined) {
    // down() removed the files of the VMs it had; those of VMs replaced in earlier
    // processes (a failed-over primary, a turned-off secondary) are only known here.
    for (const log of retired)
      for (const suffix of ['', '.pid', '.exit', '.lock']) rmSync(`${log}${suffix}`, { force: true });
    if (saved.ownLogDir) rmSync(saved.ownLogDir, { recursive: true, force: true });
    rmSync(file, { force: true });
  } else saveSavedPair(file, { ...saved, record, ...(retired.length ? { retired } : {}) });
  if (pair.state !== 'stopped') await pair.detach().catch(() => {});
  if (failure !== undefined) throw failure;
  return pair;
}

/** `cuju ft status`: the pair as found now (adopted, left running). */
export async function ftStatus(ctx: CommandContext, file: string): Promise<void> {
  const pair = await onRecord(ctx, file, async () => {}, 'save');
  describe(ctx, pair.record(), file);
}

/** `cuju ft turn-on`: a new secondary for a pair whose FT is off. */
export async function ftTurnOn(ctx: CommandContext, file: string): Promise<void> {
  const pair = await onRecord(ctx, file, (p) =>
    withProgress(ctx.out, p, SECONDARY_STEPS, () =>
      p.turnOn({ signal: ctx.signal, ...freeSecondarySpec(p) }),
    ),
  );
  describe(ctx, pair.record(), file);
}

/** `cuju ft turn-off`: FT ends, the VM runs on alone. */
export async function ftTurnOff(ctx: CommandContext, file: string): Promise<void> {
  const pair = await onRecord(ctx, file, (p) =>
    withProgress(ctx.out, p, [{ title: 'Turn FT off', doneAt: ['disabled'] }], () =>
      p.turnOff({ signal: ctx.signal }),
    ),
  );
  describe(ctx, pair.record(), file);
}

/** `cuju ft restart-secondary`: protection again after a failover or a lost secondary. */
export async function ftRestartSecondary(ctx: CommandContext, file: string): Promise<void> {
  const pair = await onRecord(ctx, file, (p) =>
    withProgress(ctx.out, p, SECONDARY_STEPS, () =>
      p.restartSecondary({ signal: ctx.signal, ...freeSecondarySpec(p) }),
    ),
  );
  describe(ctx, pair.record(), file);
}

/**
 * Where a new secondary goes (turn-on, restart-secondary): the monitor (and tap) the
 * running VM does not use, of the pair's two (after a failover it is the old backup). FtPair picks the dead VM's spec itself within one process, but
 * a pair adopted from a record in a new process falls back to the backup spec, which
 * after a failover is the survivor's own: its monitor socket would be taken over.
 */
function freeSecondarySpec(pair: FtPair): { backupVm?: Partial<CujuVmSpec> } {
  const record = pair.record();
  const survivor = record.primary?.spec;
  if (!survivor) return {};
  const free = [record.vm, pair.backupSpec].find((s) => s.monitorPath !== survivor.monitorPath);
  if (!free) return {};
  return {
    backupVm: {
      monitorPath: free.monitorPath,
      ...(free.qmpPath ? { qmpPath: free.qmpPath } : {}),
      ...(free.nic ? { nic: free.nic } : {}),
    },
  };
}

/** `cuju ft test-failover`: kills the primary, reports how the backup took over. */
export async function ftTestFailover(ctx: CommandContext, file: string): Promise<void> {
  let report: Awaited<ReturnType<FtPair['testFailover']>> | undefined;
  const pair = await onRecord(ctx, file, (p) =>
    withProgress(
      ctx.out,
      p,
      [{ title: 'Kill the primary; the backup takes over', doneAt: ['failed-over'] }],
      async () => {
        report = await p.testFailover({ signal: ctx.signal });
      },
    ),
  );
  if (report) {
    ctx.out.record('failover', { ...report });
    ctx.out.line(
      `failed over: first sign ${report.firstSign}, via ${report.via}, ` +
        `death to detection ${fmtMs(report.deathToDetectionMs)}, death to running ${fmtMs(report.deathToRunningMs)}`,
    );
  }
  describe(ctx, pair.record(), file);
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? '?' : `${ms.toFixed(1)} ms`;
}

/** `cuju ft down`: stops both VMs, removes their files and the record. */
export async function ftDown(ctx: CommandContext, file: string): Promise<void> {
  await onRecord(
    ctx,
    file,
    (p) =>
      withProgress(ctx.out, p, [{ title: 'Stop both VMs', doneAt: ['stopped'] }], () =>
        p.down({ signal: ctx.signal }),
      ),
    'remove',
  );
  ctx.out.record('pair', { state: 'stopped', record: file, removed: true });
  ctx.out.line(`stopped; record ${file} removed`);
}
