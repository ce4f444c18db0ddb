import { describe, expect, it } from 'vitest';
import { type HmpArgs, helpText, parseHmpCommandLine } from '../src/hmp-parse.js';
import { findHmpCommand, HMP_INFO_COMMANDS, HMP_TABLES, type HmpCommandDef } from '../src/hmp-table.js';

/**
 * The three builds' tables together: the parser's behaviour does not depend on the build,
 * only which names exist does (builds.test.ts checks each build's table).
 */
const ALL: readonly HmpCommandDef[] = [
  ...new Map(Object.values(HMP_TABLES).flatMap((t) => t.map((d) => [d.name, d] as const))).values(),
];

/** What handle_hmp_command() appends to every argument error. */
const tryHelp = (name: string): string => `Try "help ${name}" for more information\n`;

const IP1 = '192.168.111.1';
const IP2 = '192.168.111.2';
const MAC = 'ae:ae:00:00:00:21';

describe('hmp table', () => {
  // Reference §2.1: every args_type exactly.
  it.each([
    ['migrate', 'detach:-d,blk:-b,inc:-i,cuju:-c,uri:s', '[-d] [-b] [-i] [-c] uri'],
    ['migrate_set_capability', 'capability:s,state:b', 'capability state'],
    ['cuju-failover', '', ''],
    ['cuju-adjust-epoch', 'epoch:i', 'epoch'],
    [
      'gft_add_host',
      'gft_id:i,master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i',
      'gft_id master_host_ip master_host_gft_port master_mac slave_host_ip slave_host_ft_port',
    ],
    [
      'gft_add_host2',
      'gft_id:i,master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i,slave_host_join_port:i',
      'gft_id master_host_ip master_host_gft_port master_mac slave_host_ip slave_host_ft_port slave_host_join_port',
    ],
    ['gft_init', '', ''],
    [
      'gft_add_member',
      'master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i',
      'master_host_ip master_host_gft_port master_mac slave_host_ip slave_host_ft_port',
    ],
    ['gft_add_backup', 'slave_host_ip:s,slave_incoming_port:i', 'slave_host_ip slave_incoming_port'],
    ['gft_member_live_mig', 'detach:-d,blk:-b,inc:-i,cuju:-c,uri:s', '[-d] [-b] [-i] [-c] uri'],
    ['migrate_pause', '', ''],
    ['migrate_resume', '', ''],
    ['info_migrate', '', ''],
    ['cuju-migrate-cancel', '', ''],
    ['help', 'name:S?', '[cmd]'],
    ['info', 'item:s?', '[subcommand]'],
  ])('%s has args_type %j', (name, argsType, params) => {
    const def = findHmpCommand(name, ALL);
    expect(def?.argsType).toBe(argsType);
    expect(def?.params).toBe(params);
  });

  it('keeps the aliases QEMU has', () => {
    expect(findHmpCommand('c', ALL)?.name).toBe('c|cont');
    expect(findHmpCommand('q', ALL)?.name).toBe('q|quit');
    expect(findHmpCommand('?', ALL)?.name).toBe('help|?');
  });

  it('has the info subcommands cuju-sim implements', () => {
    expect(HMP_INFO_COMMANDS.map((c) => c.name).sort()).toEqual([
      'kvm',
      'migrate',
      'migrate_capabilities',
      'name',
      'status',
      'version',
    ]);
  });
});

describe('parseHmpCommandLine: accepted', () => {
  const cases: Array<[string, string, HmpArgs]> = [
    // seed scripts and README
    ['migrate -c tcp:192.168.111.2:4441', 'migrate', { cuju: true, uri: `tcp:${IP2}:4441` }],
    [
      'migrate -d -c tcp:192.168.111.2:4441,',
      'migrate',
      { detach: true, cuju: true, uri: `tcp:${IP2}:4441,` },
    ],
    ['migrate tcp:192.168.111.2:4441', 'migrate', { uri: `tcp:${IP2}:4441` }],
    [
      'migrate -d -b -i -c tcp:h:1',
      'migrate',
      { detach: true, blk: true, inc: true, cuju: true, uri: 'tcp:h:1' },
    ],
    // is_valid_option: a later flag's letter is skipped over, and no space is needed after a flag.
    ['migrate -ctcp:h:1', 'migrate', { cuju: true, uri: 'tcp:h:1' }],
    // '/' ends a command name: the rest is the argument text.
    ['migrate/tcp:h:1', 'migrate', { uri: '/tcp:h:1' }],
    [
      'gft_member_live_mig -d -c tcp:192.168.111.2:4441,',
      'gft_member_live_mig',
      { detach: true, cuju: true, uri: `tcp:${IP2}:4441,` },
    ],
    [
      `gft_add_host 0 ${IP1} 5000 ${MAC} ${IP2} 4441`,
      'gft_add_host',
      {
        gft_id: 0,
        master_host_ip: IP1,
        master_host_gft_port: 5000,
        master_mac: MAC,
        slave_host_ip: IP2,
        slave_host_ft_port: 4441,
      },
    ],
    [
      `gft_add_host2 1 ${IP1} 5000 ${MAC} ${IP2} 4441 5001`,
      'gft_add_host2',
      {
        gft_id: 1,
        master_host_ip: IP1,
        master_host_gft_port: 5000,
        master_mac: MAC,
        slave_host_ip: IP2,
        slave_host_ft_port: 4441,
        slave_host_join_port: 5001,
      },
    ],
    [
      `gft_add_member ${IP1} 5000 ${MAC} ${IP2} 4441`,
      'gft_add_member',
      {
        master_host_ip: IP1,
        master_host_gft_port: 5000,
        master_mac: MAC,
        slave_host_ip: IP2,
        slave_host_ft_port: 4441,
      },
    ],
    [
      'gft_add_backup 192.168.111.3 4441',
      'gft_add_backup',
      { slave_host_ip: '192.168.111.3', slave_incoming_port: 4441 },
    ],
    ['migrate_set_capability cuju-ft on', 'migrate_set_capability', { capability: 'cuju-ft', state: true }],
    ['migrate_set_capability cuju-ft off', 'migrate_set_capability', { capability: 'cuju-ft', state: false }],
    // unknown capability names are the handler's business ("Invalid parameter 'x'"), not the parser's
    ['migrate_set_capability nonsense on', 'migrate_set_capability', { capability: 'nonsense', state: true }],
    [
      'migrate_set_parameter downtime-limit 300',
      'migrate_set_parameter',
      { parameter: 'downtime-limit', value: '300' },
    ],
    // get_expr()
    ['cuju-adjust-epoch 5000', 'cuju-adjust-epoch', { epoch: 5000 }],
    ['cuju-adjust-epoch 1000*5', 'cuju-adjust-epoch', { epoch: 5000 }],
    ['cuju-adjust-epoch 1000 * 5', 'cuju-adjust-epoch', { epoch: 5000 }],
    ['cuju-adjust-epoch 0x10', 'cuju-adjust-epoch', { epoch: 16 }],
    ['cuju-adjust-epoch 0X1f', 'cuju-adjust-epoch', { epoch: 31 }],
    ['cuju-adjust-epoch 010', 'cuju-adjust-epoch', { epoch: 8 }],
    ['cuju-adjust-epoch (1+2)*3', 'cuju-adjust-epoch', { epoch: 9 }],
    ['cuju-adjust-epoch 1+2*3', 'cuju-adjust-epoch', { epoch: 7 }],
    ['cuju-adjust-epoch 7 % 4', 'cuju-adjust-epoch', { epoch: 3 }],
    ['cuju-adjust-epoch 7/2', 'cuju-adjust-epoch', { epoch: 3 }],
    ['cuju-adjust-epoch ~0 & 0xff', 'cuju-adjust-epoch', { epoch: 255 }],
    ['cuju-adjust-epoch 1|6^3', 'cuju-adjust-epoch', { epoch: 4 }],
    ["cuju-adjust-epoch 'a'", 'cuju-adjust-epoch', { epoch: 97 }],
    ['cuju-adjust-epoch --5', 'cuju-adjust-epoch', { epoch: 5 }],
    // whitespace ends nothing in an expression: "5 -3" is one expression
    ['cuju-adjust-epoch 5 -3', 'cuju-adjust-epoch', { epoch: 2 }],
    ['cuju-adjust-epoch 4294967295', 'cuju-adjust-epoch', { epoch: 4294967295 }],
    ['cuju-adjust-epoch 0xffffffff', 'cuju-adjust-epoch', { epoch: 0xffffffff }],
    // as deep as a 4095-byte readline line allows
    [`cuju-adjust-epoch ${'('.repeat(2030)}7${')'.repeat(2030)}`, 'cuju-adjust-epoch', { epoch: 7 }],
    [`cuju-adjust-epoch ${'-'.repeat(4000)}7`, 'cuju-adjust-epoch', { epoch: 7 }],
    // no-argument commands, aliases, whitespace
    ['cuju-failover', 'cuju-failover', {}],
    ['cuju-migrate-cancel', 'cuju-migrate-cancel', {}],
    ['cuju-get-ft-mode', 'cuju-get-ft-mode', {}],
    ['cuju-get-ft-started', 'cuju-get-ft-started', {}],
    ['gft_init', 'gft_init', {}],
    ['migrate_pause', 'migrate_pause', {}],
    ['migrate_resume', 'migrate_resume', {}],
    ['info_migrate', 'info_migrate', {}],
    ['stop', 'stop', {}],
    ['  stop \t ', 'stop', {}],
    ['c', 'cont', {}],
    ['cont', 'cont', {}],
    ['q', 'quit', {}],
    ['quit', 'quit', {}],
    ['help', 'help', {}],
    ['?', 'help', {}],
    ['help migrate', 'help', { name: 'migrate' }],
    // 'S' takes the rest of the line as it is, trailing spaces included
    ['help info  status ', 'help', { name: 'info  status ' }],
    ['info', 'info', {}],
    ['info   ', 'info', {}],
  ];
  it.each(cases)('%j', (line, name, args) => {
    expect(parseHmpCommandLine(line, ALL)).toEqual({ kind: 'command', name, args });
  });

  it.each([
    ['info status', 'status'],
    ['info migrate', 'migrate'],
    ['info migrate_capabilities', 'migrate_capabilities'],
    ['  info   version  ', 'version'],
    ['info kvm', 'kvm'],
    ['info name', 'name'],
  ])('%j is an info subcommand', (line, item) => {
    expect(parseHmpCommandLine(line, ALL)).toEqual({ kind: 'info', item, args: {} });
  });

  it.each(['', '   ', '\t', '\0stop'])('%j is empty', (line) => {
    expect(parseHmpCommandLine(line, ALL)).toEqual({ kind: 'empty' });
  });

  it('stops at a NUL as the C string does', () => {
    expect(parseHmpCommandLine('stop\0garbage', ALL)).toEqual({ kind: 'command', name: 'stop', args: {} });
  });

  describe('quoted strings (get_str)', () => {
    it.each([
      ['migrate "tcp:h:1"', 'tcp:h:1'],
      ['migrate "a b"', 'a b'],
      ['migrate "a\\"b"', 'a"b'],
      ['migrate "a\\\'b"', "a'b"],
      ['migrate "a\\\\b"', 'a\\b'],
      ['migrate "x\\ny\\r"', 'x\ny\r'],
      ['migrate ""', ''],
      // only a leading quote starts a quoted string
      ['migrate a"b', 'a"b'],
      ['migrate "é"', 'é'],
    ])('%j gives uri %j', (line, uri) => {
      expect(parseHmpCommandLine(line, ALL)).toEqual({ kind: 'command', name: 'migrate', args: { uri } });
    });

    it('cuts strings at get_str’s 1024-byte buffer (1023 bytes kept)', () => {
      const r = parseHmpCommandLine(`migrate ${'a'.repeat(2000)}`, ALL);
      expect(r).toEqual({ kind: 'command', name: 'migrate', args: { uri: 'a'.repeat(1023) } });
    });

    it('continues right after a closing quote', () => {
      expect(parseHmpCommandLine('gft_add_backup "1.2.3.4"5', ALL)).toEqual({
        kind: 'command',
        name: 'gft_add_backup',
        args: { slave_host_ip: '1.2.3.4', slave_incoming_port: 5 },
      });
    });
  });
});

describe('parseHmpCommandLine: rejected, with QEMU 2.8’s exact output', () => {
  const cases: Array<[string, string, string?]> = [
    ['foo', "unknown command: 'foo'\n"],
    ['foo bar', "unknown command: 'foo'\n"],
    // the echo starts at the beginning of the line, leading spaces included
    ['  foo bar', "unknown command: '  foo'\n"],
    ['system_reset', "unknown command: 'system_reset'\n"],
    ['STOP', "unknown command: 'STOP'\n"],
    ['sto', "unknown command: 'sto'\n"],
    // in the info table the echo starts at the subcommand
    ['info foo', "unknown command: 'foo'\n"],
    ['info  foo bar', "unknown command: 'foo'\n"],
    // 's'
    ['migrate', `migrate: string expected\n${tryHelp('migrate')}`],
    ['migrate -d -c', `migrate: string expected\n${tryHelp('migrate')}`],
    ['gft_member_live_mig -c', `gft_member_live_mig: string expected\n${tryHelp('gft_member_live_mig')}`],
    [
      'migrate_set_capability',
      `migrate_set_capability: string expected\n${tryHelp('migrate_set_capability')}`,
    ],
    ['migrate "tcp:h:1', `migrate: string expected\n${tryHelp('migrate')}`, 'unterminated string\n'],
    [
      'migrate "a\\qb"',
      `migrate: string expected\n${tryHelp('migrate')}`,
      "unsupported escape code: '\\q'\n",
    ],
    ['migrate "a\\', `migrate: string expected\n${tryHelp('migrate')}`, "unsupported escape code: '\\\0'\n"],
    // flags
    ['migrate -x tcp:h:1', `migrate: unsupported option -x\n${tryHelp('migrate')}`],
    ['migrate -d -d tcp:h:1', `migrate: unsupported option -d\n${tryHelp('migrate')}`],
    ['migrate -dc tcp:h:1', `migrate: extraneous characters at the end of line\n${tryHelp('migrate')}`],
    // flags must come in args_type order: "-c -d uri" makes "-d" the uri
    ['migrate -c -d tcp:h:1', `migrate: extraneous characters at the end of line\n${tryHelp('migrate')}`],
    // "-" alone: '%c' of the NUL cuts the message, newline included
    ['migrate -', `migrate: unsupported option -${tryHelp('migrate')}`],
    ['migrate - tcp:h:1', `migrate: unsupported option - \n${tryHelp('migrate')}`],
    ['migrate tcp:h:1 extra', `migrate: extraneous characters at the end of line\n${tryHelp('migrate')}`],
    // 'b'
    ['migrate_set_capability cuju-ft', `Expected 'on' or 'off'\n${tryHelp('migrate_set_capability')}`],
    ['migrate_set_capability cuju-ft yes', `Expected 'on' or 'off'\n${tryHelp('migrate_set_capability')}`],
    ['migrate_set_capability cuju-ft ON', `Expected 'on' or 'off'\n${tryHelp('migrate_set_capability')}`],
    ['migrate_set_capability cuju-ft true', `Expected 'on' or 'off'\n${tryHelp('migrate_set_capability')}`],
    ['migrate_set_capability cuju-ft on,', `Expected 'on' or 'off'\n${tryHelp('migrate_set_capability')}`],
    ['migrate_set_capability cuju-ft 1', `Expected 'on' or 'off'\n${tryHelp('migrate_set_capability')}`],
    [
      'migrate_set_capability cuju-ft on off',
      `migrate_set_capability: extraneous characters at the end of line\n${tryHelp('migrate_set_capability')}`,
    ],
    // 'i'
    ['cuju-adjust-epoch', `unexpected end of expression\n${tryHelp('cuju-adjust-epoch')}`],
    ['cuju-adjust-epoch -', `unexpected end of expression\n${tryHelp('cuju-adjust-epoch')}`],
    ['cuju-adjust-epoch 5+', `unexpected end of expression\n${tryHelp('cuju-adjust-epoch')}`],
    [
      'cuju-adjust-epoch -1',
      `'cuju-adjust-epoch' has failed: integer is for 32-bit values\n${tryHelp('cuju-adjust-epoch')}`,
    ],
    [
      'cuju-adjust-epoch 4294967296',
      `'cuju-adjust-epoch' has failed: integer is for 32-bit values\n${tryHelp('cuju-adjust-epoch')}`,
    ],
    [
      'cuju-adjust-epoch 0xffffffffffffffff',
      `'cuju-adjust-epoch' has failed: integer is for 32-bit values\n${tryHelp('cuju-adjust-epoch')}`,
    ],
    ['cuju-adjust-epoch 18446744073709551616', `number too large\n${tryHelp('cuju-adjust-epoch')}`],
    ['cuju-adjust-epoch abc', `invalid char 'a' in expression\n${tryHelp('cuju-adjust-epoch')}`],
    ['cuju-adjust-epoch 5*x', `invalid char 'x' in expression\n${tryHelp('cuju-adjust-epoch')}`],
    [
      'cuju-adjust-epoch 5000abc',
      `cuju-adjust-epoch: extraneous characters at the end of line\n${tryHelp('cuju-adjust-epoch')}`,
    ],
    [
      'cuju-adjust-epoch 08',
      `cuju-adjust-epoch: extraneous characters at the end of line\n${tryHelp('cuju-adjust-epoch')}`,
    ],
    [
      'cuju-adjust-epoch 1.5',
      `cuju-adjust-epoch: extraneous characters at the end of line\n${tryHelp('cuju-adjust-epoch')}`,
    ],
    ['cuju-adjust-epoch 1/0', `division by zero\n${tryHelp('cuju-adjust-epoch')}`],
    ['cuju-adjust-epoch 1%0', `division by zero\n${tryHelp('cuju-adjust-epoch')}`],
    ['cuju-adjust-epoch (1+2', `')' expected\n${tryHelp('cuju-adjust-epoch')}`],
    ["cuju-adjust-epoch 'ab'", `missing terminating ' character\n${tryHelp('cuju-adjust-epoch')}`],
    ["cuju-adjust-epoch '", `character constant expected\n${tryHelp('cuju-adjust-epoch')}`],
    ['cuju-adjust-epoch $eax', `unknown register\n${tryHelp('cuju-adjust-epoch')}`],
    [`gft_add_host 0 ${IP1} 5000 ${MAC} ${IP2}`, `unexpected end of expression\n${tryHelp('gft_add_host')}`],
    [
      `gft_add_host x ${IP1} 5000 ${MAC} ${IP2} 4441`,
      `invalid char 'x' in expression\n${tryHelp('gft_add_host')}`,
    ],
    [
      `gft_add_host 0 ${IP1} 5000 ${MAC} ${IP2} 4441 5001`,
      `gft_add_host: extraneous characters at the end of line\n${tryHelp('gft_add_host')}`,
    ],
    // extra arguments to argument-less commands name cmd->name, aliases and all
    [
      'cuju-failover now',
      `cuju-failover: extraneous characters at the end of line\n${tryHelp('cuju-failover')}`,
    ],
    ['c now', `c|cont: extraneous characters at the end of line\n${tryHelp('c|cont')}`],
    ['quit now', `q|quit: extraneous characters at the end of line\n${tryHelp('q|quit')}`],
    ['gft_init 1', `gft_init: extraneous characters at the end of line\n${tryHelp('gft_init')}`],
    // an info subcommand is named alone
    ['info status now', `status: extraneous characters at the end of line\n${tryHelp('status')}`],
  ];
  it.each(cases)('%j', (line, output, stdout) => {
    const expected = stdout === undefined ? { kind: 'error', output } : { kind: 'error', output, stdout };
    expect(parseHmpCommandLine(line, ALL)).toEqual(expected);
  });
});

describe('helpText', () => {
  it.each([
    ['cuju-adjust-epoch', 'cuju-adjust-epoch epoch -- adjust epoch size in cuju-ft\n'],
    // an empty params leaves two spaces
    ['cuju-failover', 'cuju-failover  -- call failover\n'],
    ['c', 'c|cont  -- resume emulation\n'],
    ['cont', 'c|cont  -- resume emulation\n'],
    ['?', 'help|? [cmd] -- show the help\n'],
    ['gft_init', 'gft_init  -- add a master/slave pair to group ft\n'],
    [
      'migrate_set_capability',
      'migrate_set_capability capability state -- Enable/Disable the usage of a capability for migration\n',
    ],
    ['info status', 'info status  -- show the current VM status (running|paused)\n'],
    ['info  "status"', 'info status  -- show the current VM status (running|paused)\n'],
    // words after a command without a sub-table are ignored
    ['stop now please', 'stop  -- stop emulation\n'],
    ['nosuch', ''],
    ['info nosuch', ''],
    ['"unterminated', ''],
    [Array.from({ length: 17 }, () => 'stop').join(' '), ''],
  ])('help %j', (name, text) => {
    expect(helpText(ALL, name)).toBe(text);
  });

  it("prints migrate's help verbatim, Cuju's misplaced -c line included", () => {
    expect(helpText(ALL, 'migrate')).toBe(
      'migrate [-d] [-b] [-i] [-c] uri -- migrate to URI (using -d to not wait for completion)\n' +
        '\t\t\t -b for migration without shared storage with full copy of disk\n' +
        '\t\t\t -i for migration without \n' +
        '\t\t\t -c enter cuju ft modeshared storage with incremental copy of disk ' +
        '(base image shared between src and destination)\n',
    );
  });

  it('lists the info subcommands, sorted, under `help info` (what `info` alone prints)', () => {
    expect(helpText(ALL, 'info')).toBe(
      [
        'info kvm  -- show KVM information',
        'info migrate  -- show migration status',
        'info migrate_capabilities  -- show current migration capabilities',
        'info name  -- show the current VM name',
        'info status  -- show the current VM status (running|paused)',
        'info version  -- show the version of QEMU',
        '',
      ].join('\n'),
    );
  });

  it('lists every command sorted by strcmp on the full name', () => {
    const names = helpText(ALL)
      .split('\n')
      .filter((l) => /^\S/.test(l))
      .map((l) => l.split(' ')[0]);
    expect(names).toEqual([
      'cuju-adjust-epoch',
      'cuju-failover',
      'cuju-get-ft-mode',
      'cuju-get-ft-started',
      'cuju-migrate-cancel',
      'c|cont',
      'gft_add_backup',
      'gft_add_host',
      'gft_add_host2',
      'gft_add_member',
      'gft_init',
      'gft_member_live_mig',
      'help|?',
      'info',
      'info_migrate',
      'migrate',
      'migrate_pause',
      'migrate_resume',
      'migrate_set_capability',
      'migrate_set_parameter',
      'q|quit',
      'stop',
    ]);
    expect(helpText(ALL)).toContain('info [subcommand] -- show various information about the system state\n');
  });
});
