/**
 * Cuju's engine as the block-server manual runs it: ft_mode sends `migrate -d -c` (the
 * plain pair's `migrate -c` without `-d`), everything else is CujuEngine's.
 */
import { FtPairError } from '../errors.js';
import { CujuEngine, type CujuVmMonitor } from './cuju-engine.js';
import type { EngineCallOptions, FtVm } from './engine.js';

/** CujuEngine with ft_mode's detached `migrate -d -c tcp:BACKUP:PORT`. */
export class BlockServerEngine extends CujuEngine {
  override async startFt(
    primary: FtVm<CujuVmMonitor>,
    target: { host: string; port: number },
    options: EngineCallOptions,
  ): Promise<void> {
    if (!primary.monitor) {
      throw new FtPairError('NO_MONITOR', "cannot start FT: the primary VM's monitor is not open");
    }
    await primary.monitor.cuju.startFt({ ...target, detach: true }, options);
  }
}
