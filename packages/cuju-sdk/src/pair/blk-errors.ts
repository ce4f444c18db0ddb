import { CujuError } from '../errors.js';

/**
 * The placement rules of a block-server pair (BlockServerPair), each checked before
 * anything starts:
 *
 * - `same-host`: the backup and the block server run on one host (the seed manual:
 *   "make sure that backup and block server is in the same node").
 * - `build`: the pair runs the `blk-server` build (the only one with `-blk-server` and
 *   `-blk-server-listen`, cuju-builds.md §1, §3).
 * - `distinct-ports`: the block server's listen and join ports and the backup's FT port
 *   (all on the backup's host) differ.
 * - `distinct-files`: the block server's monitor socket is not a VM's of the pair on the
 *   same host.
 */
export type BlockServerPlacementRule = 'same-host' | 'build' | 'distinct-ports' | 'distinct-files';

/** A block-server pair placed against one of its rules (code CUJU_BLK_SERVER_PLACEMENT); nothing was started. */
export class CujuBlockServerPlacementError extends CujuError {
  /** The rule broken. */
  readonly rule: BlockServerPlacementRule;
  /** The option that breaks it (`blockServer.host`, `build`, `blockServer.listenPort`, ...). */
  readonly field: string;
  constructor(rule: BlockServerPlacementRule, field: string, problem: string) {
    super('CUJU_BLK_SERVER_PLACEMENT', `${field} ${problem}`);
    this.rule = rule;
    this.field = field;
  }
}
