/**
 * Cuju reports FT progress with printf on QEMU's stdout, not on the monitor. The
 * simulator prints the same strings (reference cuju-builds.md §5; each text's source
 * next to it), one line each, flushed at once: Cuju's stdout is line-buffered, because
 * vl.c calls os_set_line_buffering() (setvbuf _IOLBF, vl.c@21f9f0b:4439, @d2e55fe:4446,
 * @4b17b51:4459) before it prints `VM init finished`. -sim-stdout-buffered makes it a
 * block-buffered stream instead (bufferStdout). Trailing spaces are part of the text
 * where Cuju's format has them.
 */
export const MARKERS = {
  vmInitFinished: 'VM init finished', // vl.c@21f9f0b:4721
  enterFtMode: 'Enter FT mode', // migration.c@21f9f0b:1515
  startMemoryBackup: 'Start system memory backup', // migration.c@21f9f0b:2606
  migrateDoneAndCuju: 'migration_thread migrate done and cuju = 1', // migration.c@4b17b51:2967 (blk-server only)
  startCujuProcess: 'start cuju process', // migration.c@21f9f0b:2695, @4b17b51:2970
  recvAck: (index: number) => `migrate_ft_trans_get_ready recv ack, index ${index}`, // migration.c@21f9f0b:2414
  waitAllOk: (index: number) => `gft_master_wait_all_migration_done ok, run ${index}!`, // migration.c@4b17b51:2656
  ackFailed: 'migrate_ft_trans_get_ready sender receive ACK failed.', // migration.c@21f9f0b:2416
  ack1Failed: 'migrate_ft_trans_get_ready sender receive ACK1 failed.', // migration.c@21f9f0b:2443
  enterFtIncoming: 'enter cuju FT mode (incoming)', // migration.c@21f9f0b:607
  firstCommit: 'first commit', // cuju-ft-trans-file.c@21f9f0b:691
  transClose: 'cuju_ft_trans_close', // cuju-ft-trans-file.c@21f9f0b:808
  transCloseStarted: 'cuju_ft_trans_close vm_started.', // cuju-ft-trans-file.c@21f9f0b:851
  newEpoch: (n: number, unit: 'us' | 'ms') => `new epoch size is ${n} ${unit}.`, // cuju-kvm-share-mem.c@21f9f0b:136, @4b17b51:142
  /** printf("\n%s tick %lu\n"): an empty line, then this one (migration.c@21f9f0b:3069). */
  timerTick: (n: number) => `migrate_timer tick ${n}`,
  waitOthers: 'wait for other migrations..', // migration.c@d2e55fe:2918
  /** printf("in func %s \n", __func__): with its trailing space (migration.c@d2e55fe:985). */
  queryMigrate: 'in func qmp_query_migrate ',
  migrationPaused: 'Migration_Paused, return!!', // migration.c@d2e55fe:3612
  addHostStarted: (fn: string) => `${fn} failed since gft already started.`, // migration.c@d2e55fe:4453, 4486
  addHostBadMac: (fn: string) => `${fn} bad mac.`, // migration.c@d2e55fe:4464, 4497
  leaderConnectError: (where: string) => `qmp_gft_leader_init error connect to ${where}.`, // migration.c@d2e55fe:4547
  leaderInitAck: (where: string) =>
    `qmp_gft_leader_init failed to receive MIG_JOIN_GFT_INIT_ACK from ${where}.`, // 4577
  memberConnectError: (where: string) => `gft_master_connect_other_master error connect to ${where}.`, // 2689
  resetAll: 'gft_reset_all', // migration.c@d2e55fe:4271
  resetAllJoinPort: (port: number) => `gft_reset_all, slave_host_join_port = ${port}`, // migration.c@d2e55fe:4344
  failoverCalled: 'qmp_cuju_failover', // cuju-ft-trans-file.c@21f9f0b:1317
  blockServerInit: 'block server init', // vl.c@4b17b51:4542
  blkClientAccepted: (fd: number) => `accepted blk client ${fd}.`, // kvm_blk.c@4b17b51:237
  clientRet: (ret: number) => `client_ret:${ret}`, // vl.c@4b17b51:4757
} as const;

/** glibc's buffer for a file or pipe: st_blksize, 4096 on the file systems this runs on. */
const STDIO_BLOCK = 4096;
/** Held-back stdout under -sim-stdout-buffered (undefined: line by line, Cuju's way). */
let held: Buffer | undefined;

/**
 * -sim-stdout-buffered: from now on stdout goes out in 4096-byte blocks, as C stdio
 * writes a fully buffered stream, and what is left at a normal exit is flushed there
 * (flushStdout); a crash (SIGKILL, SIGSEGV, abort) loses it. Every profiled Cuju build
 * line-buffers its stdout itself (os_set_line_buffering(), vl.c@21f9f0b:4439), so this
 * is a binary that would not: a client must not depend on a marker alone.
 */
export function bufferStdout(): void {
  held ??= Buffer.alloc(0);
}

/** exit(): stdio flushes what it holds. */
export function flushStdout(): void {
  if (held === undefined || held.length === 0) return;
  process.stdout.write(held);
  held = Buffer.alloc(0);
}

export function say(line: string): void {
  if (held === undefined) {
    process.stdout.write(`${line}\n`);
    return;
  }
  held = Buffer.concat([held, Buffer.from(`${line}\n`)]);
  const full = held.length - (held.length % STDIO_BLOCK);
  if (full > 0) {
    process.stdout.write(held.subarray(0, full));
    held = held.subarray(full);
  }
}

/** QEMU's error_report: `qemu-system-x86_64: message` on stderr. */
export function report(message: string): void {
  process.stderr.write(`qemu-system-x86_64: ${message}\n`);
}

/**
 * A crash where real Cuju dereferences NULL: the process dies of SIGSEGV at once (no
 * cleanup: the kernel closes its sockets, its peers see EOF), so a client that sends such
 * a command is caught by any test.
 */
export function segfault(): never {
  return dieOf('SIGSEGV');
}

/** An assert() that fails: glibc's message on stderr, then abort() (SIGABRT). */
export function assertFailed(file: string, line: number, fn: string, expr: string): never {
  // stderr is synchronous on Linux for pipes and files: the line is out before the signal.
  process.stderr.write(`qemu-system-x86_64: ${file}:${line}: ${fn}: Assertion \`${expr}' failed.\n`);
  return dieOf('SIGABRT');
}

/**
 * Kills this process with a signal whose default action ends it, and blocks the event
 * loop meanwhile so that nothing else (a monitor reply, an FT message) gets out first.
 */
function dieOf(signal: 'SIGSEGV' | 'SIGABRT'): never {
  process.kill(process.pid, signal);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
  // Not reached when the signal kills us; the shell's code for it otherwise.
  process.exit(128 + (signal === 'SIGSEGV' ? 11 : 6));
}
