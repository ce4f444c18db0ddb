/**
 * The SDK's errors: one root, `CujuError`, with a stable `code` on every error so that
 * callers can branch on `err.code` (or `instanceof`) without parsing messages.
 *
 * Codes are unique across the Cuju packages by prefix: this package's own errors are
 * `CUJU_*`, the host layer's (hosts/errors.ts, under this same root) `HOST_*`; @cuju/qmp
 * has `QMP_*`. The list is closed on purpose: a new subclass adds its code here, next
 * to it, so that a `switch (err.code)` over CujuErrorCode stays exhaustive.
 *
 * This module imports only build-names.ts (which imports nothing): every other module may
 * import it, so it must not need any of them (no import circles).
 */
import type { CujuBuildName, CujuCommandName, CujuOption } from './build-names.js';
import type { FtPairReason } from './pair/states.js';

/** Codes of the host layer (LocalHost, SshHost): its errors are HostErrors. */
export type HostErrorCode =
  /** The server rejected every configured authentication method. */
  | 'HOST_AUTH_FAILED'
  /** The server's host key is not in known_hosts (or no known_hosts file exists). */
  | 'HOST_KEY_UNKNOWN'
  /** The server presented a key other than the known or pinned one (or a revoked one). */
  | 'HOST_KEY_CHANGED'
  /** The program to run was not found on the host's PATH. */
  | 'HOST_BINARY_MISSING'
  /** `sudo -n` refused: a password would be needed, or the user may not run the command. */
  | 'HOST_SUDO_DENIED'
  /** The host (or a Unix socket on it) could not be reached. */
  | 'HOST_CONNECT_FAILED'
  /** A command ran and failed (non-zero exit where success was required), or could not start. */
  | 'HOST_COMMAND_FAILED'
  /** Something did not finish within its deadline. */
  | 'HOST_TIMEOUT'
  /** The operation was cancelled through its AbortSignal. */
  | 'HOST_ABORTED'
  /** The connection to the host was lost or closed. */
  | 'HOST_DISCONNECTED';

/** The stable codes of `CujuError`. */
export type CujuErrorCode =
  /** An argument was refused before anything was sent or started (CujuArgumentError). */
  | 'CUJU_INVALID_ARGUMENT'
  // Errors Cuju reports only as stdout lines (markers.ts maps each to its class).
  | 'CUJU_GFT_ALREADY_STARTED'
  | 'CUJU_GFT_BAD_MAC'
  | 'CUJU_GFT_LEADER_CONNECT_FAILED'
  | 'CUJU_GFT_MEMBER_CONNECT_FAILED'
  | 'CUJU_GFT_INIT_ACK_MISSING'
  | 'CUJU_FT_ACK_FAILED'
  | 'CUJU_MIGRATION_LOAD_FAILED'
  | 'CUJU_QEMU_ERROR'
  // The monitor answered a command that prints nothing on success with text.
  | 'CUJU_COMMAND_FAILED'
  // FtPair.
  | 'CUJU_FT_PAIR_STATE'
  | 'CUJU_FT_PAIR_TIMEOUT'
  | 'CUJU_FT_PAIR_VM_EXITED'
  | 'CUJU_FT_PAIR_NOT_PROTECTED'
  | 'CUJU_FT_PAIR_FAILOVER_TIMEOUT'
  | 'CUJU_FT_PAIR_FAILOVER_FAILED'
  | 'CUJU_FT_PAIR_ABORTED'
  | 'CUJU_FT_PAIR_STOPPED'
  | 'CUJU_FT_PAIR_UNREACHABLE'
  | 'CUJU_FT_PAIR_NO_MONITOR'
  | 'CUJU_FT_PAIR_RECORD'
  // prepareHost.
  | 'CUJU_PREPARE_HOST_FAILED'
  // Build profiles and the guards that keep a real VM alive (builds.ts, monitor.ts).
  | 'CUJU_COMMAND_UNSUPPORTED'
  | 'CUJU_OPTION_UNSUPPORTED'
  | 'CUJU_BUILD_UNKNOWN'
  | 'CUJU_UNSAFE_COMMAND'
  | 'CUJU_MONITOR_DURING_FT'
  | 'CUJU_JOIN_PORT_REFUSED'
  | 'CUJU_UNEXPECTED_OUTPUT'
  | 'CUJU_BLK_SERVER_PLACEMENT'
  // The host layer.
  | HostErrorCode;

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
    super('CUJU_COMMAND_FAILED', `'${line.split(' ')[0]}' failed: ${output.trim()}`);
    this.line = line;
    this.output = output;
  }
}

/** Why an FtPair is not protected (also on its `state` events): see pair/states.ts. */
export type { FtPairReason } from './pair/states.js';

/**
 * What went wrong with an FT pair: `STATE` (the operation makes no sense in the pair's
 * state), `TIMEOUT`, `VM_EXITED`, `NOT_PROTECTED`, `FAILOVER_TIMEOUT`, `FAILOVER_FAILED`,
 * `ABORTED` (the operation's AbortSignal), `STOPPED` (down() was called while it ran),
 * `UNREACHABLE` (a VM's host could not be reached: nothing was done there),
 * `NO_MONITOR` (the step needs a monitor the pair may not open: a VM attached while in FT),
 * `RECORD` (attach(): the record is not one, or names a host that was not given).
 */
export type FtPairErrorKind =
  | 'STATE'
  | 'TIMEOUT'
  | 'VM_EXITED'
  | 'NOT_PROTECTED'
  | 'FAILOVER_TIMEOUT'
  | 'FAILOVER_FAILED'
  | 'ABORTED'
  | 'STOPPED'
  | 'UNREACHABLE'
  | 'NO_MONITOR'
  | 'RECORD';

/** An FtPair operation failed; `reason` says what that leaves the pair as, when it is not protected. */
export class FtPairError extends CujuError {
  readonly reason: FtPairReason | undefined;
  constructor(kind: FtPairErrorKind, message: string, reason?: FtPairReason, cause?: unknown) {
    super(`CUJU_FT_PAIR_${kind}` as const, message, cause === undefined ? undefined : { cause });
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
    super('CUJU_INVALID_ARGUMENT', `${field} ${problem}`, options);
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
    super('CUJU_GFT_ALREADY_STARTED', `${command} was refused: group FT has already started (gft_init ran)`);
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
    super('CUJU_GFT_BAD_MAC', `${command} was refused: Cuju could not parse the MAC address`);
    this.command = command;
  }
}

/** `qmp_gft_leader_init error connect to IP:PORT.`: the leader could not reach a member's join port. */
export class GftLeaderConnectError extends CujuError {
  /** `ip:port` as Cuju printed it. */
  readonly target: string;
  constructor(target: string) {
    super(
      'CUJU_GFT_LEADER_CONNECT_FAILED',
      `gft_init: the leader could not connect to ${target} (is that member's -ft-join-port listening?)`,
    );
    this.target = target;
  }
}

/** `gft_master_connect_other_master error connect to IP:PORT.`: a member could not reach another member. */
export class GftMemberConnectError extends CujuError {
  readonly target: string;
  constructor(target: string) {
    super(
      'CUJU_GFT_MEMBER_CONNECT_FAILED',
      `group FT: a member could not connect to the member at ${target}`,
    );
    this.target = target;
  }
}

/** `qmp_gft_leader_init failed to receive MIG_JOIN_GFT_INIT_ACK from IP:PORT.` */
export class GftInitAckError extends CujuError {
  readonly target: string;
  constructor(target: string) {
    super(
      'CUJU_GFT_INIT_ACK_MISSING',
      `gft_init: the member at ${target} did not acknowledge the group table`,
    );
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
    super('CUJU_FT_ACK_FAILED', `the primary did not receive ${ack} from the backup: FT is broken`);
    this.ack = ack;
  }
}

/** `qemu-system-x86_64: load of migration failed: REASON`: the receiver could not load the incoming state and exits. */
export class MigrationLoadError extends CujuError {
  /** strerror text, e.g. `Invalid argument`. */
  readonly reason: string;
  constructor(reason: string) {
    super('CUJU_MIGRATION_LOAD_FAILED', `the receiver could not load the incoming migration: ${reason}`);
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
    super('CUJU_QEMU_ERROR', `QEMU reported: ${qemuMessage}`);
    this.qemuMessage = qemuMessage;
  }
}

// ---------------------------------------------------------------------------------------
// Build profiles (builds.ts) and the guards that keep a real VM alive (monitor.ts).

/** `master`, or `master (21f9f0b)` style lists for messages. */
function buildList(builds: readonly CujuBuildName[]): string {
  return builds.length === 0 ? 'no profiled build' : builds.join(', ');
}

/**
 * The build the monitor belongs to lacks this command (it would answer `unknown command`),
 * or has only a stub of it. Nothing was sent. `availableIn` names the builds that have it.
 */
export class CujuUnsupportedCommandError extends CujuError {
  readonly build: CujuBuildName;
  readonly command: CujuCommandName;
  readonly availableIn: readonly CujuBuildName[];
  constructor(
    build: CujuBuildName,
    command: CujuCommandName,
    availableIn: readonly CujuBuildName[],
    why?: string,
  ) {
    super(
      'CUJU_COMMAND_UNSUPPORTED',
      `'${command}' is not usable on the ${build} build${why ? ` (${why})` : ''}; ${buildList(availableIn)} ${availableIn.length === 1 ? 'has' : 'have'} it`,
    );
    this.build = build;
    this.command = command;
    this.availableIn = availableIn;
  }
}

/**
 * A launch would pass an option the build's vl.c does not know (QEMU would exit with
 * `invalid option`). Nothing was started. `field` names the spec field that asked for it.
 */
export class CujuUnsupportedOptionError extends CujuError {
  readonly build: CujuBuildName;
  readonly option: CujuOption;
  readonly field: string;
  readonly availableIn: readonly CujuBuildName[];
  constructor(
    build: CujuBuildName,
    option: CujuOption,
    field: string,
    availableIn: readonly CujuBuildName[],
  ) {
    super(
      'CUJU_OPTION_UNSUPPORTED',
      `${field}: the ${build} build rejects ${option} as an invalid option; ${buildList(availableIn)} ${availableIn.length === 1 ? 'accepts' : 'accept'} it`,
    );
    this.build = build;
    this.option = option;
    this.field = field;
    this.availableIn = availableIn;
  }
}

/** The monitor's `help` matched no known build (an upstream QEMU, a watchdog build, ...). */
export class CujuBuildDetectError extends CujuError {
  readonly endpoint: string;
  constructor(endpoint: string) {
    super(
      'CUJU_BUILD_UNKNOWN',
      `${endpoint}: its 'help' matches none of the Cuju builds master, groupft, blk-server; pass the build explicitly if you know it`,
    );
    this.endpoint = endpoint;
  }
}

/**
 * A command that would crash the VM in its current state was refused, nothing sent:
 * `cuju-failover` anywhere but on a receiver in FT, `cuju-migrate-cancel` outside FT
 * (both dereference FT state with no check, migration.c@21f9f0b:1578-1583,
 * cuju-ft-trans-file.c@21f9f0b:1315-1318). `known` is what the monitor knew of the VM.
 */
export class CujuUnsafeCommandError extends CujuError {
  readonly command: CujuCommandName;
  readonly known: string;
  constructor(command: CujuCommandName, known: string, why: string) {
    super('CUJU_UNSAFE_COMMAND', `'${command}' refused: ${why} (the VM is ${known})`);
    this.command = command;
    this.known = known;
  }
}

/**
 * A new monitor connection to a VM whose FT runs was refused before connecting: opening
 * the monitor during FT segfaults QEMU (Cuju issue #13). Connect once before FT and keep
 * that connection, or pass `allowDuringFt: true` when you know your build is safe.
 */
export class CujuMonitorDuringFtError extends CujuError {
  readonly endpoint: string;
  constructor(endpoint: string) {
    super(
      'CUJU_MONITOR_DURING_FT',
      `${endpoint}: FT runs on this VM; a new monitor connection can crash it (Cuju issue #13). Keep the connection opened before FT, or pass allowDuringFt: true`,
    );
    this.endpoint = endpoint;
  }
}

/**
 * A connection to a VM's group join port was refused before connecting: its accept
 * handler asserts on a short read (migration.c@d2e55fe:4149), so even a probe aborts QEMU.
 */
export class CujuJoinPortError extends CujuError {
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number) {
    super(
      'CUJU_JOIN_PORT_REFUSED',
      `${host}:${port} is a Cuju group join port: connecting to it (even to probe it) aborts the VM`,
    );
    this.host = host;
    this.port = port;
  }
}

/** The monitor answered with text the parser for that build does not recognise. */
export class CujuOutputError extends CujuError {
  readonly expected: string;
  readonly output: string;
  constructor(expected: string, output: string) {
    super('CUJU_UNEXPECTED_OUTPUT', `expected ${expected}, got ${JSON.stringify(output.slice(0, 200))}`);
    this.expected = expected;
    this.output = output;
  }
}
