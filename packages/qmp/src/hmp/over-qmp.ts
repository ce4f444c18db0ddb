import { checkSignal, checkTimeoutMs, describeValue, isRecord, optionsObject } from '../check.js';
import { QmpArgumentError } from '../errors.js';
import type { QmpMonitor } from '../monitor.js';
import type { CallOptions } from '../types.js';
import type { Hmp } from './hmp.js';
import { assertHmpCommandLine } from './line.js';

/**
 * HMP through `human-monitor-command` on any QmpMonitor (a QmpClient, a libvirt
 * transport, the test double): the same text a readline monitor prints. It refuses the
 * same lines as HmpClient does, so a line works on both Hmp implementations or on none.
 */
export class QmpHmp implements Hmp {
  readonly qmp: QmpMonitor;

  constructor(qmp: QmpMonitor) {
    const m = qmp as Partial<QmpMonitor> | undefined;
    if (!isRecord(qmp) || typeof m?.execute !== 'function' || typeof m.close !== 'function') {
      throw new QmpArgumentError(
        'qmp',
        `must be a QmpMonitor (such as a QmpClient), got ${describeValue(qmp)}`,
      );
    }
    this.qmp = qmp;
  }

  get endpoint(): string {
    return this.qmp.endpoint;
  }

  run(line: string, options?: CallOptions): Promise<string> {
    let call: CallOptions;
    try {
      assertHmpCommandLine(line);
      const opts = optionsObject(options, 'options');
      const timeoutMs = checkTimeoutMs(opts.timeoutMs, 'options.timeoutMs');
      const signal = checkSignal(opts.signal, 'options.signal');
      call = { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(signal ? { signal } : {}) };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.qmp
      .execute('human-monitor-command', { 'command-line': line }, call)
      .then((out) => (typeof out === 'string' ? out : ''));
  }

  close(): Promise<void> {
    return this.qmp.close();
  }
}
