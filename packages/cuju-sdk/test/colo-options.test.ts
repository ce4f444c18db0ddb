/**
 * The COLO engine's configuration: FtPair's `engine` and `colo` options and a COLO VM's
 * spec are refused with CujuArgumentError naming the field, before anything starts; the
 * command lines are stock QEMU's COLO lines (docs/COLO-FT.txt), diskless and NIC-less.
 */
import { describe, expect, it } from 'vitest';
import { ColoEngine, CujuArgumentError, FtPair, type FtPairOptions, LocalHost } from '../src/index.js';

const host = new LocalHost({ address: '127.0.0.1' });
const base: FtPairOptions = {
  engine: 'colo',
  primary: host,
  backup: host,
  vm: { monitorPath: '/tmp/colo-options-test/p.qmp' },
  backupVm: { monitorPath: '/tmp/colo-options-test/s.qmp' },
  binary: { path: 'qemu-system-x86_64' },
  ftPort: 47001,
};

const disk = {
  primaryImage: '/tmp/colo-options-test/p.raw',
  secondaryImage: '/tmp/colo-options-test/s.raw',
  activeImage: '/tmp/colo-options-test/active.qcow2',
  hiddenImage: '/tmp/colo-options-test/hidden.qcow2',
  nbdPort: 47002,
};

function refusal(make: () => unknown): { code: string; field: string } {
  try {
    make();
  } catch (err) {
    expect(err).toBeInstanceOf(CujuArgumentError);
    const e = err as CujuArgumentError;
    return { code: e.code, field: e.field };
  }
  throw new Error('not refused');
}

describe('FtPair engine colo: options', () => {
  it('needs no Cuju build, and runs the COLO engine', () => {
    const pair = new FtPair(base);
    expect(pair.engine.name).toBe('colo');
    expect(pair.state).toBe('idle');
    expect(pair.record()).toMatchObject({ engine: 'colo', variant: 'qemu' });
    expect(() => pair.cujuBuild).toThrow(/colo engine/);
  });

  it.each([
    ['an unknown engine', { engine: 'xen' }, 'engine'],
    ['colo options for the Cuju engine', { engine: 'cuju', build: 'master', colo: {} }, 'colo'],
    ['a checkpoint delay of 0', { colo: { checkpointDelayMs: 0 } }, 'colo.checkpointDelayMs'],
    ['a fractional checkpoint delay', { colo: { checkpointDelayMs: 1.5 } }, 'colo.checkpointDelayMs'],
    ['a checkpoint delay as text', { colo: { checkpointDelayMs: '200' } }, 'colo.checkpointDelayMs'],
    ['an unknown COLO option', { colo: { checkpointDelay: 200 } }, 'colo.checkpointDelay'],
    ['a listen address that is no IPv4 address', { colo: { listenAddress: 'here' } }, 'colo.listenAddress'],
    ['a disk (no block replication yet)', { vm: { ...base.vm, image: '/tmp/disk.img' } }, 'vm.image'],
    [
      'a NIC on the backup (no colo-compare yet)',
      { backupVm: { ...base.backupVm, nic: { tap: 'tap1', mac: '52:54:00:12:34:56' } } },
      'backupVm.nic',
    ],
    [
      'a disk image path with a comma',
      { colo: { disk: { ...disk, primaryImage: '/tmp/a,b.raw' } } },
      'colo.disk.primaryImage',
    ],
    ['a disk without its NBD port', { colo: { disk: { ...disk, nbdPort: undefined } } }, 'colo.disk.nbdPort'],
    ['an unknown disk option', { colo: { disk: { ...disk, format: 'qcow2' } } }, 'colo.disk.format'],
    [
      'two network ports that are one',
      {
        colo: {
          network: {
            mac: '52:54:00:00:00:01',
            ports: { mirror: 1, compare: 1, primaryIn: 2, compareOut: 3 },
          },
        },
      },
      'colo.network.ports.compare',
    ],
    [
      'a network MAC that is none',
      { colo: { network: { mac: 'nope', ports: { mirror: 1, compare: 2, primaryIn: 3, compareOut: 4 } } } },
      'colo.network.mac',
    ],
    [
      "the primary's monitor path for the backup on the same host",
      { backupVm: { monitorPath: '/tmp/colo-options-test/p.qmp' } },
      'backupVm.monitorPath',
    ],
    ['a Cuju join port', { vm: { ...base.vm, joinPort: 5000 } }, 'vm.joinPort'],
    ['a second QMP path', { vm: { ...base.vm, qmpPath: '/tmp/colo-options-test/q.qmp' } }, 'vm.qmpPath'],
    [
      'a monitor path too long for a socket',
      { vm: { monitorPath: `/tmp/${'m'.repeat(120)}.qmp` } },
      'vm.monitorPath',
    ],
  ])('refuses %s, naming the field', (_what, change, field) => {
    const options = { ...base, ...change } as unknown as FtPairOptions;
    expect(refusal(() => new FtPair(options))).toEqual({ code: 'CUJU_INVALID_ARGUMENT', field });
  });

  it('builds stock QEMU COLO command lines: QMP on the monitor path, TCG, the secondary on -incoming', () => {
    const engine = new ColoEngine({ checkpointDelayMs: 200 });
    expect(engine.options).toEqual({ checkpointDelayMs: 200, listenAddress: undefined });
    const spec = { monitorPath: '/run/p.qmp', memory: 64, name: 'vm1' };
    expect(engine.primaryArgv(spec)).toEqual([
      '-M',
      'pc',
      '-nodefaults',
      '-display',
      'none',
      '-name',
      'vm1',
      '-m',
      '64',
      '-accel',
      'tcg',
      '-qmp',
      'unix:/run/p.qmp,server=on,wait=off',
    ]);
    // The backup's host address (checkPair) is where it listens.
    const backup = { monitorPath: '/run/s.qmp' };
    engine.checkPair({
      primary: { host, spec },
      backup: { host, spec: backup },
      ftPort: 4444,
    });
    expect(engine.receiverArgv(backup, 4444).slice(-2)).toEqual(['-incoming', 'tcp:127.0.0.1:4444']);
    expect(new ColoEngine().options.checkpointDelayMs).toBe(20_000);
    expect(engine.primaryArgv({ ...spec, kvm: true })).toContain('kvm');
    // colo.disk: the primary's quorum over its image; the secondary's replication stack.
    const withDisk = new ColoEngine({ disk });
    expect(withDisk.primaryArgv(spec)).toContain(
      'if=ide,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=/tmp/colo-options-test/p.raw,children.0.driver=raw',
    );
    expect(withDisk.receiverArgv(backup, 4444).filter((a) => a.includes('driver=replication'))).toEqual([
      'if=none,id=colo-childs0,driver=replication,mode=secondary,file.driver=qcow2,top-id=colo-disk0,file.file.filename=/tmp/colo-options-test/active.qcow2,file.backing.driver=qcow2,file.backing.file.filename=/tmp/colo-options-test/hidden.qcow2,file.backing.backing=colo-parent0',
    ]);
  });
});
