/**
 * The seed manual's group FT flow as one command, on cuju-sim: the receivers (recv_b*),
 * the primaries (run_ft*), add_host.sh's `gft_add_host` lines on the leader, gft_init.sh's
 * `migrate_set_capability cuju-ft on` on every member and `gft_init` on the leader, each
 * step waited for, protection confirmed from what the groupft build prints (never GFT
 * START, which it never reaches). Then, unless --no-failover-test, member 1's primary is
 * killed: the groupft tip fails the whole group over (the other primaries exit), the watch
 * reports it, and the group is re-protected on the spec's spare slots. Then everything
 * stops.
 *
 *   tsx examples/gft-init.ts [SPEC] [--dry-run] [--port-base N] [--work-dir DIR] [--no-failover-test]
 *
 * SPEC defaults to examples/gft/group.yaml (the seed topology). --dry-run prints the plan
 * (the seed scripts' lines for the seed topology) and starts nothing. The run replaces the
 * spec's binary with cuju-sim (groupft) and its work directory with a temporary one;
 * --port-base moves every port of the spec by one offset (the lowest becomes N), for a
 * machine where 4441 or 5000 are taken.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  formatPlan,
  type GroupProgress,
  type GroupSpec,
  parseGroupSpec,
  planGroup,
  reprotect,
  runPlan,
} from '@cuju/gft';
import { simBinary } from '@cuju/sim';
import { parseCommandLine, runMain, UsageError, wholeNumber } from './lib/cli.js';

const USAGE = `usage: tsx examples/gft-init.ts [SPEC] [--dry-run] [--port-base N] [--work-dir DIR] [--no-failover-test]

  SPEC                a group spec, YAML or JSON (default examples/gft/group.yaml)
  --dry-run           print the plan (every command line and monitor line) and start nothing
  --port-base N       move every port of the spec by one offset so that the lowest is N
  --work-dir DIR      where the VMs' monitors and logs go (default a temporary directory, removed)
  --no-failover-test  stop once protected, instead of killing member 1's primary, watching
                      the group fail over and re-protecting it on the spare slots
  --help              this text

Exit status: 0 protected (and failed over and re-protected when tested); 1 it was not; 2 bad arguments.`;

const DEFAULT_SPEC = fileURLToPath(new URL('gft/group.yaml', import.meta.url));

/** The spec with every port moved by one offset, so that the lowest is `base`. */
function movePorts(spec: GroupSpec, base: number): GroupSpec {
  const ports = [
    ...spec.members.flatMap((m) => [
      m.primary.joinPort,
      m.backup.ftPort,
      m.backup.joinPort ?? m.primary.joinPort + 1,
    ]),
    ...spec.spares.flatMap((s) => [s.ftPort, s.joinPort]),
  ];
  const offset = base - Math.min(...ports);
  if (Math.max(...ports) + offset > 65_535)
    throw new UsageError(`--port-base ${base} moves a port above 65535`);
  return parseGroupSpec({
    ...spec,
    members: spec.members.map((m) => ({
      ...m,
      primary: { ...m.primary, joinPort: m.primary.joinPort + offset },
      backup: {
        ...m.backup,
        ftPort: m.backup.ftPort + offset,
        ...(m.backup.joinPort !== undefined ? { joinPort: m.backup.joinPort + offset } : {}),
      },
    })),
    spares: spec.spares.map((s) => ({ ...s, ftPort: s.ftPort + offset, joinPort: s.joinPort + offset })),
  });
}

function progress(prefix: string): (e: GroupProgress) => void {
  return (e) => {
    if (e.type === 'phase-start')
      console.log(`${prefix}${e.phase} (${e.steps} step(s), ${e.parallel ? 'in parallel' : 'in order'})`);
    else if (e.type === 'step-done')
      console.log(
        `${prefix}  ${e.step.id}: ${e.step.line ?? (e.pid ? `pid ${e.pid}` : 'ok')} (${Math.round(e.ms)} ms)`,
      );
    else if (e.type === 'protected') console.log(`${prefix}protected in ${Math.round(e.ms)} ms`);
  };
}

async function run(spec: GroupSpec, failoverTest: boolean, signal: AbortSignal): Promise<number> {
  let group: Awaited<ReturnType<typeof runPlan>> | undefined;
  try {
    group = await runPlan(planGroup(spec), { signal, onProgress: progress('') });
    console.log(`status: ${group.status().summary}`);
    if (!failoverTest) return 0;
    const victim = group.status().members[1]?.primary;
    if (!victim) throw new Error('the group has no member 1');
    const watching = group.watch({
      signal,
      onEvent: (e) => {
        if (e.type === 'member-died')
          console.log(
            `died: ${e.death.key} (${e.death.exit.signal ?? `code ${e.death.exit.code}`}) at ${e.death.at}`,
          );
        if (e.type === 'took-over')
          console.log(`took over: member ${e.takeover.member}'s backup, +${e.takeover.afterMs} ms`);
      },
    });
    console.log(`killing member 1's primary (pid ${victim.pid})`);
    process.kill(victim.pid, 'SIGKILL');
    const report = await watching;
    console.log(`group failed over in ${report.failoverMs} ms: ${report.state.summary}`);
    await reprotect(group, { signal, onProgress: progress('reprotect: ') });
    console.log(`status: ${group.status().summary} (generation ${group.generation})`);
    return 0;
  } catch (err) {
    const e = err as { code?: string; message: string };
    console.error(`${e.code ?? 'error'}: ${e.message}`);
    return 1;
  } finally {
    await group?.down();
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    usage: USAGE,
    options: {
      'dry-run': { type: 'boolean' },
      'port-base': { type: 'string' },
      'work-dir': { type: 'string' },
      'no-failover-test': { type: 'boolean' },
    },
    positionals: { min: 0, max: 1 },
  });
  if (!args) return 0;
  const { values, positionals } = args;
  const file = positionals[0] ?? DEFAULT_SPEC;
  let spec: GroupSpec;
  try {
    spec = parseGroupSpec(readFileSync(file, 'utf8'), { format: file.endsWith('.json') ? 'json' : 'yaml' });
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  if (values['port-base'] !== undefined)
    spec = movePorts(spec, wholeNumber('--port-base', values['port-base'], 1, 65535));
  if (values['dry-run']) {
    process.stdout.write(formatPlan(planGroup(spec)));
    return 0;
  }
  const temp = values['work-dir'] === undefined ? mkdtempSync(join(tmpdir(), 'cuju-gft-')) : undefined;
  const workDir = values['work-dir'] ?? join(temp!, 'run');
  console.log(`# work dir ${workDir}${temp ? ' (removed at the end)' : ''}`);
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted (Ctrl-C)'));
  process.once('SIGINT', onSigint);
  try {
    const simSpec = parseGroupSpec({
      ...spec,
      options: {
        ...spec.options,
        workDir,
        binary: { path: simBinary.path, args: [...simBinary.args, '-sim-build', 'groupft'] },
      },
    });
    return await run(simSpec, values['no-failover-test'] !== true, controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
}

runMain(USAGE, () => main(process.argv.slice(2)));
