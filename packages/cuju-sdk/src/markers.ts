/**
 * Cuju reports FT progress and most failures with printf on QEMU's stdout, never on the
 * monitor: these lines are the only signal of `Enter FT mode`, of the backup's first
 * commit, of a failover, and of every gft_* failure. parseMarker turns one line into a
 * typed marker; markerError turns the error markers into CujuError classes.
 *
 * Texts are the printf formats of each build (builds.ts names the build and the
 * file@commit:line of each): master 21f9f0b, groupft d2e55fe, blk-server 4b17b51. Given a
 * build, parseMarker reads only the lines that build prints (the epoch line says `us` on
 * master and groupft, `ms` on blk-server). Matching is exact, except that trailing
 * whitespace is ignored: lines may end in `\r`, and Cuju itself prints
 * `in func qmp_query_migrate ` and `Asynchronous transfer of the memory pages N % ` with
 * a space before the newline.
 */
import { type CujuBuildName, type CujuBuildProfile, cujuBuild } from './builds.js';
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

export type CujuMarker =
  // Both sides
  /** `VM init finished`: vl.c is done and the monitor is up (not printed by a block server). */
  | { kind: 'vm-init-finished' }
  /** `set fd N to 0|1` (groupft built with ft_debug_mode_enable): an FT socket is made to survive (1) Cuju's I/O pause or not (0). */
  | { kind: 'set-fd'; fd: number; value: 0 | 1 }
  /**
   * `new epoch size is N us.` (master, groupft) or `... N ms.` (blk-server) after
   * cuju-adjust-epoch. `value` is what was set, in microseconds, whatever the line says.
   */
  | { kind: 'epoch-size'; value: number; printedUnit: 'us' | 'ms' }
  // Primary
  /** `Enter FT mode`: `migrate -c` was typed (printed before any check, even when it then fails). */
  | { kind: 'enter-ft-mode' }
  /** `Start system memory backup`: the first full copy to the backup begins (the VM stops for it). */
  | { kind: 'start-memory-backup' }
  /** `start cuju process`: the first copy is done, the FT transaction set-up starts (master, blk-server). */
  | { kind: 'start-cuju-process' }
  /** `migrate_ft_trans_get_ready recv ack, index N`: the primary waits for the backup's first ACK (master, blk-server). */
  | { kind: 'ft-ack-received'; index: number }
  /** `migrate_timer tick N`: the first epoch (N = 0) and every 64th after it; N counts epochs. */
  | { kind: 'timer-tick'; count: number }
  /** `Asynchronous transfer of the memory pages N % ` (master built with ASYNC_INIT_MIGRATION). */
  | { kind: 'async-transfer'; percent: number }
  /** `wait for other migrations..`: a GFT member waits for the rest of the group (from the first poll, then every 50). */
  | { kind: 'gft-wait-others' }
  /** `in func qmp_query_migrate `: groupft prints it on every `info migrate`/query-migrate. */
  | { kind: 'query-migrate' }
  /** `Migration_Paused, return!!`: groupft skipped an epoch because of migrate_pause. */
  | { kind: 'migration-paused' }
  /** `migrate_fd_close skip close socket N in ft mode` */
  | { kind: 'migrate-fd-close-skip'; fd: number }
  /**
   * `migrate_ft_trans_get_ready sender receive ACK failed.` (the backup never started) or
   * `... ACK1 failed.` (the backup died during FT).
   */
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
  /**
   * `qmp_cuju_failover`: cuju-failover was called. On master and groupft a takeover (or,
   * anywhere but on a receiver in FT, a crash) follows; on blk-server it is all there is.
   */
  | { kind: 'failover-called' }
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
  /** `gft_reset_all`: the group is torn down (gft_add_member on the leader). */
  | { kind: 'gft-reset-all' }
  /** `gft_reset_all, slave_host_join_port = N`: the leader re-adds one row after a reset. */
  | { kind: 'gft-reset-all-join-port'; port: number }
  // Block server (blk-server)
  /** `block server init`: this process is a block server (-blk-server-listen); it has no monitor. */
  | { kind: 'blk-server-init' }
  /** `accepted blk client N.`: the block server took a client's connection (N is its fd). */
  | { kind: 'blk-client-accepted'; fd: number }
  /** `client_ret:N`: the block-server client's connect result (-blk-server; Cuju exits when it failed). */
  | { kind: 'blk-client-ret'; value: number }
  // QEMU
  /** `qemu-system-x86_64: load of migration failed: REASON`: the receiver exits. */
  | { kind: 'migration-load-failed'; reason: string }
  /** `qemu-system-x86_64: warning: ...` or a bare `warning: ...` (QEMU 2.8 has no warn_report). */
  | { kind: 'qemu-warning'; message: string }
  /** `qemu-system-x86_64: ...`: QEMU's error_report (it may start with the option being parsed). */
  | { kind: 'qemu-error'; message: string };

export type CujuMarkerKind = CujuMarker['kind'];

/** Lines that are the whole marker. */
const EXACT = new Map<string, CujuMarker>([
  ['VM init finished', { kind: 'vm-init-finished' }],
  ['Enter FT mode', { kind: 'enter-ft-mode' }],
  ['Start system memory backup', { kind: 'start-memory-backup' }],
  ['start cuju process', { kind: 'start-cuju-process' }],
  ['wait for other migrations..', { kind: 'gft-wait-others' }],
  ['in func qmp_query_migrate', { kind: 'query-migrate' }],
  ['Migration_Paused, return!!', { kind: 'migration-paused' }],
  ['migrate_ft_trans_get_ready sender receive ACK failed.', { kind: 'ft-ack-failed', ack: 'ACK' }],
  ['migrate_ft_trans_get_ready sender receive ACK1 failed.', { kind: 'ft-ack-failed', ack: 'ACK1' }],
  ['enter cuju FT mode (incoming)', { kind: 'ft-incoming' }],
  ['first commit', { kind: 'first-commit' }],
  ['cuju_ft_trans_close', { kind: 'ft-trans-close' }],
  ['cuju_ft_trans_close vm_started.', { kind: 'failover-vm-started' }],
  ['cuju_ft_trans_read_pages: disconn', { kind: 'read-pages-disconn' }],
  ['cuju_ft_trans_read_headers: disconn', { kind: 'read-headers-disconn' }],
  ['qmp_cuju_failover', { kind: 'failover-called' }],
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
  ['gft_reset_all', { kind: 'gft-reset-all' }],
  ['block server init', { kind: 'blk-server-init' }],
]);

/** Lines with a value in them, tried in order; each regex matches the whole line. */
const PATTERNS: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => CujuMarker]> = [
  [/^set fd (-?\d+) to ([01])$/, (m) => ({ kind: 'set-fd', fd: Number(m[1]), value: m[2] === '1' ? 1 : 0 })],
  [
    /^new epoch size is (\d+) (us|ms)\.$/,
    (m) => ({ kind: 'epoch-size', value: Number(m[1]), printedUnit: m[2] === 'ms' ? 'ms' : 'us' }),
  ],
  [/^migrate_timer tick (\d+)$/, (m) => ({ kind: 'timer-tick', count: Number(m[1]) })],
  [
    /^migrate_ft_trans_get_ready recv ack, index (-?\d+)$/,
    (m) => ({ kind: 'ft-ack-received', index: Number(m[1]) }),
  ],
  [
    /^Asynchronous transfer of the memory pages (\d+) %$/,
    (m) => ({ kind: 'async-transfer', percent: Number(m[1]) }),
  ],
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
  [
    /^gft_reset_all, slave_host_join_port = (-?\d+)$/,
    (m) => ({ kind: 'gft-reset-all-join-port', port: Number(m[1]) }),
  ],
  [/^accepted blk client (-?\d+)\.$/, (m) => ({ kind: 'blk-client-accepted', fd: Number(m[1]) })],
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
 *
 * With `build`, only the lines that build prints are markers: `new epoch size is N ms.`
 * is one on blk-server and noise on master, `in func qmp_query_migrate ` one on groupft
 * only, and so on (builds.ts lists each build's kinds).
 */
export function parseMarker(line: string, build?: CujuBuildName | CujuBuildProfile): CujuMarker | undefined {
  const marker = parseAnyMarker(line);
  if (marker === undefined || build === undefined) return marker;
  const profile = cujuBuild(build);
  if (!profile.markers.includes(marker.kind)) return undefined;
  if (marker.kind === 'epoch-size' && marker.printedUnit !== profile.epochMarkerUnit) return undefined;
  return marker;
}

function parseAnyMarker(line: string): CujuMarker | undefined {
  const text = line.trimEnd(); // linear, unlike /\s+$/ on a long run of spaces
  const exact = EXACT.get(text);
  if (exact !== undefined) return { ...exact };
  for (const [pattern, make] of PATTERNS) {
    const m = pattern.exec(text);
    if (m) return make(m);
  }
  return undefined;
}

/**
 * The error an error marker stands for, or undefined for the others (progress, failover,
 * warnings). `ft-trans-close` and `read-pages-disconn` are not errors: on the backup they
 * are the start of a failover.
 */
export function markerError(marker: CujuMarker): CujuError | undefined {
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
