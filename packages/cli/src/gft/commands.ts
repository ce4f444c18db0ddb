/**
 * `cuju gft up|status|watch|reprotect|down`: a Cuju group (the groupft build) from a
 * group spec, over @cuju/gft: parseGroupSpec and planGroup (`--dry-run` prints
 * formatPlan's text), runPlan with its progress events shown live, and the group's
 * record in a file that every later command adopts (groupStatus, watchGroup, reprotect,
 * downGroup). Nothing here knows the protocol; it shows and saves.
 */
import { EventEmitter } from 'node:events';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import {
  attachGroup,
  downGroup,
  type FtGroup,
  formatPlan,
  GROUP_PHASES,
  type GroupProgress,
  type GroupRecord,
  type GroupStatus,
  groupStatus,
  parseGroupSpec,
  planGroup,
  readGroupRecord,
  reprotect,
  runPlan,
  watchGroup,
} from '@cuju/gft';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { withProgress } from '../progress.js';
import { readText } from '../spec-file.js';

const PHASE_TITLES: Record<string, string> = {
  receivers: 'Launch the receivers (backups)',
  primaries: 'Launch the primaries',
  'add-hosts': 'gft_add_host for every member, on the leader',
  epoch: 'Set the epoch (cuju-adjust-epoch)',
  capability: 'migrate_set_capability cuju-ft on, on every member',
  init: 'gft_init on the leader',
  confirm: 'Confirm that every member is protected',
};

/** Runs a group operation with its progress: a task per phase, or `progress` JSON lines. */
async function withGroupProgress(
  ctx: CommandContext,
  phases: readonly string[],
  run: (onProgress: (e: GroupProgress) => void) => Promise<FtGroup>,
): Promise<FtGroup> {
  if (ctx.out.json) {
    return run((e) =>
      ctx.out.record('progress', {
        event: e.type,
        ...('phase' in e ? { phase: e.phase } : {}),
        ...('step' in e ? { step: e.step.id } : {}),
        ...('ms' in e ? { ms: e.ms } : {}),
        ...('pid' in e && e.pid !== undefined ? { pid: e.pid } : {}),
      }),
    );
  }
  // The phases as states: a phase's task is ticked off at its phase-done.
  const source = new EventEmitter();
  const onProgress = (e: GroupProgress) => {
    if (e.type === 'phase-done') source.emit('state', { state: e.phase });
    else if (e.type === 'step-start') source.emit('state', { state: 'step', detail: e.step.id });
  };
  const steps = phases.map((phase) => ({ title: PHASE_TITLES[phase] ?? phase, doneAt: [phase] }));
  return withProgress(ctx.out, source, steps, () => run(onProgress));
}

function describeStatus(ctx: CommandContext, status: GroupStatus, file: string): void {
  ctx.out.record('group', { ...status, record: file });
  ctx.out.line(
    `group ${status.name ?? ''}: ${status.state} (generation ${status.generation}): ${status.summary}`,
  );
  for (const m of status.members) {
    const vm = (v: typeof m.primary) => (v ? `${v.ip} pid ${v.pid}${v.running ? '' : ' (gone)'}` : 'none');
    ctx.out.line(`  member ${m.id}: ${m.state}; primary ${vm(m.primary)}; backup ${vm(m.backup)}`);
  }
  ctx.out.line(`record: ${file}`);
}

function saveRecord(file: string, record: GroupRecord): void {
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

function loadRecord(file: string): GroupRecord {
  return readGroupRecord(readText(file, 'group record'));
}

/** `cuju gft up SPEC`: plans the group, runs the plan, saves the record; the VMs run on. */
export async function gftUp(
  ctx: CommandContext,
  specFile: string,
  o: { record: string; dryRun?: boolean; force?: boolean },
): Promise<void> {
  const text = readText(specFile, 'group spec');
  const spec = parseGroupSpec(text, { format: /\.json$/i.test(specFile) ? 'json' : 'yaml' });
  const plan = planGroup(spec);
  if (o.dryRun) {
    for (const phase of plan.phases) {
      for (const step of phase.steps) ctx.out.record('plan', { parallel: phase.parallel, ...step });
    }
    if (!ctx.out.json) ctx.out.streams.stdout.write(formatPlan(plan).replace(/\n?$/, '\n'));
    return;
  }
  if (existsSync(o.record) && !o.force) {
    throw new CliError(
      'CLI_STATE',
      `the record ${o.record} exists: its group may still run (cuju gft down --record ${o.record}), or give --force`,
    );
  }
  const group = await withGroupProgress(ctx, GROUP_PHASES, (onProgress) =>
    runPlan(plan, { signal: ctx.signal, onProgress }),
  );
  saveRecord(o.record, group.record());
  const status = group.status();
  await group.release();
  describeStatus(ctx, status, o.record);
}

/** `cuju gft status`: the group as its VMs show it now (no monitor opened). */
export async function gftStatus(ctx: CommandContext, file: string): Promise<void> {
  describeStatus(ctx, await groupStatus(loadRecord(file)), file);
}

/** `cuju gft watch`: member deaths and takeovers as they come, until the group has failed over. */
export async function gftWatch(ctx: CommandContext, file: string): Promise<void> {
  // Adopted first, so that `watching` means every VM is followed from here on.
  const group = await attachGroup(loadRecord(file));
  ctx.out.record('watching', { record: file, generation: group.generation });
  ctx.out.note(`watching group ${group.status().name ?? ''} (${file}); Ctrl-C ends`);
  let report: Awaited<ReturnType<typeof watchGroup>>;
  try {
    report = await watchGroup(group, {
      signal: ctx.signal,
      onEvent: (e) => {
        if (e.type === 'member-died') {
          ctx.out.record('member-died', { ...e.death });
          ctx.out.line(
            `${e.death.at} member ${e.death.member} ${e.death.role} died (${e.death.exit.signal ?? `exit ${e.death.exit.code}`})`,
          );
        } else if (e.type === 'took-over') {
          ctx.out.record('took-over', { ...e.takeover });
          ctx.out.line(
            `${e.takeover.at} member ${e.takeover.member}: its backup runs the guest (+${e.takeover.afterMs.toFixed(0)} ms)`,
          );
        }
      },
    });
  } finally {
    await group.release().catch(() => {});
  }
  ctx.out.record('group-failed-over', { ...report });
  ctx.out.line(`the group failed over in ${report.failoverMs.toFixed(0)} ms: ${report.state.summary}`);
}

/** `cuju gft reprotect`: a new group from the VMs that run, receivers on the spares. */
export async function gftReprotect(ctx: CommandContext, file: string): Promise<void> {
  const record = loadRecord(file);
  const group = await withGroupProgress(
    ctx,
    GROUP_PHASES.filter((p) => p !== 'primaries'),
    (onProgress) => reprotect(record, { signal: ctx.signal, onProgress }),
  );
  saveRecord(file, group.record());
  const status = group.status();
  await group.release();
  describeStatus(ctx, status, file);
}

/** `cuju gft down`: every VM of the group stopped, its files and the record removed. */
export async function gftDown(ctx: CommandContext, file: string): Promise<void> {
  await downGroup(loadRecord(file), { signal: ctx.signal });
  rmSync(file, { force: true });
  ctx.out.record('group', { state: 'down', record: file, removed: true });
  ctx.out.line(`every VM stopped; record ${file} removed`);
}
