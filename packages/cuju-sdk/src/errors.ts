/**
 * Every error this package throws is a CujuError with a stable `code`, so callers can
 * branch on `err.code` (or `instanceof`) without parsing messages.
 *
 * The code list is closed on purpose: a new subclass adds its code here, next to it, so
 * that a `switch (err.code)` over CujuErrorCode stays exhaustive.
 */
import type { PrepareHostResult, PrepareStep } from './prepare-host.js';

/** The stable codes of `CujuError`. */
export type CujuErrorCode =
  | 'INVALID_ARGUMENT'
  // Errors Cuju reports only as stdout lines (markers.ts maps each to its class).
  | 'GFT_ALREADY_STARTED'
  | 'GFT_BAD_MAC'
  | 'GFT_LEADER_CONNECT_FAILED'
  | 'GFT_MEMBER_CONNECT_FAILED'
  | 'GFT_INIT_ACK_MISSING'
  | 'FT_ACK_FAILED'
  | 'MIGRATION_LOAD_FAILED'
  | 'QEMU_ERROR'
  // The monitor answered a command that prints nothing on success with text.
  | 'COMMAND_FAILED'
  // FtPair.
  | 'FT_PAIR_STATE'
  | 'FT_PAIR_TIMEOUT'
  | 'FT_PAIR_VM_EXITED'
  | 'FT_PAIR_NOT_PROTECTED'
  | 'FT_PAIR_FAILOVER_TIMEOUT'
  | 'FT_PAIR_FAILOVER_FAILED'
  | 'FT_PAIR_ABORTED'
  // prepareHost.
  | 'PREPARE_HOST_FAILED';

/** The root of the SDK's Cuju errors; `code` is stable. */
export class CujuError extends Error {
  readonly code: CujuErrorCode;
  constructor(code: CujuErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Cuju prints nothing on the monitor when `migrate -c`, `cuju-*` and `gft_*` succeed, so
 * any text is its error report (`There's a migration process in progress`, `Invalid
 * parameter 'cuju-ft'`, `unknown command: ...` on a QEMU without Cuju).
 */
export class CujuCommandError extends CujuError {
  readonly line: string;
  readonly output: string;
  constructor(line: string, output: string) {
    super('COMMAND_FAILED', `'${line.split(' ')[0]}' failed: ${output.trim()}`);
    this.line = line;
    this.output = output;
  }
}

/** Why an FtPair is not protected (also on its `state` events). */
export type FtPairReason =
  | 'secondary-lost'
  | 'primary-lost-before-sync'
  | 'failover-failed'
  | 'sync-timeout'
  | 'launch-failed'
  | 'ft-stopped';

/** What went wrong with an FT pair. */
export type FtPairErrorKind =
  | 'STATE'
  | 'TIMEOUT'
  | 'VM_EXITED'
  | 'NOT_PROTECTED'
  | 'FAILOVER_TIMEOUT'
  | 'FAILOVER_FAILED'
  | 'ABORTED';

/** An FtPair operation failed; `reason` says what that leaves the pair as, when it is not protected. */
export class FtPairError extends CujuError {
  readonly reason: FtPairReason | undefined;
  constructor(kind: FtPairErrorKind, message: string, reason?: FtPairReason, cause?: unknown) {
    super(`FT_PAIR_${kind}` as CujuErrorCode, message, cause === undefined ? undefined : { cause });
    this.reason = reason;
  }
}

/**
 * An input was refused before anything was sent or started. `field` names it the way
 * the caller wrote it (`spec.nic.mac`, `backup.port`); the message is `<field> <problem>`.
 *
 * The refused value is deliberately not kept on the error: errors get logged, and a value
 * may be a secret. Checks echo a value in the message only where it cannot be one
 * (addresses, MACs, ports, ids, sizes, names); paths and free-form arguments are described,
 * never quoted.
 */
export class CujuArgumentError extends CujuError {
  readonly field: string;
  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', `${field} ${problem}`, options);
    this.field = field;
  }
}

// ---------------------------------------------------------------------------------------
// Errors read from Cuju's stdout (reference §7). GFT commands never set an Error, so the
// monitor prints nothing when they fail: this text is the only report there is.

/** Which HMP command printed a gft_add_host failure (the C function names differ by one digit). */
export type GftAddHostCommand = 'gft_add_host' | 'gft_add_host2';

/** `qmp_gft_add_host failed since gft already started.`: the group is fixed once gft_init ran. */
export class GftAlreadyStartedError extends CujuError {
  readonly command: GftAddHostCommand;
  constructor(command: GftAddHostCommand) {
    super('GFT_ALREADY_STARTED', `${command} was refused: group FT has already started (gft_init ran)`);
    this.command = command;
  }
}

/**
 * `qmp_gft_add_host bad mac.`: Cuju's sscanf("%x:%x:%x:%x:%x:%x") did not read six
 * groups. The member is not counted (the next gft_add_host reuses its slot), so the
 * command can be sent again with a correct MAC.
 */
export class GftBadMacError extends CujuError {
  readonly command: GftAddHostCommand;
  constructor(command: GftAddHostCommand) {
    super('GFT_BAD_MAC', `${command} was refused: Cuju could not parse the MAC address`);
    this.command = command;
  }
}

/** `qmp_gft_leader_init error connect to IP:PORT.`: the leader could not reach a member's join port. */
export class GftLeaderConnectError extends CujuError {
  /** `ip:port` as Cuju printed it. */
  readonly target: string;
  constructor(target: string) {
    super(
      'GFT_LEADER_CONNECT_FAILED',
      `gft_init: the leader could not connect to ${target} (is that member's -ft-join-port listening?)`,
    );
    this.target = target;
  }
}

/** `gft_master_connect_other_master error connect to IP:PORT.`: a member could not reach another member. */
export class GftMemberConnectError extends CujuError {
  readonly target: string;
  constructor(target: string) {
    super('GFT_MEMBER_CONNECT_FAILED', `group FT: a member could not connect to the member at ${target}`);
    this.target = target;
  }
}

/** `qmp_gft_leader_init failed to receive MIG_JOIN_GFT_INIT_ACK from IP:PORT.` */
export class GftInitAckError extends CujuError {
  readonly target: string;
  constructor(target: string) {
    super('GFT_INIT_ACK_MISSING', `gft_init: the member at ${target} did not acknowledge the group table`);
    this.target = target;
  }
}

/**
 * `migrate_ft_trans_get_ready sender receive ACK failed.` (or ACK1): the primary did not
 * get the backup's answer, so the backup is gone or the FT link broke. Cuju then marks FT
 * as failed on the primary (cuju_ft_mode = CUJU_FT_ERROR): the pair is not protected.
 */
export class FtAckError extends CujuError {
  readonly ack: 'ACK' | 'ACK1';
  constructor(ack: 'ACK' | 'ACK1') {
    super('FT_ACK_FAILED', `the primary did not receive ${ack} from the backup: FT is broken`);
    this.ack = ack;
  }
}

/** `qemu-system-x86_64: load of migration failed: REASON`: the receiver could not load the incoming state and exits. */
export class MigrationLoadError extends CujuError {
  /** strerror text, e.g. `Invalid argument`. */
  readonly reason: string;
  constructor(reason: string) {
    super('MIGRATION_LOAD_FAILED', `the receiver could not load the incoming migration: ${reason}`);
    this.reason = reason;
  }
}

/**
 * Any other `qemu-system-x86_64: ...` line: QEMU's error_report. QEMU may quote the
 * command-line option it was parsing, so the text is only as free of secrets as the argv.
 */
export class QemuReportedError extends CujuError {
  readonly qemuMessage: string;
  constructor(qemuMessage: string) {
    super('QEMU_ERROR', `QEMU reported: ${qemuMessage}`);
    this.qemuMessage = qemuMessage;
  }
}

// ---------------------------------------------------------------------------------------
// prepareHost

/**
 * Why a step stopped: the script's exit status 3 (`prerequisites`), 2 (`usage`) or any
 * other (`failed`), or `host`: the host itself failed while the step ran (the connection
 * was lost, the run was aborted or timed out, sudo refused); `cause` is that HostError.
 */
export type PrepareFailureReason = 'prerequisites' | 'usage' | 'failed' | 'host';

/**
 * A step of prepareHost() did not succeed. `phase` says whether it was the dry run (then
 * nothing of that step, nor of any later step, ran for real) or the real run. `partial`
 * holds what was done before: plans, built binary, loaded modules.
 */
export class PrepareHostError extends CujuError {
  readonly host: string;
  readonly step: PrepareStep;
  readonly phase: 'dry-run' | 'run';
  readonly reason: PrepareFailureReason;
  /** The script's exit status; undefined when the host failed (`reason: 'host'`). */
  readonly exitCode: number | undefined;
  /** The script's whole stderr (progress, the build's output, its error); '' for `host`. */
  readonly stderr: string;
  readonly partial: PrepareHostResult;

  constructor(facts: {
    host: string;
    step: PrepareStep;
    phase: 'dry-run' | 'run';
    partial: PrepareHostResult;
    /** The script ran to its end and exited with this (not 0). */
    exit?: { code: number; stderr: string };
    /** Or the host failed under it. */
    cause?: Error;
  }) {
    const code = facts.exit?.code;
    const reason: PrepareFailureReason =
      code === undefined ? 'host' : code === 3 ? 'prerequisites' : code === 2 ? 'usage' : 'failed';
    const what = facts.phase === 'dry-run' ? `${facts.step} (dry run)` : facts.step;
    const why =
      facts.exit === undefined
        ? `stopped: ${facts.cause?.message ?? 'the host failed'}`
        : summary(reason, facts.exit.code, facts.exit.stderr);
    super('PREPARE_HOST_FAILED', `${facts.host}: ${what} ${why}`, { cause: facts.cause });
    this.host = facts.host;
    this.step = facts.step;
    this.phase = facts.phase;
    this.reason = reason;
    this.exitCode = code;
    this.stderr = facts.exit?.stderr ?? '';
    this.partial = facts.partial;
  }
}

/** The part of a script's stderr that says why it stopped, in one line. */
function summary(reason: PrepareFailureReason, exitCode: number, stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  if (reason === 'prerequisites') {
    const items = lines.filter((l) => l.startsWith('  - ')).map((l) => l.slice(4));
    return `refused, missing prerequisites: ${items.join('; ') || '(none listed)'}`;
  }
  // The scripts prefix their own messages with their name; the last one says why.
  const own = lines.filter((l) => /^[\w.-]+\.sh: /.test(l) && !l.endsWith("--help'"));
  const last = own.at(-1) ?? lines.at(-1) ?? 'no output';
  return `${reason === 'usage' ? 'was called wrongly' : 'failed'} (exit ${exitCode}): ${last.replace(/^[\w.-]+\.sh: (error: )?/, '')}`;
}
