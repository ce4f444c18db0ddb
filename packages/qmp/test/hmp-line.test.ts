import { describe, expect, it } from 'vitest';
import { HmpArgumentError, type HmpValue, hmpLine } from '../src/index.js';

// Every args_type in the Cuju reference (cuju-monitor.md §2.1), with the values the seed
// scripts use and the line those scripts send.
const GFT_ADD_HOST =
  'gft_id:i,master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i';
const MIGRATE = 'detach:-d,blk:-b,inc:-i,cuju:-c,uri:s';

const accepted: Array<[string, string, Record<string, HmpValue>, string]> = [
  ['migrate', MIGRATE, { cuju: true, uri: 'tcp:192.168.111.2:4441' }, 'migrate -c tcp:192.168.111.2:4441'],
  [
    'migrate',
    MIGRATE,
    { detach: true, cuju: true, uri: 'tcp:192.168.105.1:4441' },
    'migrate -d -c tcp:192.168.105.1:4441',
  ],
  ['migrate', MIGRATE, { uri: 'tcp:127.0.0.1:4441', blk: true, inc: false }, 'migrate -b tcp:127.0.0.1:4441'],
  [
    'migrate',
    MIGRATE,
    { inc: true, blk: true, detach: true, cuju: true, uri: 'tcp:10.0.0.2:4441,' },
    'migrate -d -b -i -c tcp:10.0.0.2:4441,',
  ],
  [
    'migrate_set_capability',
    'capability:s,state:b',
    { capability: 'cuju-ft', state: true },
    'migrate_set_capability cuju-ft on',
  ],
  [
    'migrate_set_capability',
    'capability:s,state:b',
    { capability: 'events', state: 'off' },
    'migrate_set_capability events off',
  ],
  ['cuju-failover', '', {}, 'cuju-failover'],
  ['cuju-adjust-epoch', 'epoch:i', { epoch: 5000 }, 'cuju-adjust-epoch 5000'],
  ['cuju-adjust-epoch', 'epoch:i', { epoch: 4294967295 }, 'cuju-adjust-epoch 4294967295'],
  [
    'gft_add_host',
    GFT_ADD_HOST,
    {
      gft_id: 0,
      master_host_ip: '192.168.111.1',
      master_host_gft_port: 5000,
      master_mac: 'ae:ae:00:00:00:21',
      slave_host_ip: '192.168.111.2',
      slave_host_ft_port: 4441,
    },
    'gft_add_host 0 192.168.111.1 5000 ae:ae:00:00:00:21 192.168.111.2 4441',
  ],
  [
    'gft_add_host2',
    `${GFT_ADD_HOST},slave_host_join_port:i`,
    {
      gft_id: 3,
      master_host_ip: '192.168.111.1',
      master_host_gft_port: 5003,
      master_mac: 'ae:ae:00:00:00:24',
      slave_host_ip: '192.168.111.2',
      slave_host_ft_port: 4444,
      slave_host_join_port: 5004,
    },
    'gft_add_host2 3 192.168.111.1 5003 ae:ae:00:00:00:24 192.168.111.2 4444 5004',
  ],
  ['gft_init', '', {}, 'gft_init'],
  [
    'gft_add_member',
    'master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i',
    {
      master_host_ip: '192.168.111.1',
      master_host_gft_port: 5010,
      master_mac: 'ae:ae:00:00:00:30',
      slave_host_ip: '192.168.111.2',
      slave_host_ft_port: 4450,
    },
    'gft_add_member 192.168.111.1 5010 ae:ae:00:00:00:30 192.168.111.2 4450',
  ],
  [
    'gft_add_backup',
    'slave_host_ip:s,slave_incoming_port:i',
    { slave_host_ip: '192.168.111.3', slave_incoming_port: 4441 },
    'gft_add_backup 192.168.111.3 4441',
  ],
  [
    'gft_member_live_mig',
    MIGRATE,
    { detach: true, cuju: true, uri: 'tcp:192.168.111.2:4441,' },
    'gft_member_live_mig -d -c tcp:192.168.111.2:4441,',
  ],
  ['migrate_pause', '', {}, 'migrate_pause'],
  ['migrate_resume', '', {}, 'migrate_resume'],
  ['info_migrate', '', {}, 'info_migrate'],
  ['cuju-migrate-cancel', '', {}, 'cuju-migrate-cancel'],
  // Upstream types the builder also knows.
  ['device_del', 'id:s', { id: 'nic0' }, 'device_del nic0'],
  [
    'migrate_set_parameter',
    'parameter:s,value:s',
    { parameter: 'downtime-limit', value: '300' },
    'migrate_set_parameter downtime-limit 300',
  ],
  ['opt', 'a:s,b:s?,c:i?', { a: 'x' }, 'opt x'],
  ['opt', 'a:s,b:s?,c:i?', { a: 'x', b: 'y' }, 'opt x y'],
  ['rest', 'text:S', { text: 'any words, even "quotes"' }, 'rest any words, even "quotes"'],
  ['big', 'n:l', { n: -9223372036854775808n }, 'big (-9223372036854775808)'],
  [
    'calc_dirty_rate',
    'dirty_ring:-r,dirty_bitmap:-b,calc_time:l,sample_pages_rate:l?',
    { calc_time: 3, sample_pages_rate: -1 },
    'calc_dirty_rate 3 (-1)',
  ],
  ['block_resize', 'device:B,size:o', { device: 'd0', size: 8192 }, 'block_resize d0 8192B'],
  [
    'pmemsave',
    'val:l,size:i,filename:s',
    { val: 0, size: 4096, filename: 'mem.bin' },
    'pmemsave 0 4096 mem.bin',
  ],
  ['balloon', 'value:M', { value: 512 }, 'balloon 512'],
];

const refused: Array<[string, string, Record<string, HmpValue>, RegExp]> = [
  ['migrate', MIGRATE, { cuju: true, uri: 'tcp:1.2.3.4:4441 quit' }, /uri: contains whitespace/],
  [
    'migrate',
    MIGRATE,
    { cuju: true, uri: 'tcp:1.2.3.4:4441\nquit' },
    /uri: holds U\+000A \(LF\) at index 16, which ends the line early/,
  ],
  ['migrate', MIGRATE, { cuju: true, uri: '"tcp:1.2.3.4:4441"' }, /uri: contains a quote/],
  ['migrate', MIGRATE, { uri: '-c' }, /uri: starts with '-'/],
  ['migrate', MIGRATE, { cuju: 'yes', uri: 'tcp:1.2.3.4:1' }, /cuju: flag -c takes true or false/],
  ['migrate', MIGRATE, { cuju: true }, /uri: is required/],
  [
    'migrate',
    MIGRATE,
    { uri: 'tcp:1.2.3.4:1', speed: 1 },
    /speed: unknown argument \(expected: detach, blk, inc, cuju, uri\)/,
  ],
  [
    'migrate_set_capability',
    'capability:s,state:b',
    { capability: 'cuju-ft', state: 'yes' },
    /state: must be true\/false or 'on'\/'off'/,
  ],
  [
    'migrate_set_capability',
    'capability:s,state:b',
    { capability: 'cuju-ft', state: 1 },
    /state: must be true\/false/,
  ],
  [
    'migrate_set_capability',
    'capability:s,state:b',
    { capability: '', state: true },
    /capability: must not be empty/,
  ],
  [
    'migrate_set_capability',
    'capability:s,state:b',
    { capability: "cuju-ft'", state: true },
    /capability: contains a quote/,
  ],
  ['cuju-adjust-epoch', 'epoch:i', { epoch: -1 }, /epoch: must be 0 to 4294967295/],
  ['cuju-adjust-epoch', 'epoch:i', { epoch: 4294967296 }, /epoch: must be 0 to 4294967295/],
  ['cuju-adjust-epoch', 'epoch:i', { epoch: 1.5 }, /epoch: must be an integer/],
  ['cuju-adjust-epoch', 'epoch:i', { epoch: '5000' }, /epoch: must be an integer, got "5000"/],
  ['cuju-adjust-epoch', 'epoch:i', { epoch: Number.NaN }, /epoch: must be an integer/],
  [
    'gft_add_host',
    GFT_ADD_HOST,
    {
      gft_id: 0,
      master_host_ip: '192.168.111.1',
      master_host_gft_port: 5000,
      master_mac: 'ae:ae:00:00:00:21',
      slave_host_ip: '192.168.111.2',
    },
    /slave_host_ft_port: is required/,
  ],
  [
    'gft_add_host',
    GFT_ADD_HOST,
    {
      gft_id: 0,
      master_host_ip: '192.168.111.1\t',
      master_host_gft_port: 5000,
      master_mac: 'm',
      slave_host_ip: 'x',
      slave_host_ft_port: 1,
    },
    /master_host_ip: holds U\+0009 \(TAB\) at index 13/,
  ],
  [
    'gft_add_backup',
    'slave_host_ip:s,slave_incoming_port:i',
    { slave_host_ip: '192.168.111.3\u00a0', slave_incoming_port: 1 },
    /slave_host_ip: contains whitespace/,
  ],
  ['gft_init', '', { force: true }, /force: unknown argument \(expected: none\)/],
  [
    'opt',
    'a:s,b:s?,c:i?',
    { a: 'x', c: 1 },
    /c: cannot be given while the earlier optional argument 'b' is left out/,
  ],
  ['rest', 'text:S', { text: 'a\rquit' }, /text: holds U\+000D \(CR\) at index 1/],
  ['big', 'n:l', { n: 2n ** 63n }, /n: must fit in 64 bits/],
  [
    'pmemsave',
    'val:l,size:i,filename:s',
    { val: 0, size: 4096, filename: '/tmp/mem.bin' },
    /filename: starts with an operator right after a number/,
  ],
  [
    'pmemsave',
    'val:l,size:i,filename:s',
    { val: 0, size: 4096, filename: '+1' },
    /filename: starts with an operator/,
  ],
  ['device_del', 'id:s', { id: 'x'.repeat(1024) }, /id: is longer than 1023 bytes/],
  ['rest', 'force:-f,text:S', { text: '-f hi' }, /text: starts with '-'/],
  ['balloon', 'value:M', { value: 2 ** 43 }, /value: must be an integer from 0 to 2\^43-1/],
  [
    'block_resize',
    'device:B,size:o',
    { device: 'd0', size: -1 },
    /size: must be a non-negative integer \(bytes\)/,
  ],
  [
    'set_password',
    'protocol:s,password:s,display:-d,connected:s?',
    { protocol: 'vnc', password: 'hunter2 x' },
    /password: contains whitespace, where HMP would split it into two arguments: <redacted>$/,
  ],
  ['info status', '', {}, /not a valid HMP command name/],
  ['x', 'fmt:/,addr:l', { addr: 0 }, /args_type '\/' is not supported/],
];

describe('hmpLine', () => {
  it.each(accepted.map(([n, a, v, l]) => [l, n, a, v] as const))(
    'builds %s',
    (line, name, argsType, values) => {
      expect(hmpLine(name, argsType, values)).toBe(line);
    },
  );

  it.each(refused.map(([n, a, v, m]) => [m.source, n, a, v, m] as const))(
    'refuses: %s',
    (_, name, argsType, values, message) => {
      let thrown: unknown;
      try {
        hmpLine(name, argsType, values);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(HmpArgumentError);
      expect((thrown as HmpArgumentError).code).toBe('QMP_INVALID_ARGUMENT');
      expect((thrown as Error).message).toMatch(message);
    },
  );
});

describe('hmpLine and what readline does with each byte', () => {
  it('refuses a character whose UTF-8 holds 0x9B, naming the argument, index and byte', () => {
    let thrown: unknown;
    try {
      hmpLine('ringbuf_write', 'device:s,data:s', { device: 'rb', data: 'přěklad' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(HmpArgumentError);
    expect(thrown).toMatchObject({
      command: 'ringbuf_write',
      argument: 'data',
      field: 'ringbuf_write data',
      position: { index: 2, byte: 3 },
    });
    expect((thrown as Error).message).toContain('"ě" (U+011B, UTF-8 C4 9B)');
  });

  it('accepts other non-ASCII text as it is, C1-range continuation bytes included', () => {
    // č is C4 8D and ň C5 88: bytes in 0x80-0x9F that readline inserts as typed.
    expect(hmpLine('ringbuf_write', 'device:s,data:s', { device: 'rb', data: 'žluťoučký-kůň-日本語' })).toBe(
      'ringbuf_write rb žluťoučký-kůň-日本語',
    );
  });

  it('never shows a value of a command that carries secrets, whatever the argument is named', () => {
    const attempts: Array<[string, string, Record<string, string>]> = [
      ['change', 'device:B,target:F,arg:s?', { device: 'vnc', target: 'password', arg: 's3cret pw' }],
      ['change', 'device:B,target:F,arg:s?', { device: 'vnc', target: 'password', arg: 's3cret\u001b[A' }],
      ['set_password', 'protocol:s,password:s', { protocol: 'vnc', password: 's3cretě' }],
      ['object_add', 'object:S', { object: '-secret,id=s0,data=s3cret' }],
      ['block_passwd', 'device:B,password:s', { device: 'd0', password: '"s3cret"' }],
    ];
    for (const [name, argsType, values] of attempts) {
      let thrown: unknown;
      try {
        hmpLine(name, argsType, values);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, name).toBeInstanceOf(HmpArgumentError);
      expect((thrown as Error).message, name).not.toContain('s3cret');
    }
  });
});
