import { describe, expect, it } from 'vitest';
import { CujuArgumentError, CujuError } from '../src/errors.js';
import {
  checkArgs,
  checkBoolean,
  checkCpuModel,
  checkEpochUs,
  checkId,
  checkImagePath,
  checkIPv4,
  checkListenHost,
  checkMac,
  checkMemory,
  checkNicModel,
  checkPath,
  checkPort,
  checkSmp,
  checkSocketPath,
  checkTapName,
  checkVga,
  checkVmName,
} from '../src/validate.js';

type Check = (field: string, value: unknown) => unknown;

/** The error a check throws for `value`: a CujuArgumentError naming `named` (by default the field checked). */
function refusal(check: Check, value: unknown, field = 'f', named = field): CujuArgumentError {
  try {
    check(field, value);
  } catch (err) {
    expect(err).toBeInstanceOf(CujuArgumentError);
    expect(err).toBeInstanceOf(CujuError);
    expect(err).toBeInstanceOf(Error);
    const e = err as CujuArgumentError;
    expect(e.code).toBe('CUJU_INVALID_ARGUMENT');
    expect(e.field).toBe(named);
    expect(e.name).toBe('CujuArgumentError');
    expect(e.message.startsWith(`${named} `)).toBe(true);
    return e;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

const cases: Array<[string, Check, unknown[], unknown[]]> = [
  [
    'checkIPv4',
    checkIPv4,
    ['192.168.111.2', '0.0.0.0', '255.255.255.255', '10.0.0.1', '100.73.42.5'],
    [
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '010.0.0.1',
      '192.168.01.1',
      '00.0.0.0',
      '1.2.3.-4',
      ' 1.2.3.4',
      '1.2.3.4 ',
      'localhost',
      '::1',
      '',
      '1.2.3.4\n',
      '0x7f.0.0.1',
      16843009,
      undefined,
    ],
  ],
  [
    'checkMac',
    checkMac,
    ['ae:ae:00:00:00:25', 'AE:AE:00:00:00:25', '02:00:00:00:00:00', '00:00:00:00:00:00'],
    [
      'ae:ae:00:00:00',
      'ae:ae:00:00:00:25:01',
      'ae-ae-00-00-00-25',
      'a:ae:00:00:00:25',
      'aee:ae:00:00:00:25',
      'ag:ae:00:00:00:25',
      'aeae.0000.0025',
      'ff:ff:ff:ff:ff:ff',
      '01:00:5e:00:00:01',
      '',
      42,
    ],
  ],
  ['checkPort', checkPort, [1, 4441, 65535], [0, -1, 65536, 70000, 1.5, '4441', Number.NaN, null, true]],
  ['checkId', checkId, [0, 1, 2 ** 31 - 1], [-1, 2 ** 31, 0.5, '0', Number.POSITIVE_INFINITY]],
  ['checkEpochUs', checkEpochUs, [1, 1000, 5000, 2 ** 31 - 1], [0, -5000, 2 ** 31, 2.5, '5000']],
  [
    'checkPath',
    checkPath,
    ['/mnt/nfs/vm1.monitor', 'vm1.monitor', './a/b', '/home/[your username]/vm1.monitor', '/a:b'],
    ['', '/a,b', '/a\nb', '/a\rb', '/a\u0000b', '/a\tb', '/a\u007fb', `/${'a'.repeat(4096)}`, 7, ['/a']],
  ],
  [
    'checkSocketPath',
    checkSocketPath,
    ['/tmp/vm1.monitor', `/${'a'.repeat(106)}`],
    [`/${'a'.repeat(107)}`, `/${'é'.repeat(54)}`, '/tmp/a,b'],
  ],
  [
    'checkImagePath',
    checkImagePath,
    ['/mnt/nfs/Ubuntu20G-1604.img', 'disk.img', './disk:1.img', '/srv/a:b/c.img'],
    ['disk:1.img', 'nbd:host:10809', 'json:{}', '/a,b.img', ''],
  ],
  [
    'checkMemory',
    checkMemory,
    ['1G', '2048M', '512', '2g', '1.5G', '4096K', 512, 1],
    ['0', '0G', '1 G', '1GB', '-1G', 'G', '', 0, -1, 1.5, Number.NaN, true],
  ],
  ['checkSmp', checkSmp, [1, 4, 255], [0, 256, 1.5, '1']],
  [
    'checkTapName',
    checkTapName,
    ['tap0', 'tap1', 'br0-tap.1', 'a'.repeat(15)],
    ['', 'a'.repeat(16), 'tap 0', 'tap0,script=/x', 'tap/0', '.', '..', 'tap:0'],
  ],
  [
    'checkNicModel',
    checkNicModel,
    ['virtio', 'e1000', 'rtl8139', 'virtio-net-pci'],
    ['', 'virtio,x=1', '-virtio', 'a b'],
  ],
  ['checkVmName', checkVmName, ['vm1', 'primary.1', 'A_b-c'], ['', 'vm,1', 'vm 1', '-vm', 'a'.repeat(65)]],
  [
    'checkCpuModel',
    checkCpuModel,
    ['host', 'qemu64', 'Haswell', 'host,+vmx', 'qemu64,-svm,check=on'],
    ['', 'host ', 'host,', ',host', 'host -smp 4', '-host', 'host,,x'],
  ],
  ['checkVga', checkVga, ['std', 'cirrus', 'none', 'virtio'], ['', 'vesa', 'std,retrace=dumb', 'STD']],
  ['checkListenHost', checkListenHost, ['0', '192.168.111.2', '0.0.0.0'], ['', 'localhost', '00', 0]],
  ['checkBoolean', checkBoolean, [true, false], [0, 1, 'true', null, undefined]],
];

describe.each(cases)('%s', (_name, check, good, bad) => {
  it.each(good.map((v) => [v]))('accepts %j', (value) => {
    expect(() => check('f', value)).not.toThrow();
  });
  it.each(bad.map((v) => [v]))('refuses %j, naming the field', (value) => {
    refusal(check, value);
  });
});

describe('what the checks return', () => {
  it('returns the value, typed', () => {
    expect(checkPort('p', 4441)).toBe(4441);
    expect(checkIPv4('ip', '192.168.111.2')).toBe('192.168.111.2');
    expect(checkMac('mac', 'AE:ae:00:00:00:25')).toBe('AE:ae:00:00:00:25');
    expect(checkVga('vga', 'std')).toBe('std');
  });

  it('gives the -m text: a number is MiB', () => {
    expect(checkMemory('m', 2048)).toBe('2048M');
    expect(checkMemory('m', '1G')).toBe('1G');
    expect(checkMemory('m', '512')).toBe('512');
  });

  it('checkArgs returns the array and names the bad element', () => {
    const args = ['-display', 'none'];
    expect(checkArgs('extra', args)).toBe(args);
    refusal(checkArgs, ['-S', 3], 'extra', 'extra[1]');
    refusal(checkArgs, ['a\u0000b'], 'extra', 'extra[0]');
    refusal(checkArgs, '-S', 'extra');
  });
});

describe('messages', () => {
  it('name the field and the rule, and echo numbers and addresses', () => {
    expect(refusal(checkPort, 70000, 'backup.port').message).toBe(
      'backup.port must be an integer 1-65535, got 70000',
    );
    expect(refusal(checkPort, '4441', 'backup.port').message).toBe(
      'backup.port must be an integer 1-65535, got "4441"',
    );
    expect(refusal(checkId, -1, 'host.gftId').message).toBe(
      'host.gftId must be an integer 0-2147483647, got -1',
    );
    expect(refusal(checkIPv4, '1.2.3', 'host.masterIp').message).toBe(
      'host.masterIp must be a dotted IPv4 address like 192.168.0.1, got "1.2.3"',
    );
    expect(refusal(checkMac, 'ff:ff:ff:ff:ff:ff', 'm').message).toBe(
      'm must be a unicast MAC address (first byte even), got "ff:ff:ff:ff:ff:ff"',
    );
  });

  it('explain a leading zero', () => {
    expect(refusal(checkIPv4, '192.168.010.1').message).toContain('no leading zeros');
  });

  it('say what a non-string is without showing it', () => {
    expect(refusal(checkIPv4, undefined).message).toBe('f must be a string, got nothing');
    expect(refusal(checkIPv4, { a: 1 }).message).toBe('f must be a string, got an object');
    expect(refusal(checkPath, ['x']).message).toBe('f must be a string, got an array');
  });

  it('shorten long values', () => {
    const message = refusal(checkTapName, 'x'.repeat(500)).message;
    expect(message.length).toBeLessThan(200);
    expect(message).toContain('(500 characters)');
  });

  it('never quote a path', () => {
    for (const path of ['/secret/token=abc,def', '/secret/tok\nen', `/secret/${'a'.repeat(5000)}`]) {
      expect(refusal(checkPath, path).message).not.toContain('secret');
      expect(refusal(checkSocketPath, path).message).not.toContain('secret');
    }
    expect(refusal(checkImagePath, 'secret:1.img').message).not.toContain('secret');
    expect(refusal(checkSocketPath, `/secret/${'a'.repeat(200)}`).message).not.toContain('secret');
  });
});

describe('CujuArgumentError', () => {
  it('keeps a cause and no value', () => {
    const cause = new Error('inner');
    const error = new CujuArgumentError('spec.memory', 'must be a size', { cause });
    expect(error.cause).toBe(cause);
    expect(error.message).toBe('spec.memory must be a size');
    expect(Object.keys(error)).not.toContain('value');
  });
});
