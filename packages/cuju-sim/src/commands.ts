import { CUJU_QMP_COMMANDS, QEMU_VERSION, QEMU_VERSION_TRIPLE } from './builds.js';
import { type HmpArgs, helpText, parseHmpCommandLine } from './hmp-parse.js';
import { HMP_TABLES } from './hmp-table.js';
import { qmpSchema } from './qmp-schema.js';
import {
  commandNotFound,
  extraMember,
  invalidParameterType,
  missingArgument,
  type QmpErrorBody,
  type QmpReply,
} from './qmp-texts.js';
import type { Sim } from './sim.js';
import { MARKERS, say } from './stdout.js';
import { CAPABILITIES } from './vm.js';

// ---- HMP --------------------------------------------------------------------------

/** Runs one HMP line with the build's command table; resolves with what the monitor prints (`\n` line ends). */
export async function runHmp(sim: Sim, line: string): Promise<string> {
  const parsed = parseHmpCommandLine(line, HMP_TABLES[sim.config.build]);
  switch (parsed.kind) {
    case 'empty':
      return '';
    case 'error':
      if (parsed.stdout) process.stdout.write(parsed.stdout);
      return parsed.output;
    case 'info':
      return info(sim, parsed.item);
    case 'command':
      return command(sim, parsed.name, parsed.args);
  }
}

const str = (args: HmpArgs, k: string) => String(args[k] ?? '');
const num = (args: HmpArgs, k: string) => Number(args[k] ?? 0);
const flag = (args: HmpArgs, k: string) => args[k] === true;

/** The table decides which names get here: a command another build has is `unknown command` before this. */
async function command(sim: Sim, name: string, args: HmpArgs): Promise<string> {
  switch (name) {
    case 'migrate':
    case 'gft_member_live_mig': {
      if (name === 'gft_member_live_mig') sim.gft?.markNewMember();
      const req = {
        uri: str(args, 'uri'),
        detach: flag(args, 'detach'),
        blk: flag(args, 'blk'),
        inc: flag(args, 'inc'),
        cuju: flag(args, 'cuju'),
      };
      // hmp_migrate: error_report_err() of qmp_migrate's error, on the monitor.
      const error = await sim.migrate(req);
      if (error) return `${error}\n`;
      // Upstream HMP migrate suspends the monitor until the end; -d and Cuju's -c return at once.
      if (!req.detach && !req.cuju) {
        await sim.migrationSettled();
        const m = sim.vm.migration;
        if (m?.status === 'failed') return `migrate: ${m.errorDesc ?? 'failed'}\n`;
      }
      return '';
    }
    case 'migrate_set_capability': {
      const error = sim.setCapability(str(args, 'capability'), args.state === true);
      return error ? `${error}\n` : '';
    }
    case 'cuju-failover':
      sim.failover();
      return '';
    case 'cuju-adjust-epoch':
      sim.adjustEpoch(num(args, 'epoch'));
      return '';
    case 'cuju-migrate-cancel':
      sim.cancelFt();
      return '';
    case 'cuju-get-ft-mode':
      return `cuju_ft_mode: ${sim.vm.ftMode}\n`; // hmp.c@21f9f0b:2616
    case 'cuju-get-ft-started':
      return `ft_started: ${sim.vm.ftStarted ? 1 : 0}\n`; // hmp.c@21f9f0b:2609
    case 'gft_add_host':
    case 'gft_add_host2':
      sim.gft?.addHost(name === 'gft_add_host' ? 'qmp_gft_add_host' : 'qmp_gft_add_host2', {
        gftId: num(args, 'gft_id'),
        masterIp: str(args, 'master_host_ip'),
        masterGftPort: num(args, 'master_host_gft_port'),
        mac: str(args, 'master_mac'),
        slaveIp: str(args, 'slave_host_ip'),
        slaveFtPort: num(args, 'slave_host_ft_port'),
        ...(name === 'gft_add_host2' ? { slaveJoinPort: num(args, 'slave_host_join_port') } : {}),
      });
      return '';
    case 'gft_init':
      await sim.gft?.leaderInit();
      return '';
    case 'gft_add_member':
      await sim.gft?.addMember({
        masterIp: str(args, 'master_host_ip'),
        masterGftPort: num(args, 'master_host_gft_port'),
        mac: str(args, 'master_mac'),
        slaveIp: str(args, 'slave_host_ip'),
        slaveFtPort: num(args, 'slave_host_ft_port'),
      });
      return '';
    case 'gft_add_backup':
      sim.gft?.addBackup(str(args, 'slave_host_ip'), num(args, 'slave_incoming_port'));
      return '';
    case 'migrate_pause':
      sim.pauseFt(true);
      return '';
    case 'migrate_resume':
      sim.pauseFt(false);
      return '';
    case 'info_migrate':
      return info(sim, 'migrate');
    case 'stop':
      sim.stop();
      return '';
    case 'cont':
      sim.cont();
      return '';
    case 'quit':
      sim.quit();
      return '';
    case 'help':
      return helpText(HMP_TABLES[sim.config.build], args.name === undefined ? undefined : str(args, 'name'));
    case 'info':
      return helpText(HMP_TABLES[sim.config.build], 'info');
    default:
      return `unknown command: '${name}'\n`;
  }
}

function info(sim: Sim, item: string): string {
  const { vm } = sim;
  switch (item) {
    case 'status': {
      const s = statusOf(sim);
      // hmp_info_status: "VM status: running|paused", and the reason when paused for one.
      const reason = !s.running && s.status !== 'paused' ? ` (${s.status})` : '';
      return `VM status: ${s.running ? 'running' : 'paused'}${reason}\n`;
    }
    case 'migrate':
      return infoMigrate(sim);
    case 'migrate_capabilities':
      return CAPABILITIES.map((c) => `${c}: ${vm.capabilities.get(c) ? 'on' : 'off'}\n`).join('');
    case 'version':
      return `${QEMU_VERSION}\n`;
    case 'name':
      return sim.config.name ? `${sim.config.name}\n` : '';
    case 'kvm':
      return sim.config.enableKvm ? 'kvm support: enabled\n' : 'kvm support: disabled\n';
    default:
      return `unknown command: 'info ${item}'\n`;
  }
}

function statusOf(sim: Sim): { running: boolean; status: string; singlestep: boolean } {
  return { running: sim.vm.running, status: sim.vm.runstate, singlestep: false };
}

/**
 * hmp_info_migrate (hmp.c@21f9f0b:155-260; groupft's prints `GFT STATUS PRE|WAIT` first,
 * hmp.c@d2e55fe:177-186). `total time` is printed whenever there is a status, 0 when
 * qmp_query_migrate left it out (setup, failed, cancelled). RAM statistics are not
 * simulated (no memory is copied).
 */
function infoMigrate(sim: Sim): string {
  const { vm } = sim;
  const q = queryMigrate(sim);
  let out = sim.behaviour.gftStatus ? `GFT STATUS ${vm.gftStatus}\n` : '';
  if (q.status === undefined) return out;
  out += `capabilities: ${CAPABILITIES.map((c) => `${c}: ${vm.capabilities.get(c) ? 'on' : 'off'} `).join('')}\n`;
  out += `Migration status: ${q.status}`;
  out += q.status === 'failed' && q['error-desc'] ? ` (${q['error-desc']})\n` : '\n';
  out += `total time: ${q['total-time'] ?? 0} milliseconds\n`;
  if (q['expected-downtime'] !== undefined)
    out += `expected downtime: ${q['expected-downtime']} milliseconds\n`;
  if (q.downtime !== undefined) out += `downtime: ${q.downtime} milliseconds\n`;
  if (q['setup-time'] !== undefined) out += `setup: ${q['setup-time']} milliseconds\n`;
  return out;
}

interface MigrationInfo {
  status?: string;
  'total-time'?: number;
  'expected-downtime'?: number;
  downtime?: number;
  'setup-time'?: number;
  'error-desc'?: string;
}

/** The default downtime_limit (migration.c: DEFAULT_MIGRATE_SET_DOWNTIME, 300 ms). */
const EXPECTED_DOWNTIME_MS = 300;

/**
 * qmp_query_migrate (migration.c@21f9f0b:926-996): which fields a status has. groupft
 * prints `in func qmp_query_migrate ` on stdout at every call (migration.c@d2e55fe:985).
 */
function queryMigrate(sim: Sim): MigrationInfo {
  if (sim.behaviour.gftStatus) say(MARKERS.queryMigrate);
  const m = sim.vm.migration;
  if (!m) return {};
  const now = Date.now();
  switch (m.status) {
    case 'active':
    case 'cancelling':
      return {
        status: m.status,
        'total-time': now - m.startedAt,
        'expected-downtime': EXPECTED_DOWNTIME_MS,
        'setup-time': 0,
      };
    case 'completed':
      return {
        status: m.status,
        'total-time': (m.endedAt ?? now) - m.startedAt,
        downtime: 0,
        'setup-time': 0,
      };
    case 'failed':
      return { status: m.status, ...(m.errorDesc ? { 'error-desc': m.errorDesc } : {}) };
    default:
      // setup, cancelled (Cuju's FT state among them): the status alone.
      return { status: m.status };
  }
}

// ---- QMP --------------------------------------------------------------------------

type ArgType = 'str' | 'bool' | 'int' | 'array';
type Spec = Record<string, { type: ArgType; optional?: boolean }>;

/** The QMP commands of every build; cuju-* per build (CUJU_QMP_COMMANDS). */
const QMP_ARGS: Record<string, Spec> = {
  'query-status': {},
  'query-version': {},
  'query-commands': {},
  'query-qmp-schema': {},
  'query-migrate': {},
  'query-migrate-capabilities': {},
  'migrate-set-capabilities': { capabilities: { type: 'array' } },
  migrate: {
    uri: { type: 'str' },
    blk: { type: 'bool', optional: true },
    inc: { type: 'bool', optional: true },
    detach: { type: 'bool', optional: true },
    cuju: { type: 'bool', optional: true },
  },
  'cuju-failover': {},
  'cuju-adjust-epoch': { epoch: { type: 'int' } },
  'cuju-migrate-cancel': {},
  'human-monitor-command': { 'command-line': { type: 'str' }, 'cpu-index': { type: 'int', optional: true } },
  stop: {},
  cont: {},
  quit: {},
};

const EXPECTED = { str: 'string', bool: 'boolean', int: 'integer', array: 'list' } as const;

function checkArgs(spec: Spec, args: Record<string, unknown>): QmpErrorBody | undefined {
  for (const key of Object.keys(args)) if (!(key in spec)) return extraMember(key);
  for (const [key, { type, optional }] of Object.entries(spec)) {
    const v = args[key];
    if (v === undefined) {
      // 2.8's input visitor reports a missing member as a wrong type.
      if (!optional) return missingArgument(key, EXPECTED[type]);
      continue;
    }
    const ok =
      type === 'str'
        ? typeof v === 'string'
        : type === 'bool'
          ? typeof v === 'boolean'
          : type === 'int'
            ? Number.isInteger(v)
            : Array.isArray(v);
    if (!ok) return invalidParameterType(key, EXPECTED[type]);
  }
  return undefined;
}

const fail = (error: QmpErrorBody): QmpReply => ({ error });
const generic = (desc: string): QmpReply => ({ error: { class: 'GenericError', desc } });

function qmpCommandsOf(sim: Sim): string[] {
  const own = CUJU_QMP_COMMANDS[sim.config.build];
  return Object.keys(QMP_ARGS).filter((n) => !n.startsWith('cuju-') || own.includes(n));
}

/** Runs one QMP command after negotiation. */
export async function runQmp(sim: Sim, name: string, args: Record<string, unknown>): Promise<QmpReply> {
  const spec = qmpCommandsOf(sim).includes(name) ? QMP_ARGS[name] : undefined;
  if (!spec) return fail(commandNotFound(name));
  const bad = checkArgs(spec, args);
  if (bad) return fail(bad);
  switch (name) {
    case 'query-status':
      return { return: statusOf(sim) };
    case 'query-version':
      return { return: { qemu: { ...QEMU_VERSION_TRIPLE }, package: '' } };
    case 'query-commands':
      return { return: ['qmp_capabilities', ...qmpCommandsOf(sim)].map((n) => ({ name: n })) };
    case 'query-qmp-schema':
      return { return: qmpSchema(CUJU_QMP_COMMANDS[sim.config.build]) };
    case 'query-migrate':
      return { return: queryMigrate(sim) };
    case 'query-migrate-capabilities':
      return {
        return: CAPABILITIES.map((c) => ({ capability: c, state: sim.vm.capabilities.get(c) === true })),
      };
    case 'migrate-set-capabilities': {
      for (const item of args.capabilities as unknown[]) {
        const c = item as { capability?: unknown; state?: unknown };
        if (typeof c.capability !== 'string') return fail(missingArgument('capability', 'string'));
        if (typeof c.state !== 'boolean') return fail(invalidParameterType('state', 'boolean'));
        const error = sim.setCapability(c.capability, c.state);
        if (error) return generic(error);
      }
      return { return: {} };
    }
    case 'migrate': {
      const error = await sim.migrate({
        uri: args.uri as string,
        detach: args.detach === true,
        blk: args.blk === true,
        inc: args.inc === true,
        cuju: args.cuju === true,
      });
      return error ? generic(error) : { return: {} };
    }
    case 'cuju-failover':
      sim.failover();
      return { return: {} };
    case 'cuju-adjust-epoch': {
      const epoch = args.epoch as number;
      if (epoch < 0 || epoch > 0xffffffff) return generic(`Parameter 'epoch' expects uint32_t`);
      sim.adjustEpoch(epoch);
      return { return: {} };
    }
    case 'cuju-migrate-cancel':
      sim.cancelFt();
      return { return: {} };
    case 'human-monitor-command': {
      const out = await runHmp(sim, args['command-line'] as string);
      return { return: out.replace(/\r?\n/g, '\r\n') };
    }
    case 'stop':
      sim.stop();
      return { return: {} };
    case 'cont':
      sim.cont();
      return { return: {} };
    case 'quit':
      sim.quit();
      return { return: {} };
    default:
      return fail(commandNotFound(name));
  }
}
