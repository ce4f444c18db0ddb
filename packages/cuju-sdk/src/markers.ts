/**
 * Cuju reports FT progress and most failures with printf on QEMU's stdout, never on the
 * monitor (reference §7): these lines are the only signal of `Enter FT mode`, of the
 * backup's first commit, of a failover, and of every gft_* failure. parseMarker turns one
 * line into a typed marker; markerError turns the error markers into CujuError classes.
 *
 * Texts are Cuju's printf formats, checked against migration/migration.c @2757a9a,
 * cuju-ft-trans-file.c @0195b6d and iohandler.c. Matching is exact, except that trailing
 * whitespace is ignored: lines may end in `\r`, and Cuju itself prints
 * `in func qmp_query_migrate ` with a space before the newline.
 */
import {
  type CujuError,
  FtAckError,
  type GftAddHostCommand,
  GftAlreadyStartedError,
  GftBadMacError,
  GftInitAckError,
  GftLeaderConnectError,
  GftMemberConnectError,
  MigrationLoadError,
  QemuReportedError,
} from './errors.js';
import { checkObject, checkText } from './validate.js';

/** A line of Cuju's stdout, recognised: one kind per marker of the reference, with its values. */
export type CujuMarker =
  // Both sides
  /** `VM init finished`: vl.c is done and the monitor is up. */
  | { kind: 'vm-init-finished' }
  /** `set fd N to 0|1`: an FT socket is made to survive (1) or not (0) Cuju's I/O pause. */
  | { kind: 'set-fd'; fd: number; value: 0 | 1 }
  /** `new epoch size is N ms.` after cuju-adjust-epoch: Cuju says ms but N is in µs (reference §2.2). */
  | { kind: 'epoch-size'; value: number }
  // Primary
  /** `Enter FT mode`: `migrate -c` was accepted (not printed for GFT's own restarts). */
  | { kind: 'enter-ft-mode' }
  /** `migrate_timer tick N`: every 64 epochs; N counts epochs. */
  | { kind: 'timer-tick'; count: number }
  /** `wait for other migrations..`: a GFT member waits for the rest of the group (every 50 polls). */
  | { kind: 'gft-wait-others' }
  /** `in func qmp_query_migrate`: GFT builds print it on every `info migrate`/query-migrate. */
  | { kind: 'query-migrate' }
  /** `migrate_fd_close skip close socket N in ft mode` */
  | { kind: 'migrate-fd-close-skip'; fd: number }
  /** `migrate_ft_trans_get_ready sender receive ACK failed.` (or ACK1): the backup did not answer. */
  | { kind: 'ft-ack-failed'; ack: 'ACK' | 'ACK1' }
  // Backup
  /** `enter cuju FT mode (incoming)`: the receiver loaded the first full state and starts FT. */
  | { kind: 'ft-incoming' }
  /** `first commit`: the backup holds a first consistent epoch; from here the pair is protected. */
  | { kind: 'first-commit' }
  /** `cuju_ft_trans_close`: an FT stream closed (on the backup: the primary is gone, failover begins). */
  | { kind: 'ft-trans-close' }
  /** `cuju_ft_trans_close vm_started.`: failover done, the backup VM runs. */
  | { kind: 'failover-vm-started' }
  /** `cuju_ft_trans_read_pages: disconn`: the RAM stream from the primary hit EOF. */
  | { kind: 'read-pages-disconn' }
  /** `cuju_ft_trans_read_headers: disconn`: the same for the page-header stream. */
  | { kind: 'read-headers-disconn' }
  /** `qmp_cuju_failover`: the first cuju-failover is a stub that only prints its name. */
  | { kind: 'failover-stub' }
  // Group FT
  /** `qmp_gft_add_host failed since gft already started.` (or qmp_gft_add_host2) */
  | { kind: 'gft-add-host-started'; command: GftAddHostCommand }
  /** `qmp_gft_add_host bad mac.` (or qmp_gft_add_host2) */
  | { kind: 'gft-add-host-bad-mac'; command: GftAddHostCommand }
  /** `qmp_gft_leader_init error connect to IP:PORT.` */
  | { kind: 'gft-leader-connect-error'; target: string }
  /** `gft_master_connect_other_master error connect to IP:PORT.`: member to member. */
  | { kind: 'gft-member-connect-error'; target: string }
  /** `qmp_gft_leader_init failed to receive MIG_JOIN_GFT_INIT_ACK from IP:PORT.` */
  | { kind: 'gft-init-ack-missing'; target: string }
  /**
   * `hmp_gft_add_member add host finish` (by: 'hmp', after gft_add_member) or
   * `migrate_run add host finish` (by: 'resync', the leader re-adding a failed-over member).
   */
  | { kind: 'gft-add-member-finished'; by: 'hmp' | 'resync' }
  /** `gft_reset_all`: a member failed; the group pauses and is rebuilt. */
  | { kind: 'gft-reset-all' }
  // Others
  /** `Cuju WDT: ...`: the watchdog variant (ft_watchdog.c) prefixes all its output so. */
  | { kind: 'watchdog'; message: string }
  /** `client_ret:N`: the block-server client's connect result (-blk-server; Cuju exits when it failed). */
  | { kind: 'blk-client-ret'; value: number }
  /** `qemu-system-x86_64: load of migration failed: REASON`: the receiver exits. */
  | { kind: 'migration-load-failed'; reason: string }
  /** `qemu-system-x86_64: warning: ...` or a bare `warning: ...` (QEMU 2.8 has no warn_report). */
  | { kind: 'qemu-warning'; message: string }
  /** `qemu-system-x86_64: ...`: QEMU's error_report (it may start with the option being parsed). */
  | { kind: 'qemu-error'; message: string };

/** The kinds of `CujuMarker`. */
export type CujuMarkerKind = CujuMarker['kind'];

/** Lines that are the whole marker. */
const EXACT = new Map<string, CujuMarker>([
  ['VM init finished', { kind: 'vm-init-finished' }],
  ['Enter FT mode', { kind: 'enter-ft-mode' }],
  ['wait for other migrations..', { kind: 'gft-wait-others' }],
  ['in func qmp_query_migrate', { kind: 'query-migrate' }],
  ['migrate_ft_trans_get_ready sender receive ACK failed.', { kind: 'ft-ack-failed', ack: 'ACK' }],
  ['migrate_ft_trans_get_ready sender receive ACK1 failed.', { kind: 'ft-ack-failed', ack: 'ACK1' }],
  ['enter cuju FT mode (incoming)', { kind: 'ft-incoming' }],
  ['first commit', { kind: 'first-commit' }],
  ['cuju_ft_trans_close', { kind: 'ft-trans-close' }],
  ['cuju_ft_trans_close vm_started.', { kind: 'failover-vm-started' }],
  ['cuju_ft_trans_read_pages: disconn', { kind: 'read-pages-disconn' }],
  ['cuju_ft_trans_read_headers: disconn', { kind: 'read-headers-disconn' }],
  ['qmp_cuju_failover', { kind: 'failover-stub' }],
  [
    'qmp_gft_add_host failed since gft already started.',
    { kind: 'gft-add-host-started', command: 'gft_add_host' },
  ],
  [
    'qmp_gft_add_host2 failed since gft already started.',
    { kind: 'gft-add-host-started', command: 'gft_add_host2' },
  ],
  ['qmp_gft_add_host bad mac.', { kind: 'gft-add-host-bad-mac', command: 'gft_add_host' }],
  ['qmp_gft_add_host2 bad mac.', { kind: 'gft-add-host-bad-mac', command: 'gft_add_host2' }],
  ['hmp_gft_add_member add host finish', { kind: 'gft-add-member-finished', by: 'hmp' }],
  ['migrate_run add host finish', { kind: 'gft-add-member-finished', by: 'resync' }],
  ['gft_reset_all', { kind: 'gft-reset-all' }],
]);

/** Lines with a value in them, tried in order; each regex matches the whole line. */
const PATTERNS: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => CujuMarker]> = [
  [/^set fd (-?\d+) to ([01])$/, (m) => ({ kind: 'set-fd', fd: Number(m[1]), value: m[2] === '1' ? 1 : 0 })],
  [/^new epoch size is (\d+) ms\.$/, (m) => ({ kind: 'epoch-size', value: Number(m[1]) })],
  [/^migrate_timer tick (\d+)$/, (m) => ({ kind: 'timer-tick', count: Number(m[1]) })],
  [
    /^migrate_fd_close skip close socket (-?\d+) in ft mode$/,
    (m) => ({ kind: 'migrate-fd-close-skip', fd: Number(m[1]) }),
  ],
  [
    /^qmp_gft_leader_init error connect to (\S+)\.$/,
    (m) => ({ kind: 'gft-leader-connect-error', target: m[1] ?? '' }),
  ],
  [
    /^gft_master_connect_other_master error connect to (\S+)\.$/,
    (m) => ({ kind: 'gft-member-connect-error', target: m[1] ?? '' }),
  ],
  [
    /^qmp_gft_leader_init failed to receive MIG_JOIN_GFT_INIT_ACK from (\S+)\.$/,
    (m) => ({ kind: 'gft-init-ack-missing', target: m[1] ?? '' }),
  ],
  [/^Cuju WDT: (.*)$/, (m) => ({ kind: 'watchdog', message: m[1] ?? '' })],
  [/^client_ret:(-?\d+)$/, (m) => ({ kind: 'blk-client-ret', value: Number(m[1]) })],
  // QEMU's error_report: `PROGNAME: [LOCATION: ]TEXT`, PROGNAME being argv[0]'s basename.
  [
    /^qemu-system-[A-Za-z0-9_]+: load of migration failed: (.*)$/,
    (m) => ({ kind: 'migration-load-failed', reason: m[1] ?? '' }),
  ],
  [/^qemu-system-[A-Za-z0-9_]+: (warning: .*)$/, (m) => ({ kind: 'qemu-warning', message: m[1] ?? '' })],
  [/^(warning: .*)$/, (m) => ({ kind: 'qemu-warning', message: m[1] ?? '' })],
  [/^qemu-system-[A-Za-z0-9_]+: (.*)$/, (m) => ({ kind: 'qemu-error', message: m[1] ?? '' })],
];

/**
 * The marker a line of Cuju's stdout or stderr is, or undefined for any other line
 * (guest-independent noise, blank lines, debug output). Trailing whitespace and a line
 * end (`\n`, `\r\n`) are ignored; anything else must match exactly.
 */
export function parseMarker(line: string): CujuMarker | undefined {
  const text = checkText('line', line).trimEnd(); // linear, unlike /\s+$/ on a long run of spaces
  const exact = EXACT.get(text);
  if (exact !== undefined) return { ...exact };
  for (const [pattern, build] of PATTERNS) {
    const m = pattern.exec(text);
    if (m) return build(m);
  }
  return undefined;
}

/**
 * The error an error marker stands for, or undefined for the others (progress, failover,
 * warnings). `ft-trans-close` and `read-pages-disconn` are not errors: on the backup they
 * are the start of a failover.
 */
export function markerError(marker: CujuMarker): CujuError | undefined {
  const fields = checkObject('marker', marker);
  for (const key of ['command', 'target', 'ack', 'reason', 'message']) {
    if (fields[key] !== undefined) checkText(`marker.${key}`, fields[key]);
  }
  switch (marker.kind) {
    case 'gft-add-host-started':
      return new GftAlreadyStartedError(marker.command);
    case 'gft-add-host-bad-mac':
      return new GftBadMacError(marker.command);
    case 'gft-leader-connect-error':
      return new GftLeaderConnectError(marker.target);
    case 'gft-member-connect-error':
      return new GftMemberConnectError(marker.target);
    case 'gft-init-ack-missing':
      return new GftInitAckError(marker.target);
    case 'ft-ack-failed':
      return new FtAckError(marker.ack);
    case 'migration-load-failed':
      return new MigrationLoadError(marker.reason);
    case 'qemu-error':
      return new QemuReportedError(marker.message);
    default:
      return undefined;
  }
}
