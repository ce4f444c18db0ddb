import { afterEach, describe, expect, it } from 'vitest';
// cuju-sim's per-build tables and help printer: the SDK must recognise each build from
// what that build's `help` prints.
import { helpText } from '../../cuju-sim/src/hmp-parse.js';
import { HMP_TABLES } from '../../cuju-sim/src/hmp-table.js';
import {
  CUJU_BUILD_NAMES,
  CujuArgumentError,
  CujuBuildDetectError,
  type CujuBuildName,
  CujuCommandError,
  CujuMonitor,
  CujuUnsafeCommandError,
  CujuUnsupportedCommandError,
  cujuFtRegistry,
  detectBuildFromHelp,
} from '../src/index.js';
import { RecordingHmp } from './helpers/recording-hmp.js';

const HOST = {
  gftId: 0,
  masterIp: '192.168.111.1',
  masterGftPort: 5000,
  masterMac: 'ae:ae:00:00:00:21',
  slaveIp: '192.168.111.2',
  slaveFtPort: 4441,
};
const MEMBER = {
  masterIp: '192.168.111.1',
  masterGftPort: 5004,
  masterMac: 'ae:ae:00:00:00:23',
  slaveIp: '192.168.111.2',
  slaveFtPort: 4443,
};
const CAPS =
  'capabilities: xbzrle: off rdma-pin-all: off auto-converge: off zero-blocks: off compress: off events: off postcopy-ram: off x-colo: off cuju-ft: on \r\n';
const IN_FT = `${CAPS}Migration status: cancelled\r\ntotal time: 0 milliseconds\r\n`;

/** One CujuMonitor method call on one build: the exact lines it sends, or its refusal. */
interface Row {
  method: keyof CujuMonitor;
  what: string;
  call: (m: CujuMonitor) => Promise<unknown>;
  /** The VM's answer per line ('' when absent: Cuju's silence). */
  answers?: Readonly<Record<string, string>>;
  /** Stdout lines the monitor was told about first (observe). */
  seen?: readonly string[];
  sent: readonly string[];
  result?: unknown;
  refused?: { type: abstract new (...args: never[]) => Error; fields: Record<string, unknown> };
}

const unsupported = (build: CujuBuildName, command: string, availableIn: CujuBuildName[]) => ({
  type: CujuUnsupportedCommandError,
  fields: { code: 'CUJU_COMMAND_UNSUPPORTED', build, command, availableIn },
});
const unsafe = (command: string) => ({
  type: CujuUnsafeCommandError,
  fields: { code: 'CUJU_UNSAFE_COMMAND', command },
});

/** What every build sends the same way. */
function common(): Row[] {
  return [
    {
      method: 'enableFt',
      what: 'ftmode.sh line 1',
      call: (m) => m.enableFt(),
      sent: ['migrate_set_capability cuju-ft on'],
    },
    {
      method: 'disableFt',
      what: 'capability off',
      call: (m) => m.disableFt(),
      sent: ['migrate_set_capability cuju-ft off'],
    },
    {
      method: 'startFt',
      what: 'ftmode.sh line 2',
      call: (m) => m.startFt({ host: '192.168.111.2', port: 4441 }),
      sent: ['migrate -c tcp:192.168.111.2:4441'],
    },
    {
      method: 'startFt',
      what: "the seeds' -d -c form",
      call: (m) => m.startFt({ host: '192.168.111.2', port: 4441, detach: true }),
      sent: ['migrate -d -c tcp:192.168.111.2:4441'],
    },
    {
      method: 'startFt',
      what: "Cuju's own refusal text",
      call: (m) => m.startFt({ host: '192.168.111.2', port: 4441 }),
      answers: { 'migrate -c tcp:192.168.111.2:4441': 'Failed to connect socket: Connection refused\r\n' },
      sent: ['migrate -c tcp:192.168.111.2:4441'],
      refused: {
        type: CujuCommandError,
        fields: { code: 'CUJU_COMMAND_FAILED', output: 'Failed to connect socket: Connection refused\r\n' },
      },
    },
    {
      method: 'adjustEpoch',
      what: 'microseconds',
      call: (m) => m.adjustEpoch(5000),
      sent: ['cuju-adjust-epoch 5000'],
    },
    { method: 'close', what: 'closes the connection', call: (m) => m.close(), sent: [] },
  ];
}

const TABLE: Record<CujuBuildName, Row[]> = {
  master: [
    ...common(),
    {
      method: 'status',
      what: 'info status alone (the liveness probe)',
      call: (m) => m.status(),
      answers: { 'info status': 'VM status: paused (inmigrate)\r\n' },
      sent: ['info status'],
      result: { running: false, status: 'inmigrate', singlestep: false },
    },
    {
      method: 'info',
      what: 'status, and info migrate with no GFT STATUS line on master',
      call: (m) => m.info(),
      answers: { 'info status': 'VM status: paused (inmigrate)\r\n', 'info migrate': IN_FT },
      sent: ['info status', 'info migrate'],
      result: {
        status: { running: false, status: 'inmigrate', singlestep: false },
        migrate: expect.objectContaining({ status: 'cancelled', totalTimeMs: 0 }),
      },
    },
    {
      method: 'cancelFt',
      what: 'after asking: the primary runs FT',
      call: (m) => m.cancelFt(),
      answers: { 'cuju-get-ft-started': 'ft_started: 1\r\n' },
      sent: ['cuju-get-ft-started', 'cuju-migrate-cancel'],
    },
    {
      method: 'cancelFt',
      what: 'refused outside FT (it would crash the VM)',
      call: (m) => m.cancelFt(),
      answers: { 'cuju-get-ft-started': 'ft_started: 0\r\n' },
      sent: ['cuju-get-ft-started'],
      refused: unsafe('cuju-migrate-cancel'),
    },
    {
      method: 'failover',
      what: 'on a receiver that committed an epoch (its stdout said so)',
      call: (m) => m.failover(),
      seen: ['enter cuju FT mode (incoming)', 'first commit'],
      sent: ['cuju-failover'],
    },
    {
      method: 'failover',
      what: 'after asking: cuju_ft_mode 5 (recv)',
      call: (m) => m.failover(),
      answers: { 'cuju-get-ft-mode': 'cuju_ft_mode: 5\r\n' },
      sent: ['cuju-get-ft-mode', 'cuju-failover'],
    },
    {
      method: 'failover',
      what: 'refused on a primary (NULL transaction)',
      call: (m) => m.failover(),
      answers: { 'cuju-get-ft-mode': 'cuju_ft_mode: 0\r\n' },
      sent: ['cuju-get-ft-mode'],
      refused: unsafe('cuju-failover'),
    },
    {
      method: 'ftMode',
      what: 'cuju_ft_mode',
      call: (m) => m.ftMode(),
      answers: { 'cuju-get-ft-mode': 'cuju_ft_mode: 5\r\n' },
      sent: ['cuju-get-ft-mode'],
      result: { value: 5, name: 'recv' },
    },
    {
      method: 'ftStarted',
      what: 'ft_started',
      call: (m) => m.ftStarted(),
      answers: { 'cuju-get-ft-started': 'ft_started: 1\r\n' },
      sent: ['cuju-get-ft-started'],
      result: true,
    },
    {
      method: 'ftRunning',
      what: 'asks cuju-get-ft-started',
      call: (m) => m.ftRunning(),
      answers: { 'cuju-get-ft-started': 'ft_started: 0\r\n' },
      sent: ['cuju-get-ft-started'],
      result: false,
    },
    {
      method: 'gftAddHost',
      what: 'no group FT',
      call: (m) => m.gftAddHost(HOST),
      sent: [],
      refused: unsupported('master', 'gft_add_host', ['groupft', 'blk-server']),
    },
    {
      method: 'gftAddHost2',
      what: 'no group FT',
      call: (m) => m.gftAddHost2({ ...HOST, slaveJoinPort: 5001 }),
      sent: [],
      refused: unsupported('master', 'gft_add_host2', ['groupft']),
    },
    {
      method: 'gftInit',
      what: 'no group FT',
      call: (m) => m.gftInit(),
      sent: [],
      refused: unsupported('master', 'gft_init', ['groupft', 'blk-server']),
    },
    {
      method: 'gftAddMember',
      what: 'no group FT',
      call: (m) => m.gftAddMember(MEMBER),
      sent: [],
      refused: unsupported('master', 'gft_add_member', ['groupft']),
    },
    {
      method: 'gftAddBackup',
      what: 'no group FT',
      call: (m) => m.gftAddBackup({ slaveIp: '192.168.111.2', slaveIncomingPort: 4444 }),
      sent: [],
      refused: unsupported('master', 'gft_add_backup', ['groupft']),
    },
    {
      method: 'gftMemberLiveMig',
      what: 'no group FT',
      call: (m) => m.gftMemberLiveMig({ host: '192.168.111.2', port: 4443 }),
      sent: [],
      refused: unsupported('master', 'gft_member_live_mig', ['groupft']),
    },
    {
      method: 'migratePause',
      what: 'no group FT',
      call: (m) => m.migratePause(),
      sent: [],
      refused: unsupported('master', 'migrate_pause', ['groupft']),
    },
    {
      method: 'migrateResume',
      what: 'no group FT',
      call: (m) => m.migrateResume(),
      sent: [],
      refused: unsupported('master', 'migrate_resume', ['groupft']),
    },
  ],
  groupft: [
    ...common(),
    {
      method: 'status',
      what: 'info status alone: nothing on stdout for it, unlike info migrate',
      call: (m) => m.status(),
      answers: { 'info status': 'VM status: running\r\n' },
      sent: ['info status'],
      result: { running: true, status: 'running', singlestep: false },
    },
    {
      method: 'info',
      what: 'GFT STATUS first',
      call: async (m) => (await m.info()).migrate,
      answers: { 'info status': 'VM status: running\r\n', 'info migrate': `GFT STATUS PRE\r\n${IN_FT}` },
      sent: ['info status', 'info migrate'],
      result: expect.objectContaining({ gftStatus: 'PRE', status: 'cancelled' }),
    },
    {
      method: 'cancelFt',
      what: 'master only',
      call: (m) => m.cancelFt(),
      sent: [],
      refused: unsupported('groupft', 'cuju-migrate-cancel', ['master']),
    },
    {
      method: 'failover',
      what: 'on a receiver that committed an epoch (its stdout said so)',
      call: (m) => m.failover(),
      seen: ['first commit'],
      sent: ['cuju-failover'],
    },
    {
      method: 'failover',
      what: 'refused when nothing says the receiver is in FT (and nothing can be asked)',
      call: (m) => m.failover(),
      sent: [],
      refused: unsafe('cuju-failover'),
    },
    {
      method: 'failover',
      what: 'refused after a takeover',
      call: (m) => m.failover(),
      seen: ['first commit', 'cuju_ft_trans_close', 'cuju_ft_trans_close vm_started.'],
      sent: [],
      refused: unsafe('cuju-failover'),
    },
    {
      method: 'ftMode',
      what: 'master only',
      call: (m) => m.ftMode(),
      sent: [],
      refused: unsupported('groupft', 'cuju-get-ft-mode', ['master']),
    },
    {
      method: 'ftStarted',
      what: 'master only',
      call: (m) => m.ftStarted(),
      sent: [],
      refused: unsupported('groupft', 'cuju-get-ft-started', ['master']),
    },
    {
      method: 'ftRunning',
      what: "reads Cuju's FT state in info migrate",
      call: (m) => m.ftRunning(),
      answers: { 'info migrate': `GFT STATUS PRE\r\n${IN_FT}` },
      sent: ['info migrate'],
      result: true,
    },
    {
      method: 'gftAddHost',
      what: 'add_host.sh',
      call: (m) => m.gftAddHost(HOST),
      sent: ['gft_add_host 0 192.168.111.1 5000 ae:ae:00:00:00:21 192.168.111.2 4441'],
    },
    {
      method: 'gftAddHost2',
      what: 'with the backup join port',
      call: (m) => m.gftAddHost2({ ...HOST, slaveJoinPort: 5001 }),
      sent: ['gft_add_host2 0 192.168.111.1 5000 ae:ae:00:00:00:21 192.168.111.2 4441 5001'],
    },
    { method: 'gftInit', what: 'gft_init.sh', call: (m) => m.gftInit(), sent: ['gft_init'] },
    {
      method: 'gftAddMember',
      what: 'gft_add_member.sh',
      call: (m) => m.gftAddMember(MEMBER),
      sent: ['gft_add_member 192.168.111.1 5004 ae:ae:00:00:00:23 192.168.111.2 4443'],
    },
    {
      method: 'gftAddBackup',
      what: 'auto_resync.sh',
      call: (m) => m.gftAddBackup({ slaveIp: '192.168.111.2', slaveIncomingPort: 4444 }),
      sent: ['gft_add_backup 192.168.111.2 4444'],
    },
    {
      method: 'gftMemberLiveMig',
      what: 'gft_member_live_mig.sh',
      call: (m) => m.gftMemberLiveMig({ host: '192.168.111.2', port: 4443 }),
      sent: ['gft_member_live_mig -d -c tcp:192.168.111.2:4443,'],
    },
    { method: 'migratePause', what: 'pause', call: (m) => m.migratePause(), sent: ['migrate_pause'] },
    { method: 'migrateResume', what: 'resume', call: (m) => m.migrateResume(), sent: ['migrate_resume'] },
  ],
  'blk-server': [
    ...common(),
    {
      method: 'status',
      what: 'info status alone',
      call: (m) => m.status(),
      answers: { 'info status': 'VM status: running\r\n' },
      sent: ['info status'],
      result: { running: true, status: 'running', singlestep: false },
    },
    {
      method: 'info',
      what: 'no GFT STATUS line',
      call: async (m) => (await m.info()).migrate,
      answers: { 'info status': 'VM status: running\r\n', 'info migrate': IN_FT },
      sent: ['info status', 'info migrate'],
      result: expect.not.objectContaining({ gftStatus: expect.anything() }),
    },
    {
      method: 'cancelFt',
      what: 'master only',
      call: (m) => m.cancelFt(),
      sent: [],
      refused: unsupported('blk-server', 'cuju-migrate-cancel', ['master']),
    },
    {
      method: 'failover',
      what: 'a print-only stub here, refused even on a receiver in FT',
      call: (m) => m.failover(),
      seen: ['first commit'],
      sent: [],
      refused: unsupported('blk-server', 'cuju-failover', ['master', 'groupft']),
    },
    {
      method: 'ftMode',
      what: 'master only',
      call: (m) => m.ftMode(),
      sent: [],
      refused: unsupported('blk-server', 'cuju-get-ft-mode', ['master']),
    },
    {
      method: 'ftStarted',
      what: 'master only',
      call: (m) => m.ftStarted(),
      sent: [],
      refused: unsupported('blk-server', 'cuju-get-ft-started', ['master']),
    },
    {
      method: 'ftRunning',
      what: "reads Cuju's FT state in info migrate",
      call: (m) => m.ftRunning(),
      answers: { 'info migrate': `${CAPS}Migration status: failed\r\ntotal time: 0 milliseconds\r\n` },
      sent: ['info migrate'],
      result: false,
    },
    {
      method: 'gftAddHost',
      what: 'the older group FT has it',
      call: (m) => m.gftAddHost(HOST),
      sent: ['gft_add_host 0 192.168.111.1 5000 ae:ae:00:00:00:21 192.168.111.2 4441'],
    },
    { method: 'gftInit', what: 'the older group FT has it', call: (m) => m.gftInit(), sent: ['gft_init'] },
    {
      method: 'gftAddHost2',
      what: 'groupft only',
      call: (m) => m.gftAddHost2({ ...HOST, slaveJoinPort: 5001 }),
      sent: [],
      refused: unsupported('blk-server', 'gft_add_host2', ['groupft']),
    },
    {
      method: 'gftAddMember',
      what: 'groupft only',
      call: (m) => m.gftAddMember(MEMBER),
      sent: [],
      refused: unsupported('blk-server', 'gft_add_member', ['groupft']),
    },
    {
      method: 'gftAddBackup',
      what: 'groupft only',
      call: (m) => m.gftAddBackup({ slaveIp: '192.168.111.2', slaveIncomingPort: 4444 }),
      sent: [],
      refused: unsupported('blk-server', 'gft_add_backup', ['groupft']),
    },
    {
      method: 'gftMemberLiveMig',
      what: 'groupft only',
      call: (m) => m.gftMemberLiveMig({ host: '192.168.111.2', port: 4443 }),
      sent: [],
      refused: unsupported('blk-server', 'gft_member_live_mig', ['groupft']),
    },
    {
      method: 'migratePause',
      what: 'groupft only',
      call: (m) => m.migratePause(),
      sent: [],
      refused: unsupported('blk-server', 'migrate_pause', ['groupft']),
    },
    {
      method: 'migrateResume',
      what: 'groupft only',
      call: (m) => m.migrateResume(),
      sent: [],
      refused: unsupported('blk-server', 'migrate_resume', ['groupft']),
    },
  ],
};

/** The public methods a table must cover (the prototype's, less the constructor and internals). */
const PUBLIC_METHODS = Object.getOwnPropertyNames(CujuMonitor.prototype).filter(
  (n) =>
    n !== 'constructor' &&
    typeof Object.getOwnPropertyDescriptor(CujuMonitor.prototype, n)?.value === 'function' &&
    !['isPrimary', 'know', 'require', 'supported', 'send', 'quiet', 'detectBuild', 'observe'].includes(n),
);

let monitors: CujuMonitor[] = [];
afterEach(() => {
  // A table row may leave its endpoint recorded as in FT; each row had its own endpoint.
  for (const m of monitors) cujuFtRegistry.clearFt(m.endpoint);
  monitors = [];
});

function monitorFor(build: CujuBuildName, row: Row, n: number) {
  const hmp = new RecordingHmp((line) => row.answers?.[line] ?? '', `recording:${build}:${n}`);
  const monitor = new CujuMonitor(hmp, { build });
  monitors.push(monitor);
  for (const line of row.seen ?? []) monitor.observe(line);
  return { hmp, monitor };
}

describe.each(CUJU_BUILD_NAMES)(
  'CujuMonitor on the %s build: every method, the exact line or the refusal',
  (build) => {
    it('the table covers every public method', () => {
      const covered = new Set(TABLE[build].map((r) => r.method));
      expect(PUBLIC_METHODS.filter((m) => !covered.has(m as keyof CujuMonitor))).toEqual([]);
    });

    it.each(TABLE[build].map((row, n) => [`${row.method}: ${row.what}`, row, n] as const))(
      '%s',
      async (_name, row, n) => {
        const { hmp, monitor } = monitorFor(build, row, n);
        const outcome = await row.call(monitor).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        expect(hmp.sent).toEqual(row.sent);
        if (row.refused) {
          expect('error' in outcome && outcome.error).toBeInstanceOf(row.refused.type);
          expect((outcome as { error: unknown }).error).toMatchObject(row.refused.fields);
        } else {
          if ('error' in outcome) throw outcome.error;
          if ('result' in row) expect(outcome.value).toEqual(row.result);
        }
      },
    );
  },
);

describe('the refusal names the build and the builds that have the command', () => {
  it('says which build to use', async () => {
    const monitor = new CujuMonitor(new RecordingHmp(), { build: 'groupft' });
    await expect(monitor.cancelFt()).rejects.toThrow(
      "'cuju-migrate-cancel' is not usable on the groupft build; master has it",
    );
    const blk = new CujuMonitor(new RecordingHmp(), { build: 'blk-server' });
    await expect(blk.failover()).rejects.toThrow(
      "'cuju-failover' is not usable on the blk-server build (a stub that only prints qmp_cuju_failover, cuju-kvm-share-mem.c@4b17b51:135-139); master, groupft have it",
    );
  });
});

describe('the build, given or detected', () => {
  it.each(CUJU_BUILD_NAMES)(
    "detects %s from what its `help` prints (cuju-sim's table of that build)",
    async (build) => {
      const text = helpText(HMP_TABLES[build]).replace(/\n/g, '\r\n');
      expect(detectBuildFromHelp(text)).toBe(build);
      const hmp = new RecordingHmp((line) => (line === 'help' ? text : ''));
      const monitor = new CujuMonitor(hmp);
      expect(monitor.build).toBeUndefined();
      await monitor.enableFt();
      // `help` first (it changes nothing in the VM), then the command; the build is known from then on.
      expect(hmp.sent).toEqual(['help', 'migrate_set_capability cuju-ft on']);
      expect(monitor.build?.name).toBe(build);
      await monitor.disableFt();
      expect(hmp.sent).toHaveLength(3);
    },
  );

  it('refuses an unknown monitor (no Cuju command in its help) with CujuBuildDetectError, sending nothing else', async () => {
    const upstream =
      'help|? [cmd] -- show the help\r\nmigrate [-d] [-b] [-i] uri -- migrate to URI\r\nq|quit  -- quit the emulator\r\n';
    const hmp = new RecordingHmp((line) => (line === 'help' ? upstream : ''));
    const monitor = new CujuMonitor(hmp);
    await expect(monitor.startFt({ host: '192.168.111.2', port: 4441 })).rejects.toBeInstanceOf(
      CujuBuildDetectError,
    );
    expect(hmp.sent).toEqual(['help']);
  });

  it('takes a given build without asking', async () => {
    const hmp = new RecordingHmp();
    const monitor = new CujuMonitor(hmp, { build: 'master' });
    expect(monitor.build?.commit).toBe('21f9f0b');
    await monitor.adjustEpoch(1000);
    expect(hmp.sent).toEqual(['cuju-adjust-epoch 1000']);
  });
});

describe('every method checks its arguments at run time, before sending anything', () => {
  const calls: Array<[string, (m: CujuMonitor) => Promise<unknown>, string]> = [
    ['startFt(null)', (m) => m.startFt(null as never), 'target'],
    ['startFt without port', (m) => m.startFt({ host: '192.168.111.2' } as never), 'target.port'],
    [
      'startFt detach "yes"',
      (m) => m.startFt({ host: '192.168.111.2', port: 1, detach: 'yes' as never }),
      'target.detach',
    ],
    ['adjustEpoch("5000")', (m) => m.adjustEpoch('5000' as never), 'epoch'],
    ['gftAddHost(undefined)', (m) => m.gftAddHost(undefined as never), 'host'],
    ['gftAddHost2 without slaveJoinPort', (m) => m.gftAddHost2(HOST as never), 'host.slaveJoinPort'],
    ['gftAddMember(null)', (m) => m.gftAddMember(null as never), 'member'],
    ['gftAddMember bad MAC', (m) => m.gftAddMember({ ...MEMBER, masterMac: 'ae:ae' }), 'member.masterMac'],
    ['gftAddBackup(null)', (m) => m.gftAddBackup(null as never), 'backup'],
    ['gftMemberLiveMig(5)', (m) => m.gftMemberLiveMig(5 as never), 'target'],
    ['enableFt("now")', (m) => m.enableFt('now' as never), 'options'],
    ['info({ timeoutMs: -1 })', (m) => m.info({ timeoutMs: -1 }), 'options.timeoutMs'],
    ['failover({ signal: 1 })', (m) => m.failover({ signal: 1 as never }), 'options.signal'],
    ['ftMode([])', (m) => m.ftMode([] as never), 'options'],
    ['cancelFt(7)', (m) => m.cancelFt(7 as never), 'options'],
  ];

  it.each(calls)('%s', async (_what, call, field) => {
    const hmp = new RecordingHmp();
    const monitor = new CujuMonitor(hmp, { build: 'groupft' });
    await expect(call(monitor)).rejects.toMatchObject({ code: 'CUJU_INVALID_ARGUMENT', field });
    await expect(call(monitor)).rejects.toBeInstanceOf(CujuArgumentError);
    expect(hmp.sent).toEqual([]);
  });

  it('the constructor and connect check theirs', async () => {
    expect(() => new CujuMonitor(null as never)).toThrow(CujuArgumentError);
    expect(() => new CujuMonitor(new RecordingHmp(), { build: 'watchdog' as never })).toThrow(
      'options.build must be one of master, groupft, blk-server',
    );
    await expect(CujuMonitor.connect(null as never)).rejects.toMatchObject({ field: 'target' });
    await expect(CujuMonitor.connect({ hmp: { path: '/nonexistent' } }, 'x' as never)).rejects.toMatchObject({
      field: 'options',
    });
  });
});
