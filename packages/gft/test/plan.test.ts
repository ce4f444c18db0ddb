/**
 * planGroup is pure data: for the seed topology its monitor lines are add_host.sh's and
 * gft_init.sh's, its command lines carry run_ft's and recv_b's group options, its phases
 * are the protocol's order with the parallel ones marked, and formatPlan prints it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatPlan, GROUP_PHASES, parseGroupSpec, planGroup } from '../src/index.js';

const EXAMPLE = readFileSync(new URL('../../../examples/gft/group.yaml', import.meta.url), 'utf8');

/**
 * Cuju's gft_script (cuju-monitor.md §8, the seed manual's GFT section): add_host.sh sends
 * `gft_add_host <id> <HOSTAIP> <5000+2*id> <MAC> <SLAVEIP> <4441+id>` for ids 0-2 to the
 * leader; gft_init.sh sends `migrate_set_capability cuju-ft on` to every member's monitor,
 * then `gft_init` to vm1's. Each by `echo LINE | nc -U /mnt/nfs/vmN.monitor`.
 */
const HOSTAIP = '127.0.0.2';
const SLAVEIP = '127.0.0.3';
const MACS = ['ae:ae:00:00:00:21', 'ae:ae:00:00:00:22', 'ae:ae:00:00:00:23'];
const ADD_HOST_SH = [0, 1, 2].map(
  (id) => `gft_add_host ${id} ${HOSTAIP} ${5000 + 2 * id} ${MACS[id]} ${SLAVEIP} ${4441 + id}`,
);
// gft_init.sh lists vm1-vm4; the seed group (add_host.sh) has three members: vm1-vm3.
const GFT_INIT_SH = [
  ...[1, 2, 3].map((n) => ({
    monitor: `/mnt/nfs/vm${n}.monitor`,
    line: 'migrate_set_capability cuju-ft on',
  })),
  { monitor: '/mnt/nfs/vm1.monitor', line: 'gft_init' },
];

describe('planGroup on the seed topology', () => {
  const plan = planGroup(parseGroupSpec(EXAMPLE));
  const sends = plan.phases.flatMap((p) => p.steps).filter((s) => s.action === 'send');

  it('sends add_host.sh lines to the leader, in id order, the leader included', () => {
    const adds = sends.filter((s) => s.phase === 'add-hosts');
    expect(adds.map((s) => s.line)).toEqual(ADD_HOST_SH);
    for (const s of adds) expect(s.monitor).toBe('/mnt/nfs/vm1.monitor');
  });

  it("then gft_init.sh's lines, each to its monitor", () => {
    const rest = sends
      .filter((s) => s.phase !== 'add-hosts')
      .map((s) => ({ monitor: s.monitor, line: s.line }));
    expect(rest).toEqual(GFT_INIT_SH);
  });

  it('phases in the protocol order: receivers, primaries, add-hosts, capability, init, confirm', () => {
    expect(plan.phases.map((p) => [p.name, p.parallel])).toEqual([
      ['receivers', true],
      ['primaries', true],
      ['add-hosts', false],
      ['capability', true],
      ['init', false],
      ['confirm', true],
    ]);
    // Never GFT START: the groupft build stays PRE.
    for (const s of plan.phases.find((p) => p.name === 'confirm')!.steps) {
      expect(s.waitsFor).toContain('first commit');
      expect(s.waitsFor).not.toMatch(/waits? for START/);
    }
  });

  it("starts run_ft's and recv_b's VMs: -gft-id, -ft-join-port (backup: + 1), -incoming tcp:0:FTPORT,ft_mode", () => {
    const launches = plan.phases.flatMap((p) => p.steps).filter((s) => s.action === 'launch');
    expect(launches.map((s) => [s.id, s.host, s.address])).toEqual([
      ['launch-backup-0', 'backup-host', SLAVEIP],
      ['launch-backup-1', 'backup-host', SLAVEIP],
      ['launch-backup-2', 'backup-host', SLAVEIP],
      ['launch-primary-0', 'primary-host', HOSTAIP],
      ['launch-primary-1', 'primary-host', HOSTAIP],
      ['launch-primary-2', 'primary-host', HOSTAIP],
    ]);
    const argv = (id: string) => launches.find((s) => s.id === id)!.argv!.join(' ');
    expect(argv('launch-primary-1')).toContain(
      '-net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:22 -vga std -chardev socket,id=mon,path=/mnt/nfs/vm2.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline -gft-id 1 -ft-join-port 5002',
    );
    expect(argv('launch-backup-1')).toMatch(
      /path=\/mnt\/nfs\/vm2r\.monitor,.* -gft-id 1 -ft-join-port 5003 -incoming tcp:0:4442,ft_mode$/,
    );
    expect(argv('launch-primary-0').startsWith('./x86_64-softmmu/qemu-system-x86_64 ')).toBe(true);
  });

  it('formatPlan prints every line verbatim, under a comment per step', () => {
    const text = formatPlan(plan);
    const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    const monitorLines = lines.filter((l) => !l.startsWith('./'));
    expect(monitorLines).toEqual([...ADD_HOST_SH, ...GFT_INIT_SH.map((x) => x.line)]);
    expect(lines.filter((l) => l.startsWith('./'))).toHaveLength(6);
    expect(text).toContain('# [gft-init] to /mnt/nfs/vm1.monitor on primary-host (127.0.0.2)');
  });
});

describe('planGroup variants', () => {
  const base = parseGroupSpec(EXAMPLE);

  it('gft_add_host2 with the backup join port when it is given', () => {
    const spec = parseGroupSpec({
      ...base,
      members: base.members.map((m) => ({ ...m, backup: { ...m.backup, joinPort: 6000 + m.id } })),
    });
    const adds = planGroup(spec)
      .phases.find((p) => p.name === 'add-hosts')!
      .steps.map((s) => s.line);
    expect(adds[2]).toBe(`gft_add_host2 2 ${HOSTAIP} 5004 ${MACS[2]} ${SLAVEIP} 4443 6002`);
  });

  it('cuju-adjust-epoch on every primary before the capability, when epochUs is given', () => {
    const spec = parseGroupSpec({ ...base, options: { ...base.options, epochUs: 5000 } });
    const plan = planGroup(spec);
    expect(plan.phases.map((p) => p.name)).toEqual(GROUP_PHASES);
    expect(plan.phases.find((p) => p.name === 'epoch')!.steps.map((s) => [s.monitor, s.line])).toEqual([
      ['/mnt/nfs/vm1.monitor', 'cuju-adjust-epoch 5000'],
      ['/mnt/nfs/vm2.monitor', 'cuju-adjust-epoch 5000'],
      ['/mnt/nfs/vm3.monitor', 'cuju-adjust-epoch 5000'],
    ]);
  });

  it('members in any order in the file: the plan is in id order', () => {
    const spec = parseGroupSpec({ ...base, members: [...base.members].reverse() });
    const adds = planGroup(spec).phases.find((p) => p.name === 'add-hosts')!.steps;
    expect(adds.map((s) => s.line)).toEqual(ADD_HOST_SH);
  });
});
