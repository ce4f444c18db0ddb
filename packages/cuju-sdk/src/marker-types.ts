/**
 * The typed markers of Cuju's stdout (markers.ts parses lines into them). Types only, kept
 * apart so that the build profiles (builds.ts) can list each build's marker kinds without
 * importing the parser, which imports the profiles (no import circles).
 */
import type { GftAddHostCommand } from './errors.js';

/** A line of Cuju's stdout, recognised: one kind per marker of the builds, with its values. */
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

/** The kinds of `CujuMarker`. */
export type CujuMarkerKind = CujuMarker['kind'];
