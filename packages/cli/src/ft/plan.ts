/**
 * `cuju ft up --dry-run`: what FtPair.up() will do, as data: the two command lines (from
 * the pair's own engine, so exactly what it launches) and the monitor lines of FT on
 * (built by @cuju/qmp's hmpLine from the build's args_type, the one place HMP text is
 * made), in order, with what each step waits for. Nothing is started.
 */
import { hmpLine } from '@cuju/qmp';
import type { FtPair, FtPairOptions } from '@cuju/sdk';

/** One step of the plan: a process to launch, or a line for a monitor. */
export type PairPlanStep =
  | { kind: 'launch'; role: 'primary' | 'backup'; host: string; argv: string[]; waitsFor: string }
  | { kind: 'monitor'; role: 'primary'; monitor: string; line: string; waitsFor: string };

/** The steps of up() for a pair made from `options`, in order. */
export function pairPlan(pair: FtPair, options: FtPairOptions): PairPlanStep[] {
  const build = pair.cujuBuild;
  const engine = pair.engine;
  const binary = [options.binary.path, ...(options.binary.args ?? [])];
  const ftPort = options.ftPort ?? 4441;
  const capability = build.commands.migrate_set_capability!;
  const migrate = build.commands.migrate!;
  const at = (host: { name: string; address: string }) => `${host.name} (${host.address})`;
  return [
    {
      kind: 'launch',
      role: 'primary',
      host: at(options.primary),
      argv: [...binary, ...engine.primaryArgv(options.vm)],
      waitsFor: 'VM init finished, its monitor answers',
    },
    {
      kind: 'launch',
      role: 'backup',
      host: at(options.backup),
      argv: [...binary, ...engine.receiverArgv(pair.backupSpec, ftPort)],
      waitsFor: 'VM init finished, listening on the FT port',
    },
    {
      kind: 'monitor',
      role: 'primary',
      monitor: options.vm.monitorPath,
      line: hmpLine('migrate_set_capability', capability.argsType, { capability: 'cuju-ft', state: true }),
      waitsFor: 'no output (Cuju is silent on success)',
    },
    {
      kind: 'monitor',
      role: 'primary',
      monitor: options.vm.monitorPath,
      line: hmpLine('migrate', migrate.argsType, {
        cuju: true,
        uri: `tcp:${options.backup.address}:${ftPort}`,
      }),
      waitsFor: "the backup's first commit and the primary's epochs: protected",
    },
  ];
}
