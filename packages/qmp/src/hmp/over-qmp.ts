import type { QmpClient } from '../client.js';
import type { CallOptions } from '../types.js';
import type { Hmp } from './hmp.js';

/** HMP through `human-monitor-command` on a QMP connection: the same text a readline monitor prints. */
export class QmpHmp implements Hmp {
  constructor(readonly qmp: QmpClient) {}

  get endpoint(): string {
    return this.qmp.endpoint;
  }

  /** Runs one monitor line through QMP's `human-monitor-command`. */
  run(line: string, options: CallOptions = {}): Promise<string> {
    return this.qmp.hmp(line, options);
  }

  /** Closes the underlying QMP client. */
  close(): Promise<void> {
    return this.qmp.close();
  }
}
