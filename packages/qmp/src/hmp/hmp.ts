import type { CallOptions } from '../types.js';

/**
 * What the Cuju SDK needs of a human monitor: run one command line, get its text.
 * Two implementations: HmpClient (the readline socket Cuju's scripts use) and QmpHmp
 * (human-monitor-command over a QMP connection). Both return the output byte-exact, line
 * ends (`\r\n`) included, and "" for a command that prints nothing.
 */
export interface Hmp {
  /** Where the monitor is, as shown in errors (e.g. `unix:/home/u/vm1.monitor`). */
  readonly endpoint: string;
  /** Runs one monitor line and resolves with the text it printed. */
  run(line: string, options?: CallOptions): Promise<string>;
  /** Ends the connection. */
  close(): Promise<void>;
}
