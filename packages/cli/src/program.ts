/**
 * The `cuju` command tree (commander): every command with `--json`, `--help` with
 * examples, and one way to end: `run(argv)` resolves with the exit status, after the
 * error (if any) was reported. The commands' work is in their modules; this file only
 * wires names, options and help to them.
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BASH_COMPLETION, completeWords, ZSH_COMPLETION } from './completion.js';
import type { CommandContext } from './context.js';
import { CliError, EXIT_CODES, type ExitCode, toCliError } from './errors.js';
import {
  ftDown,
  ftRestartSecondary,
  ftStatus,
  ftTestFailover,
  ftTurnOff,
  ftTurnOn,
  ftUp,
} from './ft/commands.js';
import { gftDown, gftReprotect, gftStatus, gftUp, gftWatch } from './gft/commands.js';
import { monitorEvents } from './monitor/events.js';
import { defaultHistoryFile, monitorShell } from './monitor/shell.js';
import { type CliStreams, Output } from './output.js';
import { interruptSignal } from './signals.js';
import { simCluster } from './sim/cluster.js';

const EXIT_TABLE = `
Exit status:
  0    ok
  1    the operation failed (the pair did not come up, the monitor refused, ...)
  2    usage error (unknown option, missing argument, bad value)
  3    invalid spec or record file (the message names the path, e.g. vm.nic.mac)
  4    not found (spec or record file, monitor socket)
  5    not in a state for this (e.g. turn-off of a pair whose FT is off)
  130  interrupted (Ctrl-C / SIGTERM); what the command started was stopped`;

const DEFAULT_RECORD = 'cuju-pair.json';
const DEFAULT_GROUP_RECORD = 'cuju-group.json';

/** The running program's streams and its last error, for run(). */
interface RunState {
  streams: CliStreams;
  ctx?: CommandContext;
  signal: AbortSignal;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function examples(text: string): string {
  return `\nExamples:\n${text
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;
}

/** Builds the command tree; `state` receives each action's context. */
export function buildProgram(state: RunState): Command {
  const program = new Command('cuju')
    .description(
      'Cuju fault tolerance from the command line: FT pairs and groups, monitors, a simulated cluster.',
    )
    .version('0.1.0', '-V, --version')
    .showSuggestionAfterError(true)
    // A parent's options only before its subcommand: `monitor --socket` and `monitor events --socket`.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => state.streams.stdout.write(s),
      writeErr: (s) => state.streams.stderr.write(s),
    })
    .addHelpText(
      'after',
      `${examples(`
cuju ft up pair.yaml --record vm1.json     # launch and protect a pair, save its record
cuju ft status --record vm1.json --json     # its state, as a JSON line
cuju gft up group.yaml --dry-run            # a group's plan: every line, in order
cuju monitor --socket /run/vm1.monitor      # an HMP shell with completion
cuju monitor events --socket /run/vm1.qmp   # QMP events, one a line
cuju sim cluster cluster.yaml               # cuju-sim VMs on 127.0.0.2, .3, ...
source <(cuju completion bash)`)}${EXIT_TABLE}\n`,
    );

  /** A leaf command's action: a context made from its `--json`, then the work. */
  const action =
    <A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<void>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const json = command.opts().json === true;
      const ctx: CommandContext = { out: new Output(state.streams, json), signal: state.signal };
      state.ctx = ctx;
      await fn(ctx, ...(args.slice(0, -1) as A));
    };
  const leaf = (parent: Command, name: string, description: string) =>
    parent
      .command(name)
      .description(description)
      .option('--json', 'machine output: one JSON object per line on stdout')
      .exitOverride()
      .configureOutput({
        writeOut: (s) => state.streams.stdout.write(s),
        writeErr: (s) => state.streams.stderr.write(s),
      });

  // ---- ft ------------------------------------------------------------------------------
  const ft = program
    .command('ft')
    .description('An FT pair (a primary and its Cuju backup) over a saved record file.')
    .addHelpText(
      'after',
      `${examples(`
cuju ft up pair.yaml --record vm1.json
cuju ft test-failover --record vm1.json
cuju ft restart-secondary --record vm1.json
cuju ft down --record vm1.json`)}${EXIT_TABLE}\n`,
    );
  const recordOption = () =>
    new Option('-r, --record <file>', 'the pair record file').default(DEFAULT_RECORD);

  leaf(
    ft,
    'up',
    'Launch a pair from a spec file (YAML or JSON), turn FT on until protected, save the record.',
  )
    .argument('<spec>', 'the pair spec file')
    .addOption(recordOption())
    .option('--dry-run', 'print the plan (command lines and monitor lines, in order); start nothing')
    .option('--force', 'overwrite an existing record file')
    .addHelpText(
      'after',
      examples(`
cuju ft up pair.yaml                        # record in ./${DEFAULT_RECORD}
cuju ft up pair.yaml --dry-run              # the two command lines and ft_mode's lines
cuju ft up pair.yaml --json                 # state changes as JSON lines

pair.yaml:
  build: master                 # master | groupft | blk-server
  binary: sim                   # cuju-sim, or { path: /opt/cuju/.../qemu-system-x86_64 }
  vm: { name: vm1, memory: 1G, monitorPath: /run/cuju/vm1.monitor,
        nic: { tap: tap0, mac: "ae:ae:00:00:00:25" } }
  ftPort: 4441`),
    )
    .action(
      action((ctx, spec: string, o: { record: string; dryRun?: boolean; force?: boolean }) =>
        ftUp(ctx, spec, o),
      ),
    );

  const onRecord = (
    name: string,
    description: string,
    fn: (ctx: CommandContext, file: string) => Promise<void>,
    example: string,
  ) =>
    leaf(ft, name, description)
      .addOption(recordOption())
      .addHelpText('after', examples(example))
      .action(action((ctx, o: { record: string }) => fn(ctx, o.record)));
  onRecord(
    'status',
    'Adopt the pair of a record and show its state (it keeps running).',
    ftStatus,
    'cuju ft status --record vm1.json\ncuju ft status --record vm1.json --json | jq -r .state',
  );
  onRecord(
    'turn-on',
    'Start a new secondary for a pair whose FT is off, until protected.',
    ftTurnOn,
    'cuju ft turn-on --record vm1.json',
  );
  onRecord(
    'turn-off',
    'End FT; the VM runs on alone (state disabled).',
    ftTurnOff,
    'cuju ft turn-off --record vm1.json',
  );
  onRecord(
    'restart-secondary',
    'Protect the survivor again after a failover or a lost secondary.',
    ftRestartSecondary,
    'cuju ft restart-secondary --record vm1.json',
  );
  onRecord(
    'test-failover',
    'Kill the primary and report how the backup took over.',
    ftTestFailover,
    'cuju ft test-failover --record vm1.json --json | jq \'select(.type=="failover")\'',
  );
  onRecord(
    'down',
    'Stop both VMs, remove their files and the record.',
    ftDown,
    'cuju ft down --record vm1.json',
  );

  // ---- gft -----------------------------------------------------------------------------
  const gft = program
    .command('gft')
    .description('A Cuju group (the groupft build) from a group spec, over a saved record file.')
    .addHelpText(
      'after',
      `${examples(`
cuju gft up group.yaml --record group.json
cuju gft watch --record group.json          # until the group fails over
cuju gft reprotect --record group.json      # a new group, receivers on the spares
cuju gft down --record group.json`)}${EXIT_TABLE}\n`,
    );
  const groupRecordOption = () =>
    new Option('-r, --record <file>', 'the group record file').default(DEFAULT_GROUP_RECORD);
  leaf(
    gft,
    'up',
    'Start a group from a spec (YAML or JSON): receivers, primaries, gft_add_host, gft_init, until protected.',
  )
    .argument('<spec>', 'the group spec file')
    .addOption(groupRecordOption())
    .option(
      '--dry-run',
      "print the plan: each step's host, command line or monitor line, in order; start nothing",
    )
    .option('--force', 'overwrite an existing record file')
    .addHelpText(
      'after',
      examples(`
cuju gft up examples/gft/group.yaml --dry-run   # the lines add_host.sh and gft_init.sh send
cuju gft up group.yaml --json                   # progress events as JSON lines`),
    )
    .action(
      action((ctx, spec: string, o: { record: string; dryRun?: boolean; force?: boolean }) =>
        gftUp(ctx, spec, o),
      ),
    );
  const onGroupRecord = (
    name: string,
    description: string,
    fn: (ctx: CommandContext, file: string) => Promise<void>,
    example: string,
  ) =>
    leaf(gft, name, description)
      .addOption(groupRecordOption())
      .addHelpText('after', examples(example))
      .action(action((ctx, o: { record: string }) => fn(ctx, o.record)));
  onGroupRecord(
    'status',
    "The group's state as its VMs show it now (no monitor opened).",
    gftStatus,
    'cuju gft status --record group.json --json | jq -r .state',
  );
  onGroupRecord(
    'watch',
    'Report member deaths and takeovers until the group has failed over.',
    gftWatch,
    'cuju gft watch --record group.json',
  );
  onGroupRecord(
    'reprotect',
    'After a group failover: a new group from the VMs that run, receivers on the spares.',
    gftReprotect,
    'cuju gft reprotect --record group.json',
  );
  onGroupRecord(
    'down',
    'Stop every VM of the group, remove their files and the record.',
    gftDown,
    'cuju gft down --record group.json',
  );

  // ---- monitor -------------------------------------------------------------------------
  const monitor = program
    .command('monitor')
    .description(
      'An interactive monitor shell (HMP or QMP) with history and Tab completion; `events` prints QMP events.\n' +
        'Careful: a new monitor connection to a Cuju VM whose FT runs crashes it (Cuju issue #13).',
    )
    // Not requiredOption: `monitor events` has its own, and commander checks a parent's first.
    .option('-s, --socket <path>', 'the monitor socket (required)')
    .addOption(new Option('--qmp', 'the socket speaks QMP').conflicts('hmp'))
    .option('--hmp', 'the socket speaks HMP (readline monitor; the default)')
    .option('-e, --execute <line>', 'run this line and exit (repeatable); no prompt', collect)
    .option('--history <file>', 'history file (default $CUJU_MONITOR_HISTORY or ~/.cuju_monitor_history)')
    .option('--no-history', 'keep no history file')
    .option('--json', 'machine output: each reply as a JSON line')
    .exitOverride()
    .addHelpText(
      'after',
      `${examples(`
cuju monitor --socket vm1.monitor                      # (qemu) prompt; Tab completes the build's commands
cuju monitor --socket vm1.qmp --qmp                    # (QEMU) prompt; query-status, migrate uri=tcp:...
cuju monitor --socket vm1.monitor -e 'info status'     # one line, then exit
cuju monitor --socket vm1.qmp --qmp -e query-status --json`)}${EXIT_TABLE}\n`,
    )
    .action(
      action((ctx, o: { socket?: string; qmp?: boolean; execute?: string[]; history: string | boolean }) => {
        if (!o.socket) throw new CliError('CLI_USAGE', "required option '-s, --socket <path>' not specified");
        return monitorShell(ctx, {
          socket: o.socket,
          protocol: o.qmp ? 'qmp' : 'hmp',
          ...(o.execute ? { execute: o.execute } : {}),
          history: o.history === false ? false : o.history === true ? defaultHistoryFile() : o.history,
        });
      }),
    );
  leaf(monitor, 'events', 'Print QMP events as they come, one a line (like virsh qemu-monitor-event --loop).')
    .requiredOption('-s, --socket <path>', 'the QMP socket')
    .option('--event <name>', 'only this event (repeatable)', collect)
    .option('--count <n>', 'exit after this many events', positiveInt)
    .addHelpText(
      'after',
      `${examples(`
cuju monitor events --socket vm1.qmp
cuju monitor events --socket vm1.qmp --event STOP --event RESUME --json
cuju monitor events --socket vm1.qmp --count 1   # wait for one event`)}`,
    )
    .action(
      action((ctx, o: { socket: string; event?: string[]; count?: number }) =>
        monitorEvents(ctx, {
          socket: o.socket,
          ...(o.event ? { events: o.event } : {}),
          ...(o.count ? { count: o.count } : {}),
        }),
      ),
    );
  // The parent's options belong to the shell; `events` has its own --socket.
  monitor.enablePositionalOptions();

  // ---- sim -----------------------------------------------------------------------------
  const sim = program.command('sim').description('cuju-sim, the Cuju stand-in.');
  leaf(sim, 'cluster', 'Start cuju-sim VMs on loopback hosts from a spec file; Ctrl-C stops them all.')
    .argument('<spec>', 'the cluster spec file (YAML or JSON)')
    .option('--ready-timeout <ms>', 'how long each VM may take to start', positiveInt, 30_000)
    .addHelpText(
      'after',
      examples(`
cuju sim cluster cluster.yaml
cuju sim cluster cluster.yaml --json | jq -r 'select(.type=="vm") | .monitor'

cluster.yaml:
  build: master
  vms:
    - { name: vm1, host: 127.0.0.2 }                  # a primary
    - { name: vm1r, host: 127.0.0.3, incoming: 4441 } # its receiver (-incoming ...,ft_mode)
    - { name: vm2, host: 127.0.0.4, qmp: true }       # with a QMP socket too`),
    )
    .action(
      action((ctx, spec: string, o: { readyTimeout: number }) =>
        simCluster(ctx, spec, { readyTimeoutMs: o.readyTimeout }),
      ),
    );

  // ---- completion ----------------------------------------------------------------------
  leaf(program, 'completion', 'Print the shell completion script for bash or zsh.')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      examples(`
source <(cuju completion bash)              # in ~/.bashrc
source <(cuju completion zsh)               # in ~/.zshrc, after compinit`),
    )
    .action(
      action(async (ctx, shell: string) => {
        const script = shell === 'bash' ? BASH_COMPLETION : ZSH_COMPLETION;
        ctx.out.record('completion', { shell, script });
        if (!ctx.out.json) state.streams.stdout.write(script);
      }),
    );
  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action((words: string[]) => {
      for (const c of completeWords(program, words.length === 0 ? [''] : words))
        state.streams.stdout.write(`${c}\n`);
    });
  return program;
}

/**
 * Runs `cuju` with these arguments (without `node` and the script): resolves with the
 * exit status once the command has ended and reported any error. Ctrl-C / SIGTERM abort
 * the running command (its libraries stop what they started) and give 130.
 */
export async function run(argv: readonly string[], streams?: CliStreams): Promise<ExitCode> {
  const interrupt = interruptSignal();
  const state: RunState = {
    streams: streams ?? { stdout: process.stdout, stderr: process.stderr },
    signal: interrupt.signal,
  };
  const program = buildProgram(state);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_CODES.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through exitOverride too, with status 0.
      return err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    const e = state.signal.aborted
      ? new CliError('CLI_INTERRUPTED', 'interrupted', { cause: err })
      : toCliError(err);
    (state.ctx?.out ?? new Output(state.streams, false)).error(e);
    return e.exitCode;
  } finally {
    interrupt.dispose();
  }
}
