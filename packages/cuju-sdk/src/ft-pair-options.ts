/**
 * The argument checks of FtPair, run before anything is started: its options when it is
 * made (the hosts, both VM specs, the binary, ports and deadlines) and the options of its
 * methods. Kept apart from ft-pair.ts, which imports this module (not the other way round).
 */
import { isCujuBuildName } from './builds.js';
import { CujuArgumentError, FtPairError } from './errors.js';
import { checkHost, checkHostPath } from './hosts/args.js';
import type { Host } from './hosts/host.js';
import type {
  AttachOptions,
  FtPairRecord,
  FtPairTimeouts,
  SecondaryOptions,
  VmRecord,
  WatchdogOptions,
} from './pair/api.js';
import { FT_PAIR_STATES, type FtPairReason, type FtPairState } from './pair/states.js';
import { type CujuVmSpec, checkVmSpec } from './spec.js';
import {
  checkAbortSignal,
  checkArgs,
  checkBoolean,
  checkFunction,
  checkIntegerIn,
  checkObject,
  checkOptions,
  checkPort,
  checkSocketPath,
  checkTapName,
  checkText,
  checkTimeoutMs,
} from './validate.js';

/** Every field of FtPairOptions (pair/api.ts), refused with CujuArgumentError naming it. */
export function checkFtPairOptions(options: unknown): void {
  const o = checkObject('options', options);
  checkHost('primary', o.primary);
  checkHost('backup', o.backup);
  // The build itself is checked by cujuBuild() in the constructor (a name or a profile).
  if (o.build === undefined && (o.engine === undefined || o.engine === 'cuju'))
    throw new CujuArgumentError('build', "must be given: 'master', 'groupft' or 'blk-server'");
  checkVmSpec(o.vm as CujuVmSpec, 'vm');
  if (o.backupVm !== undefined) checkObject('backupVm', o.backupVm);
  checkBinary(o.binary);
  if (o.ftPort !== undefined) checkPort('ftPort', o.ftPort);
  if (o.logDir !== undefined) checkHostPath('logDir', o.logDir);
  if (o.sudo !== undefined) checkBoolean('sudo', o.sudo);
  checkTimeouts(o.timeouts);
  checkWatchdog(o.watchdog);
  if (o.engine !== undefined) checkEngine(o.engine);
}

function checkBinary(value: unknown): void {
  const binary = checkObject('binary', value);
  if (checkText('binary.path', binary.path) === '')
    throw new CujuArgumentError('binary.path', 'must not be empty');
  if (binary.args !== undefined) checkArgs('binary.args', binary.args);
}

/** `timeouts`: each a number of milliseconds. */
export function checkTimeouts(value: unknown): FtPairTimeouts {
  const timeouts = checkOptions('timeouts', value);
  for (const key of ['launchMs', 'syncMs', 'failoverMs', 'stopGraceMs']) {
    if (timeouts[key] !== undefined) checkTimeoutMs(`timeouts.${key}`, timeouts[key]);
  }
  return timeouts as FtPairTimeouts;
}

/** `watchdog`: its switches, periods and policy. */
export function checkWatchdog(value: unknown): WatchdogOptions {
  const w = checkOptions('watchdog', value);
  if (w.enabled !== undefined) checkBoolean('watchdog.enabled', w.enabled);
  for (const key of ['intervalMs', 'thresholdMs']) {
    if (w[key] !== undefined) checkIntegerIn(`watchdog.${key}`, w[key], 1, 3_600_000);
  }
  if (w.thresholdEpochs !== undefined)
    checkIntegerIn('watchdog.thresholdEpochs', w.thresholdEpochs, 0, 1_000_000);
  if (w.epochUs !== undefined) checkIntegerIn('watchdog.epochUs', w.epochUs, 1, 60_000_000);
  if (
    w.onPrimaryUnresponsive !== undefined &&
    w.onPrimaryUnresponsive !== 'report' &&
    w.onPrimaryUnresponsive !== 'failover'
  ) {
    throw new CujuArgumentError('watchdog.onPrimaryUnresponsive', "must be 'report' or 'failover'");
  }
  if (w.promoteUnfenced !== undefined) checkBoolean('watchdog.promoteUnfenced', w.promoteUnfenced);
  return w as WatchdogOptions;
}

function checkEngine(value: unknown): void {
  if (value === 'cuju' || value === 'colo') return;
  if (typeof value === 'string')
    throw new CujuArgumentError('engine', "must be 'cuju', 'colo' or an FtEngine");
  const engine = checkObject('engine', value);
  checkText('engine.name', engine.name);
  for (const method of ['checkPair', 'primaryArgv', 'receiverArgv', 'classify', 'openMonitor', 'startFt']) {
    checkFunction(`engine.${method}`, engine[method]);
  }
}

/**
 * The backup's spec as FtPair derives it from the primary's (`backupSpec`): a field it
 * derived is named as such, so that a primary monitor path of 107 bytes, fine on its own,
 * is reported as `backupVm.monitorPath (derived from vm.monitorPath)` once the `r` of
 * `<name>r.monitor` makes it 108, one byte too long for a Unix socket.
 */
export function checkBackupSpec(spec: CujuVmSpec, backupVm: Partial<CujuVmSpec> | undefined): void {
  const given = backupVm ?? {};
  const derived = (key: 'monitorPath' | 'qmpPath') => `backupVm.${key} (derived from vm.${key})`;
  if (given.monitorPath === undefined) checkSocketPath(derived('monitorPath'), spec.monitorPath);
  if (given.qmpPath === undefined && spec.qmpPath !== undefined) {
    checkSocketPath(derived('qmpPath'), spec.qmpPath);
  }
  if (given.nic === undefined && spec.nic !== undefined) {
    checkTapName('backupVm.nic.tap (derived from vm.nic.tap)', spec.nic.tap);
  }
  checkVmSpec(spec, 'backupVm');
}

/** The options of up(), start(), turnOff(), down(). */
export function checkOperationOptions(value: unknown): { signal?: AbortSignal } {
  const o = checkOptions('options', value);
  return o.signal === undefined ? {} : { signal: checkAbortSignal('signal', o.signal) };
}

/** The options of turnOn() and restartSecondary(). */
export function checkSecondaryOptions(value: unknown): SecondaryOptions {
  const o = checkOptions('options', value);
  const checked: SecondaryOptions = {};
  if (o.signal !== undefined) checked.signal = checkAbortSignal('signal', o.signal);
  if (o.backup !== undefined) checked.backup = checkHost('backup', o.backup);
  if (o.ftPort !== undefined) checked.ftPort = checkPort('ftPort', o.ftPort);
  if (o.backupVm !== undefined) checked.backupVm = checkObject('backupVm', o.backupVm) as Partial<CujuVmSpec>;
  return checked;
}

/** The options of testFailover(). */
export function checkTestFailoverOptions(value: unknown): { timeoutMs?: number; signal?: AbortSignal } {
  const o = checkOptions('options', value);
  return {
    ...(o.timeoutMs === undefined ? {} : { timeoutMs: checkTimeoutMs('timeoutMs', o.timeoutMs) }),
    ...(o.signal === undefined ? {} : { signal: checkAbortSignal('signal', o.signal) }),
  };
}

/** FtPair.attach()'s options: the hosts by name, the binary, the rest as for new FtPair(). */
export function checkAttachOptions(value: unknown): AttachOptions {
  const o = checkObject('options', value);
  const hosts = checkObject('hosts', o.hosts);
  for (const [name, host] of Object.entries(hosts)) checkHost(`hosts[${JSON.stringify(name)}]`, host);
  checkBinary(o.binary);
  if (o.logDir !== undefined) checkHostPath('logDir', o.logDir);
  checkTimeouts(o.timeouts);
  checkWatchdog(o.watchdog);
  if (o.engine !== undefined) checkEngine(o.engine);
  if (o.signal !== undefined) checkAbortSignal('signal', o.signal);
  return o as unknown as AttachOptions;
}

const REASONS: readonly FtPairReason[] = [
  'secondary-lost',
  'secondary-unresponsive',
  'primary-unresponsive',
  'primary-lost-before-sync',
  'failover-failed',
  'sync-timeout',
  'launch-failed',
  'aborted',
  'vm-exited',
  'ft-stopped',
  'block-server-lost',
];

/**
 * A record as FtPair.record() writes it, checked field by field (it comes from a file or
 * a database): CUJU_FT_PAIR_RECORD naming the field for anything else, or a host the
 * caller did not give.
 */
export function checkRecord(value: unknown, hosts: Readonly<Record<string, Host>>): FtPairRecord {
  const bad = (field: string, problem: string) => new FtPairError('RECORD', `record.${field} ${problem}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('', 'must be an object');
  const r = value as Record<string, unknown>;
  if (r.version !== 1) throw bad('version', 'must be 1 (a record of this SDK)');
  if (typeof r.engine !== 'string' || r.engine === '') throw bad('engine', 'must name the engine');
  if (r.engine === 'cuju' && !isCujuBuildName(r.variant)) throw bad('variant', 'must be a Cuju build name');
  if (!(FT_PAIR_STATES as readonly unknown[]).includes(r.state)) throw bad('state', 'is not a pair state');
  if (r.reason !== undefined && !(REASONS as readonly unknown[]).includes(r.reason))
    throw bad('reason', 'is not a reason');
  if (!Number.isInteger(r.ftPort) || (r.ftPort as number) < 1 || (r.ftPort as number) > 65_535) {
    throw bad('ftPort', 'must be a port');
  }
  const vm = (field: 'primary' | 'backup'): VmRecord | undefined => {
    const v = r[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null) throw bad(field, 'must be an object');
    const e = v as Record<string, unknown>;
    const host = e.host as Record<string, unknown> | undefined;
    if (typeof host?.name !== 'string' || typeof host.address !== 'string') {
      throw bad(`${field}.host`, 'must have a name and an address');
    }
    if (hosts[host.name] === undefined) {
      throw bad(`${field}.host`, `names ${host.name}, which options.hosts does not give`);
    }
    if (!Number.isInteger(e.pid) || (e.pid as number) < 1) throw bad(`${field}.pid`, 'must be a pid');
    if (typeof e.logPath !== 'string' || e.logPath === '') throw bad(`${field}.logPath`, 'must be a path');
    if (e.sudo !== undefined && typeof e.sudo !== 'boolean') throw bad(`${field}.sudo`, 'must be a boolean');
    try {
      checkVmSpec(e.spec as CujuVmSpec, `record.${field}.spec`);
    } catch (err) {
      throw new FtPairError('RECORD', (err as Error).message, undefined, err);
    }
    return e as unknown as VmRecord;
  };
  const primary = vm('primary');
  const backup = vm('backup');
  if (!primary && backup) throw bad('primary', 'is missing while a backup is recorded');
  const configured = r.hosts as Record<string, Record<string, unknown>> | undefined;
  for (const role of ['primary', 'backup'] as const) {
    const ref = configured?.[role];
    if (typeof ref?.name !== 'string' || typeof ref.address !== 'string') {
      throw bad(`hosts.${role}`, 'must have a name and an address');
    }
  }
  try {
    checkVmSpec(r.vm as CujuVmSpec, 'record.vm');
    if (r.backupVm !== undefined) checkObject('record.backupVm', r.backupVm);
  } catch (err) {
    throw new FtPairError('RECORD', (err as Error).message, undefined, err);
  }
  return {
    version: 1,
    engine: r.engine,
    variant: r.variant as string,
    state: r.state as FtPairState,
    ...(r.reason === undefined ? {} : { reason: r.reason as FtPairReason }),
    hosts: r.hosts as FtPairRecord['hosts'],
    vm: r.vm as CujuVmSpec,
    ...(r.backupVm === undefined ? {} : { backupVm: r.backupVm as Partial<CujuVmSpec> }),
    ftPort: r.ftPort as number,
    ...(primary ? { primary } : {}),
    ...(backup ? { backup } : {}),
    savedAt: typeof r.savedAt === 'string' ? r.savedAt : '',
  };
}
