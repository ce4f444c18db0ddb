/**
 * Cuju reports FT progress with printf on QEMU's stdout, not on the monitor
 * (reference §7). The simulator prints the same strings, one line each, flushed at once
 * (real Cuju's stdout is block-buffered when it is a pipe; the simulator does not
 * reproduce that delay).
 */
export const MARKERS = {
  vmInitFinished: 'VM init finished',
  enterFtMode: 'Enter FT mode',
  enterFtIncoming: 'enter cuju FT mode (incoming)',
  firstCommit: 'first commit',
  transClose: 'cuju_ft_trans_close',
  transCloseStarted: 'cuju_ft_trans_close vm_started.',
  newEpoch: (n: number) => `new epoch size is ${n} ms.`,
  timerTick: (n: number) => `migrate_timer tick ${n}`,
  waitOthers: 'wait for other migrations..',
  queryMigrate: 'in func qmp_query_migrate',
  addHostStarted: 'qmp_gft_add_host failed since gft already started.',
  addHostBadMac: 'qmp_gft_add_host bad mac.',
  leaderConnectError: (where: string) => `qmp_gft_leader_init error connect to ${where}.`,
  addMemberFinish: 'hmp_gft_add_member add host finish',
  resetAll: 'gft_reset_all',
  failoverStub: 'qmp_cuju_failover',
  readPagesDisconn: 'cuju_ft_trans_read_pages: disconn',
} as const;

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** QEMU's error_report: `qemu-system-x86_64: message` on stderr. */
export function report(message: string): void {
  process.stderr.write(`qemu-system-x86_64: ${message}\n`);
}
