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
  GftAlreadyStartedError,
  GftBadMacError,
  GftInitAckError,
  GftLeaderConnectError,
  GftMemberConnectError,
  MigrationLoadError,
  QemuReportedError,
} from './errors.js';
import type { CujuMarker } from './marker-types.js';
import { checkObject, checkText } from './validate.js';

export type { CujuMarker, CujuMarkerKind } from './marker-types.js';

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
  const marker = parseAnyMarker(checkText('line', line));
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
