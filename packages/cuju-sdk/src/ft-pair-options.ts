/**
 * The argument checks of FtPair, run before anything is started: its options when it is
 * made (the hosts, both VM specs, the binary, ports and deadlines) and the options of its
 * methods. Kept apart from ft-pair.ts, which imports this module (not the other way round).
 */
import { CujuArgumentError } from './errors.js';
import { checkHost, checkHostPath } from './hosts/args.js';
import { type CujuVmSpec, checkVmSpec } from './spec.js';
import {
  checkAbortSignal,
  checkArgs,
  checkBoolean,
  checkObject,
  checkOptions,
  checkPort,
  checkSocketPath,
  checkTapName,
  checkText,
  checkTimeoutMs,
} from './validate.js';

/** Every field of FtPairOptions (see ft-pair.ts), refused with CujuArgumentError naming it. */
export function checkFtPairOptions(options: unknown): void {
  const o = checkObject('options', options);
  checkHost('primary', o.primary);
  checkHost('backup', o.backup);
  checkVmSpec(o.vm as CujuVmSpec, 'vm');
  if (o.backupVm !== undefined) checkObject('backupVm', o.backupVm);
  const binary = checkObject('binary', o.binary);
  if (checkText('binary.path', binary.path) === '')
    throw new CujuArgumentError('binary.path', 'must not be empty');
  if (binary.args !== undefined) checkArgs('binary.args', binary.args);
  if (o.ftPort !== undefined) checkPort('ftPort', o.ftPort);
  if (o.logDir !== undefined) checkHostPath('logDir', o.logDir);
  if (o.sudo !== undefined) checkBoolean('sudo', o.sudo);
  const timeouts = checkOptions('timeouts', o.timeouts);
  for (const key of ['launchMs', 'syncMs', 'failoverMs']) {
    if (timeouts[key] !== undefined) checkTimeoutMs(`timeouts.${key}`, timeouts[key]);
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

/** The options of FtPair.up(). */
export function checkUpOptions(value: unknown): { signal?: AbortSignal } {
  const o = checkOptions('options', value);
  return o.signal === undefined ? {} : { signal: checkAbortSignal('signal', o.signal) };
}

/** The options of FtPair.testFailover(). */
export function checkTestFailoverOptions(value: unknown): { timeoutMs?: number } {
  const o = checkOptions('options', value);
  return o.timeoutMs === undefined ? {} : { timeoutMs: checkTimeoutMs('timeoutMs', o.timeoutMs) };
}
