import { describe, expect, it } from 'vitest';
// cuju-sim prints the same strings as Cuju; the parser must read every one of them.
import { MARKERS } from '../../cuju-sim/src/stdout.js';
import {
  CujuError,
  FtAckError,
  GftAlreadyStartedError,
  GftBadMacError,
  GftInitAckError,
  GftLeaderConnectError,
  GftMemberConnectError,
  MigrationLoadError,
  QemuReportedError,
} from '../src/errors.js';
import { type CujuMarker, type CujuMarkerKind, markerError, parseMarker } from '../src/markers.js';

// Reference §7 (and §2.2, §6), verbatim; `<...>` filled with the values Cuju would print.
const reference: Array<[string, CujuMarker]> = [
  ['VM init finished', { kind: 'vm-init-finished' }],
  ['set fd 23 to 1', { kind: 'set-fd', fd: 23, value: 1 }],
  ['set fd 7 to 0', { kind: 'set-fd', fd: 7, value: 0 }],
  ['new epoch size is 5000 ms.', { kind: 'epoch-size', value: 5000 }],
  ['Enter FT mode', { kind: 'enter-ft-mode' }],
  ['migrate_timer tick 0', { kind: 'timer-tick', count: 0 }],
  ['migrate_timer tick 128', { kind: 'timer-tick', count: 128 }],
  ['wait for other migrations..', { kind: 'gft-wait-others' }],
  ['in func qmp_query_migrate', { kind: 'query-migrate' }],
  ['migrate_fd_close skip close socket 31 in ft mode', { kind: 'migrate-fd-close-skip', fd: 31 }],
  ['enter cuju FT mode (incoming)', { kind: 'ft-incoming' }],
  ['first commit', { kind: 'first-commit' }],
  ['cuju_ft_trans_close', { kind: 'ft-trans-close' }],
  ['cuju_ft_trans_close vm_started.', { kind: 'failover-vm-started' }],
  ['cuju_ft_trans_read_pages: disconn', { kind: 'read-pages-disconn' }],
  ['qmp_cuju_failover', { kind: 'failover-stub' }],
  [
    'qmp_gft_add_host failed since gft already started.',
    { kind: 'gft-add-host-started', command: 'gft_add_host' },
  ],
  ['qmp_gft_add_host bad mac.', { kind: 'gft-add-host-bad-mac', command: 'gft_add_host' }],
  [
    'qmp_gft_leader_init error connect to 192.168.111.1:5002.',
    { kind: 'gft-leader-connect-error', target: '192.168.111.1:5002' },
  ],
  [
    'qmp_gft_leader_init failed to receive MIG_JOIN_GFT_INIT_ACK from 192.168.111.1:5004.',
    { kind: 'gft-init-ack-missing', target: '192.168.111.1:5004' },
  ],
  ['hmp_gft_add_member add host finish', { kind: 'gft-add-member-finished', by: 'hmp' }],
  ['gft_reset_all', { kind: 'gft-reset-all' }],
  ['Cuju WDT: ping 8.8.8.8 failed', { kind: 'watchdog', message: 'ping 8.8.8.8 failed' }],
  [
    'qemu-system-x86_64: load of migration failed: Invalid argument',
    { kind: 'migration-load-failed', reason: 'Invalid argument' },
  ],
  [
    'qemu-system-x86_64: -incoming tcp:0:4441,ft_mode: Failed to bind socket: Address already in use',
    {
      kind: 'qemu-error',
      message: '-incoming tcp:0:4441,ft_mode: Failed to bind socket: Address already in use',
    },
  ],
  ['qemu-system-x86_64: recv header failed', { kind: 'qemu-error', message: 'recv header failed' }],
];

// Same-shaped lines found in Cuju's source (migration.c @2757a9a, cuju-ft-trans-file.c).
const source: Array<[string, CujuMarker]> = [
  ['in func qmp_query_migrate ', { kind: 'query-migrate' }], // printf("in func %s \n", __func__)
  [
    'qmp_gft_add_host2 failed since gft already started.',
    { kind: 'gft-add-host-started', command: 'gft_add_host2' },
  ],
  ['qmp_gft_add_host2 bad mac.', { kind: 'gft-add-host-bad-mac', command: 'gft_add_host2' }],
  [
    'gft_master_connect_other_master error connect to 10.0.0.3:5004.',
    { kind: 'gft-member-connect-error', target: '10.0.0.3:5004' },
  ],
  ['migrate_run add host finish', { kind: 'gft-add-member-finished', by: 'resync' }],
  ['migrate_ft_trans_get_ready sender receive ACK failed.', { kind: 'ft-ack-failed', ack: 'ACK' }],
  ['migrate_ft_trans_get_ready sender receive ACK1 failed.', { kind: 'ft-ack-failed', ack: 'ACK1' }],
  ['cuju_ft_trans_read_headers: disconn', { kind: 'read-headers-disconn' }],
  ['client_ret:-1', { kind: 'blk-client-ret', value: -1 }],
  ['client_ret:0', { kind: 'blk-client-ret', value: 0 }],
  ['set fd -1 to 0', { kind: 'set-fd', fd: -1, value: 0 }],
  [
    "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.80000001H:ECX.svm [bit 2]",
    {
      kind: 'qemu-warning',
      message: "warning: host doesn't support requested feature: CPUID.80000001H:ECX.svm [bit 2]",
    },
  ],
  [
    "warning: host doesn't support requested feature: CPUID.01H:ECX.vmx [bit 5]",
    {
      kind: 'qemu-warning',
      message: "warning: host doesn't support requested feature: CPUID.01H:ECX.vmx [bit 5]",
    },
  ],
  [
    'qemu-system-i386: load of migration failed: Input/output error',
    { kind: 'migration-load-failed', reason: 'Input/output error' },
  ],
];

describe('parseMarker', () => {
  it.each(reference)('reads the reference line %j', (line, marker) => {
    expect(parseMarker(line)).toEqual(marker);
  });

  it.each(source)("reads Cuju's line %j", (line, marker) => {
    expect(parseMarker(line)).toEqual(marker);
  });

  it('ignores a line end and trailing whitespace', () => {
    for (const end of ['\r', '\n', '\r\n', ' ', ' \r\n', '\t']) {
      expect(parseMarker(`first commit${end}`)).toEqual({ kind: 'first-commit' });
      expect(parseMarker(`migrate_timer tick 64${end}`)).toEqual({ kind: 'timer-tick', count: 64 });
    }
  });

  it('keeps `cuju_ft_trans_close` and `cuju_ft_trans_close vm_started.` apart', () => {
    expect(parseMarker('cuju_ft_trans_close')?.kind).toBe('ft-trans-close');
    expect(parseMarker('cuju_ft_trans_close vm_started.')?.kind).toBe('failover-vm-started');
  });

  it('gives undefined for other lines', () => {
    const others = [
      '',
      '\r',
      ' ',
      ' first commit', // exact: no leading text
      'first commit!',
      'First commit',
      'Enter FT mode now',
      'enter cuju ft mode (incoming)',
      'VM init finished.',
      'cuju_ft_trans_close vm_started',
      'set fd x to 1',
      'set fd 3 to 2',
      'set fd 3 to 1 extra',
      'new epoch size is 5000 us.',
      'new epoch size is -1 ms.',
      'migrate_timer tick',
      'migrate_timer tick 1x',
      'qmp_gft_leader_init error connect to .',
      'qmp_gft_leader_init error connect to 1.2.3.4:5000',
      'qmp_gft_add_host3 bad mac.',
      'client_ret: 0',
      "QEMU 2.8.1 monitor - type 'help' for more information",
      '(qemu) ',
      'migrate_set_capability cuju-ft on',
      'qemu-system-x86_64 load of migration failed',
      'Migration_Paused, return!!',
      'Cuju WDT:missing space',
    ];
    for (const line of others) expect(parseMarker(line), JSON.stringify(line)).toBeUndefined();
  });

  it("reads every line cuju-sim prints (the simulator's MARKERS, each key listed)", () => {
    const printed: Record<keyof typeof MARKERS, [string, CujuMarkerKind]> = {
      vmInitFinished: [MARKERS.vmInitFinished, 'vm-init-finished'],
      enterFtMode: [MARKERS.enterFtMode, 'enter-ft-mode'],
      enterFtIncoming: [MARKERS.enterFtIncoming, 'ft-incoming'],
      firstCommit: [MARKERS.firstCommit, 'first-commit'],
      transClose: [MARKERS.transClose, 'ft-trans-close'],
      transCloseStarted: [MARKERS.transCloseStarted, 'failover-vm-started'],
      newEpoch: [MARKERS.newEpoch(5000), 'epoch-size'],
      timerTick: [MARKERS.timerTick(64), 'timer-tick'],
      waitOthers: [MARKERS.waitOthers, 'gft-wait-others'],
      queryMigrate: [MARKERS.queryMigrate, 'query-migrate'],
      addHostStarted: [MARKERS.addHostStarted, 'gft-add-host-started'],
      addHostBadMac: [MARKERS.addHostBadMac, 'gft-add-host-bad-mac'],
      leaderConnectError: [MARKERS.leaderConnectError('127.0.0.1:5002'), 'gft-leader-connect-error'],
      addMemberFinish: [MARKERS.addMemberFinish, 'gft-add-member-finished'],
      resetAll: [MARKERS.resetAll, 'gft-reset-all'],
      failoverStub: [MARKERS.failoverStub, 'failover-stub'],
      readPagesDisconn: [MARKERS.readPagesDisconn, 'read-pages-disconn'],
    };
    for (const [key, [line, kind]] of Object.entries(printed))
      expect(parseMarker(line)?.kind, key).toBe(kind);
  });

  it('returns a fresh object each time', () => {
    const first = parseMarker('first commit');
    if (first) Object.assign(first, { kind: 'mutated' });
    expect(parseMarker('first commit')).toEqual({ kind: 'first-commit' });
  });
});

describe('markerError', () => {
  const errors: Array<[string, new (...args: never[]) => CujuError, string, Record<string, unknown>]> = [
    ['qmp_gft_add_host bad mac.', GftBadMacError, 'CUJU_GFT_BAD_MAC', { command: 'gft_add_host' }],
    ['qmp_gft_add_host2 bad mac.', GftBadMacError, 'CUJU_GFT_BAD_MAC', { command: 'gft_add_host2' }],
    [
      'qmp_gft_add_host failed since gft already started.',
      GftAlreadyStartedError,
      'CUJU_GFT_ALREADY_STARTED',
      { command: 'gft_add_host' },
    ],
    [
      'qmp_gft_leader_init error connect to 192.168.111.1:5002.',
      GftLeaderConnectError,
      'CUJU_GFT_LEADER_CONNECT_FAILED',
      { target: '192.168.111.1:5002' },
    ],
    [
      'gft_master_connect_other_master error connect to 10.0.0.3:5004.',
      GftMemberConnectError,
      'CUJU_GFT_MEMBER_CONNECT_FAILED',
      { target: '10.0.0.3:5004' },
    ],
    [
      'qmp_gft_leader_init failed to receive MIG_JOIN_GFT_INIT_ACK from 192.168.111.1:5004.',
      GftInitAckError,
      'CUJU_GFT_INIT_ACK_MISSING',
      { target: '192.168.111.1:5004' },
    ],
    [
      'migrate_ft_trans_get_ready sender receive ACK1 failed.',
      FtAckError,
      'CUJU_FT_ACK_FAILED',
      { ack: 'ACK1' },
    ],
    [
      'qemu-system-x86_64: load of migration failed: Invalid argument',
      MigrationLoadError,
      'CUJU_MIGRATION_LOAD_FAILED',
      { reason: 'Invalid argument' },
    ],
    [
      'qemu-system-x86_64: recv header failed',
      QemuReportedError,
      'CUJU_QEMU_ERROR',
      { qemuMessage: 'recv header failed' },
    ],
  ];

  it.each(errors)('maps %j to its class', (line, type, code, fields) => {
    const marker = parseMarker(line);
    if (marker === undefined) throw new Error(`${line} was not read as a marker`);
    const error = markerError(marker);
    expect(error).toBeInstanceOf(type);
    expect(error).toBeInstanceOf(CujuError);
    expect(error?.code).toBe(code);
    expect(error?.name).toBe(type.name);
    expect(error).toMatchObject(fields);
    for (const value of Object.values(fields)) expect(error?.message).toContain(String(value));
  });

  it('gives undefined for progress, failover and warnings', () => {
    const notErrors = [...reference, ...source]
      .map(([, marker]) => marker)
      .filter(
        (m) =>
          ![
            'gft-add-host-started',
            'gft-add-host-bad-mac',
            'gft-leader-connect-error',
            'gft-member-connect-error',
            'gft-init-ack-missing',
            'ft-ack-failed',
            'migration-load-failed',
            'qemu-error',
          ].includes(m.kind),
      );
    expect(notErrors.map((m) => m.kind)).toEqual(
      expect.arrayContaining([
        'first-commit',
        'ft-trans-close',
        'failover-vm-started',
        'read-pages-disconn',
        'qemu-warning',
      ]),
    );
    for (const marker of notErrors) expect(markerError(marker), marker.kind).toBeUndefined();
  });
});
