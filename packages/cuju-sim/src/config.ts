/**
 * What a cuju-sim process was asked to be, as parsed from a Cuju qemu-system-x86_64
 * command line (argv.ts). Everything else in the simulator reads this, never argv.
 */
import type { SimBuild } from './builds.js';

/** Where a monitor listens. QEMU's `-chardev socket` / `-qmp` / `-monitor` forms. */
export type MonitorListen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface MonitorSpec {
  /** The chardev id or a generated one (`compat_monitor0` for -qmp/-monitor, as QEMU names them). */
  id: string;
  /** `readline` is HMP, `control` is QMP. */
  mode: 'readline' | 'control';
  listen: MonitorListen;
  /** `server` was given: QEMU listens (a client chardev, which QEMU dials out, is not simulated). */
  server: true;
  /** `nowait` / `wait=off`. With wait (the default), QEMU blocks at start until a client connects. */
  wait: boolean;
}

export interface IncomingSpec {
  host: string;
  port: number;
  /** `,ft_mode` was the last text of the -incoming value: the Cuju backup receiver. */
  ftMode: boolean;
  /** The -incoming value as typed (QEMU quotes it in its errors). */
  text: string;
}

export interface NicSpec {
  model?: string;
  macaddr?: string;
  vlan?: number;
}

/** Fault injection that real Cuju lacks, only through -sim-* options. */
export interface SimFaults {
  /** -sim-monitor-delay MS: every monitor reply is held this long. */
  monitorDelayMs: number;
  /** -sim-stall-greeting: monitors accept connections but never greet (banner/QMP greeting). */
  stallGreeting: boolean;
  /** -sim-drop-ft-links-after MS: the FT links are cut this long after FT starts (a network failure). */
  dropFtLinksAfterMs: number | undefined;
  /** -sim-usr2-drops-ft-links: SIGUSR2 cuts the FT links (a network failure on demand; the process runs on). */
  usr2DropsFtLinks: boolean;
  /** -sim-crash-at STEP: exit(1) abruptly at a named step (see CRASH_STEPS). */
  crashAt: CrashStep | undefined;
  /** -sim-slow-epoch MS: each epoch takes this much longer. */
  slowEpochMs: number;
  /**
   * -sim-stdout-buffered: stdout is block-buffered (4096-byte blocks, flushed at a normal
   * exit, lost in a crash), as C stdio buffers a pipe or a file for a program that does not
   * ask for line buffering. No profiled Cuju build is like that (vl.c calls
   * os_set_line_buffering()); the switch lets a client prove it does not depend on markers.
   */
  stdoutBuffered: boolean;
}

export const CRASH_STEPS = [
  'ft-connect',
  'ft-initial-sync',
  'ft-first-epoch',
  'gft-init',
  'gft-join',
] as const;
export type CrashStep = (typeof CRASH_STEPS)[number];

export interface SimConfig {
  /** -sim-build: which Cuju build this process is (builds.ts; default master). */
  build: SimBuild;
  /** argv[0]-like name used in messages: 'qemu-system-x86_64'. */
  progName: string;
  monitors: MonitorSpec[];
  incoming: IncomingSpec | undefined;
  /** -ft-join-port (default 5000, `int ft_join_port = 5000;` in vl.c). */
  ftJoinPort: number;
  /** -gft-id (default -1, `int my_gft_id = -1;`). */
  gftId: number;
  /** -blk-server IP:PORT */
  blkServer: string | undefined;
  /** -blk-server-listen [HOST]:PORT */
  blkServerListen: string | undefined;
  memoryMiB: number;
  smp: number;
  nics: NicSpec[];
  name: string | undefined;
  daemonize: boolean;
  pidfile: string | undefined;
  /** -S: start paused (prelaunch). */
  startPaused: boolean;
  enableKvm: boolean;
  sim: SimFaults;
}

/** A malformed command line: `message` is what QEMU would print (without the trailing newline); exit code 1. */
export class ArgvError extends Error {
  readonly code = 'ARGV' as const;
}
