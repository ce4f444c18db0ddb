import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, port, RawHmp, type SimProcess, startSim, tempDir } from './helpers/sim-process.js';

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0)) c();
});

const MACS = ['ae:ae:00:00:00:21', 'ae:ae:00:00:00:22', 'ae:ae:00:00:00:23', 'ae:ae:00:00:00:24'];
const PRIMARY_IP = '127.0.0.2';
const BACKUP_IP = '127.0.0.3';

interface Member {
  id: number;
  joinPort: number;
  ftPort: number;
  primary: SimProcess;
  backup: SimProcess;
  monitor: string;
  backupMonitor: string;
}

/** gft_script/run_ft* and recv_b*: a primary with -gft-id/-ft-join-port, its backup with join port + 1. */
async function group(n: number, extra: string[] = []): Promise<{ d: string; members: Member[] }> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const d = t.dir;
  const members: Member[] = [];
  for (let id = 0; id < n; id++) {
    const joinPort = await port();
    const backupJoin = await port();
    const ftPort = await port();
    const common = (name: string) => [
      '-drive',
      `if=none,id=drive0,cache=none,aio=native,format=raw,file=/mnt/nfs/Ubuntu20G-1604-${id}.img`,
      '-device',
      'virtio-blk,drive=drive0,scsi=off',
      '-m',
      '2G',
      '-enable-kvm',
      '-net',
      `tap,ifname=tap${id}`,
      '-net',
      `nic,model=virtio,vlan=0,macaddr=${MACS[id]}`,
      '-vga',
      'std',
      '-chardev',
      `socket,id=mon,path=${join(d, `${name}.monitor`)},server,nowait`,
      '-mon',
      'chardev=mon,id=monitor,mode=readline',
      '-smp',
      '1',
    ];
    const primary = startSim([
      ...common(`vm${id + 1}`),
      '-ft-join-port',
      String(joinPort),
      '-gft-id',
      String(id),
      ...extra,
    ]);
    const backup = startSim([
      ...common(`vm${id + 1}r`),
      '-incoming',
      `tcp:${BACKUP_IP}:${ftPort},ft_mode`,
      '-ft-join-port',
      String(backupJoin),
      '-gft-id',
      String(id),
    ]);
    members.push({
      id,
      joinPort,
      ftPort,
      primary,
      backup,
      monitor: join(d, `vm${id + 1}.monitor`),
      backupMonitor: join(d, `vm${id + 1}r.monitor`),
    });
  }
  await Promise.all(
    members.flatMap((m) => [
      m.primary.waitForStdout('VM init finished'),
      m.backup.waitForStdout('VM init finished'),
    ]),
  );
  return { d, members };
}

/** add_host.sh on the leader, then gft_init.sh: cuju-ft on every member, gft_init on vm1. */
async function formGroup(members: Member[]): Promise<RawHmp[]> {
  const monitors = await Promise.all(members.map((m) => RawHmp.open(m.monitor)));
  const leader = monitors[0]!;
  for (const m of members) {
    expect(
      await leader.run(
        `gft_add_host ${m.id} ${PRIMARY_IP} ${m.joinPort} ${MACS[m.id]} ${BACKUP_IP} ${m.ftPort}`,
      ),
    ).toBe('');
  }
  for (const h of monitors) expect(await h.run('migrate_set_capability cuju-ft on')).toBe('');
  expect(await leader.run('gft_init')).toBe('');
  return monitors;
}

async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('cuju-sim: group FT over real TCP', () => {
  it('forms a 3-member group from add_host.sh + gft_init.sh: PRE, then START everywhere', async () => {
    const { members } = await group(3);
    const monitors = await Promise.all(members.map((m) => RawHmp.open(m.monitor)));
    expect((await monitors[0]!.run('info migrate')).split('\r\n')[0]).toBe('GFT STATUS PRE');
    for (const h of monitors) h.close();
    const hmps = await formGroup(members);
    for (const m of members) await m.backup.waitForStdout('first commit');
    for (const [i, h] of hmps.entries()) {
      await eventually(
        async () => (await h.run('info migrate')).startsWith('GFT STATUS START'),
        `member ${i} START`,
      );
      expect(await h.run('cuju-get-ft-started')).toBe('ft_started: 1\r\n');
    }
    for (const m of members) expect(m.primary.stdout()).toContain('Enter FT mode');
  });

  it('rejects a bad MAC on stdout only, and refuses hosts once the group started', async () => {
    const { members } = await group(1);
    const leader = await RawHmp.open(members[0]!.monitor);
    expect(
      await leader.run(
        `gft_add_host 0 ${PRIMARY_IP} ${members[0]!.joinPort} zz:ae:00:00:00:21 ${BACKUP_IP} ${members[0]!.ftPort}`,
      ),
    ).toBe('');
    await members[0]!.primary.waitForStdout('qmp_gft_add_host bad mac.');
  });

  it('says so on stdout when the leader cannot reach a member', async () => {
    const { members } = await group(1);
    const leader = await RawHmp.open(members[0]!.monitor);
    const nobody = await port();
    await leader.run(
      `gft_add_host 0 ${PRIMARY_IP} ${members[0]!.joinPort} ${MACS[0]} ${BACKUP_IP} ${members[0]!.ftPort}`,
    );
    await leader.run(`gft_add_host 1 ${PRIMARY_IP} ${nobody} ${MACS[1]} ${BACKUP_IP} ${nobody}`);
    expect(await leader.run('gft_init')).toBe('');
    await members[0]!.primary.waitForStdout(`qmp_gft_leader_init error connect to ${PRIMARY_IP}:${nobody}.`);
  });

  it('without GFT_RESYNC: when a primary dies the survivors exit and every backup takes over', async () => {
    const { members } = await group(3);
    const [leader] = await formGroup(members);
    for (const m of members) await m.backup.waitForStdout('first commit');
    await eventually(async () => (await leader!.run('info migrate')).startsWith('GFT STATUS START'), 'START');
    members[1]!.primary.kill('SIGKILL');
    for (const m of [members[0]!, members[2]!]) expect((await m.primary.exited).code).toBe(255);
    for (const m of members) await m.backup.waitForStdout('cuju_ft_trans_close vm_started.');
  });

  it('with -sim-gft-resync on: the group goes WAIT and re-forms without the failed member', async () => {
    const { members } = await group(3, ['-sim-gft-resync', 'on']);
    const survivor = (await formGroup(members))[2]!;
    for (const m of members) await m.backup.waitForStdout('first commit');
    await eventually(
      async () => (await survivor.run('info migrate')).startsWith('GFT STATUS START'),
      'START',
    );
    members[1]!.primary.kill('SIGKILL');
    await members[2]!.primary.waitForStdout('gft_reset_all');
    await members[1]!.backup.waitForStdout('cuju_ft_trans_close vm_started.');
    await eventually(
      async () => (await survivor.run('info migrate')).startsWith('GFT STATUS START'),
      'START again',
    );
    expect(await survivor.run('cuju-get-ft-started')).toBe('ft_started: 1\r\n');
    expect(members[0]!.primary.child.exitCode).toBeNull();
    expect(members[2]!.backup.stdout()).not.toContain('vm_started');
  });

  it('adds a member after gft_member_live_mig with gft_add_member (gft_add_backup fills the pool)', async () => {
    const { members } = await group(3);
    const [first, second, late] = members as [Member, Member, Member];
    const monitors = await Promise.all([first, second].map((m) => RawHmp.open(m.monitor)));
    const leader = monitors[0]!;
    for (const m of [first, second]) {
      await leader.run(
        `gft_add_host ${m.id} ${PRIMARY_IP} ${m.joinPort} ${MACS[m.id]} ${BACKUP_IP} ${m.ftPort}`,
      );
    }
    // auto_resync.sh: a spare backup announced to the pool before the group starts.
    expect(await leader.run(`gft_add_backup ${BACKUP_IP} 4444`)).toBe('');
    for (const h of monitors) await h.run('migrate_set_capability cuju-ft on');
    await leader.run('gft_init');
    await eventually(async () => (await leader.run('info migrate')).startsWith('GFT STATUS START'), 'START');
    // gft_member_live_mig.sh on the new VM, then gft_add_member.sh on the leader.
    const newcomer = await RawHmp.open(late.monitor);
    await newcomer.run('migrate_set_capability cuju-ft on');
    expect(await newcomer.run(`gft_member_live_mig -d -c tcp:${BACKUP_IP}:${late.ftPort},`)).toBe('');
    await late.backup.waitForStdout('first commit');
    await eventually(
      async () => (await newcomer.run('info migrate')).startsWith('GFT STATUS WAIT'),
      'new member waits',
    );
    expect(
      await leader.run(
        `gft_add_member ${PRIMARY_IP} ${late.joinPort} ${MACS[2]} ${BACKUP_IP} ${late.ftPort}`,
      ),
    ).toBe('');
    await first.primary.waitForStdout('hmp_gft_add_member add host finish');
    for (const h of [leader, monitors[1]!, newcomer]) {
      await eventually(
        async () => (await h.run('info migrate')).startsWith('GFT STATUS START'),
        'START with 3',
      );
    }
    expect(await newcomer.run('cuju-get-ft-started')).toBe('ft_started: 1\r\n');
  });
});
