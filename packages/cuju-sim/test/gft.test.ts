import { createServer, type Socket } from 'node:net';
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

/**
 * gft_script/run_ft* and recv_b* on the groupft build: a primary with -gft-id and a free
 * -ft-join-port, its backup with its own free join port (every groupft VM binds one).
 */
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
      '-sim-build',
      'groupft',
      ...common(`vm${id + 1}`),
      '-ft-join-port',
      String(joinPort),
      '-gft-id',
      String(id),
      ...extra,
    ]);
    const backup = startSim([
      '-sim-build',
      'groupft',
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

/** The group runs once every backup holds a committed epoch (the epochs start after MIGRATION_ALL). */
async function groupRuns(members: Member[]): Promise<void> {
  for (const m of members) await m.backup.waitForStdout('first commit');
  for (const m of members) await m.primary.waitForStdout('migrate_timer tick 0');
}

// Six simulator processes per group on a shared machine: generous deadlines.
describe('cuju-sim groupft: group FT over real TCP', { timeout: 120_000 }, () => {
  it('forms a 3-member group from add_host.sh + gft_init.sh; GFT STATUS stays PRE (never START)', async () => {
    const { members } = await group(3);
    const hmps = await formGroup(members);
    await groupRuns(members);
    for (const h of hmps) {
      // migration.c@d2e55fe: nothing assigns GFT_START.
      expect(await h.run('info migrate')).toMatch(
        /^GFT STATUS PRE\r\ncapabilities: .*\r\nMigration status: cancelled\r\n/,
      );
    }
    // groupft has no cuju-get-* commands.
    expect(await hmps[1]!.run('cuju-get-ft-started')).toBe("unknown command: 'cuju-get-ft-started'\r\n");
    for (const m of members) expect(m.primary.stdout()).toContain('\nEnter FT mode\n');
  });

  it('reads the MAC as sscanf("%x:...") does: loose forms pass, a bad one is reported on stdout only', async () => {
    const { members } = await group(1);
    const m = members[0]!;
    const leader = await RawHmp.open(m.monitor);
    const line = (mac: string) =>
      `gft_add_host 0 ${PRIMARY_IP} ${m.joinPort} ${mac} ${BACKUP_IP} ${m.ftPort}`;
    expect(await leader.run(line('zz:ae:00:00:00:21'))).toBe('');
    await m.primary.waitForStdout('qmp_gft_add_host bad mac.\n');
    expect(await leader.run(line('0xAE:ae:0:0:0:21trailing'))).toBe('');
    // gft_add_host2's own text is the sentinel: stdout is in order, so once it is there
    // the loose MAC above has been answered (without a complaint).
    expect(await leader.run(`${line('ae:ae:00:00:00').replace('gft_add_host', 'gft_add_host2')} 1`)).toBe('');
    await m.primary.waitForStdout('qmp_gft_add_host2 bad mac.\n');
    expect(m.primary.stdout().match(/qmp_gft_add_host bad mac\./g)).toHaveLength(1);
  });

  it('refuses hosts once gft_init ran, on stdout only', async () => {
    const { members } = await group(2);
    const [leader] = await formGroup(members);
    await groupRuns(members);
    expect(await leader!.run(`gft_add_host2 5 ${PRIMARY_IP} 1 ${MACS[0]} ${BACKUP_IP} 1 1`)).toBe('');
    await members[0]!.primary.waitForStdout('qmp_gft_add_host2 failed since gft already started.\n');
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

  it('GFT_RESYNC off: when a primary dies the survivors exit(-1) and every backup takes over', async () => {
    const { members } = await group(3);
    await formGroup(members);
    await groupRuns(members);
    members[1]!.primary.kill('SIGKILL');
    for (const m of [members[0]!, members[2]!]) expect((await m.primary.exited).code).toBe(255);
    for (const m of members) await m.backup.waitForStdout('cuju_ft_trans_close vm_started.');
  });

  it('gft_add_member at the tip tears the group down: gft_reset_all, then the other primaries exit', async () => {
    const { members } = await group(3);
    const [first, second, late] = members as [Member, Member, Member];
    const monitors = await Promise.all([first, second].map((m) => RawHmp.open(m.monitor)));
    const newcomer = await RawHmp.open(late.monitor);
    const leader = monitors[0]!;
    for (const m of [first, second]) {
      await leader.run(
        `gft_add_host ${m.id} ${PRIMARY_IP} ${m.joinPort} ${MACS[m.id]} ${BACKUP_IP} ${m.ftPort}`,
      );
    }
    for (const h of monitors) await h.run('migrate_set_capability cuju-ft on');
    expect(await leader.run('gft_init')).toBe('');
    await groupRuns([first, second]);
    // gft_member_live_mig.sh: at the tip (GFT_RESYNC off) it is FT to the new VM's backup.
    await newcomer.run('migrate_set_capability cuju-ft on');
    expect(await newcomer.run(`gft_member_live_mig -d -c tcp:${BACKUP_IP}:${late.ftPort},`)).toBe('');
    await late.backup.waitForStdout('first commit');
    expect((await newcomer.run('info migrate')).split('\r\n')[0]).toBe('GFT STATUS PRE');
    void leader
      .run(`gft_add_member ${PRIMARY_IP} ${late.joinPort} ${MACS[2]} ${BACKUP_IP} ${late.ftPort}`)
      .catch(() => {});
    // hmp.c@d2e55fe:2731-2760 + gft_reset_all (migration.c@d2e55fe:4270-4362).
    await first.primary.waitForStdout(
      'gft_reset_all\ngft_reset_all, slave_host_join_port = 0\ngft_reset_all, slave_host_join_port = 0\n',
    );
    // The member's link to the leader ended: without GFT_RESYNC it leaves, its backup takes over.
    await second.primary.exited;
    await second.backup.waitForStdout('cuju_ft_trans_close vm_started.');
  });
});

describe('cuju-sim groupft: the wire between members (cuju-builds.md §6)', { timeout: 60_000 }, () => {
  /** A raw member: a join port that takes the leader's table and the member links. */
  async function fakeMember() {
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    return { server, sockets, port: (server.address() as { port: number }).port };
  }

  /** Reads exactly n bytes from a socket (or rejects when it ends first). */
  function reader(socket: Socket) {
    let buf = Buffer.alloc(0);
    let ended = false;
    let wake: (() => void) | undefined;
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      wake?.();
    });
    socket.on('close', () => {
      ended = true;
      wake?.();
    });
    return {
      async read(n: number): Promise<Buffer> {
        while (buf.length < n) {
          if (ended) throw new Error(`ended with ${buf.length} of ${n} bytes`);
          await new Promise<void>((r) => {
            wake = r;
          });
        }
        const out = buf.subarray(0, n);
        buf = buf.subarray(n);
        return out;
      },
      async int(): Promise<number> {
        return (await this.read(4)).readInt32LE(0);
      },
      async ended(): Promise<boolean> {
        while (!ended && buf.length === 0)
          await new Promise<void>((r) => {
            wake = r;
          });
        return ended && buf.length === 0;
      },
    };
  }

  async function accepted(member: { sockets: Socket[] }, n: number): Promise<Socket> {
    for (let i = 0; i < 500 && member.sockets.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    const s = member.sockets[n - 1];
    if (!s) throw new Error(`no connection #${n}`);
    return s;
  }

  it('the leader sends the index (not the gft_id), a 56-byte GroupFTMember, links 2 x 2, and counts a bare MIGRATION_DONE', async () => {
    const { members } = await group(1);
    const leaderVm = members[0]!;
    const member = await fakeMember();
    const leader = await RawHmp.open(leaderVm.monitor);
    await leader.run(
      `gft_add_host 0 ${PRIMARY_IP} ${leaderVm.joinPort} ${MACS[0]} ${BACKUP_IP} ${leaderVm.ftPort}`,
    );
    // The member's row says gft_id 3; it is row 1.
    await leader.run(`gft_add_host 3 127.0.0.1 ${member.port} ae:ae:00:00:00:2f 10.20.30.40 4999`);
    await leader.run('migrate_set_capability cuju-ft on');
    const init = leader.run('gft_init');
    const control = await accepted(member, 1);
    const c = reader(control);
    expect(await c.int()).toBe(7); // MIG_JOIN_GFT_ADD_HOST
    expect(await c.int()).toBe(2); // members
    expect(await c.int()).toBe(1); // the receiver's array index, which becomes its my_gft_id
    const rows = await c.read(2 * 56);
    const row = rows.subarray(56);
    expect(row.readInt32LE(0)).toBe(3);
    expect(row.subarray(4, 13).toString('latin1')).toBe('127.0.0.1');
    expect(row.readInt32LE(20)).toBe(member.port);
    expect([...row.subarray(24, 30)]).toEqual([0xae, 0xae, 0, 0, 0, 0x2f]);
    // slave_host_ip at 30: char arrays are not padded.
    expect(row.subarray(30, 41).toString('latin1')).toBe('10.20.30.40');
    expect(row.readInt32LE(48)).toBe(4999);
    expect(await c.int()).toBe(0); // backup pool size
    expect(await c.int()).toBe(8); // MIG_JOIN_GFT_INIT
    control.write(Buffer.from([9, 0, 0, 0])); // MIG_JOIN_GFT_INIT_ACK
    expect(await init).toBe('');
    // After its own backup's ACK the leader links to every higher member: 2 x 2 sockets,
    // each: gft_id, is_next_state, index; our index back; MIG_JOIN_GFT_NEW.
    for (let n = 0; n < 4; n++) {
      const link = await accepted(member, 2 + n);
      const l = reader(link);
      expect(await l.int()).toBe(0); // the leader's gft_id
      const isNext = await l.int();
      expect(isNext).toBe(n < 2 ? 0 : 1);
      expect(await l.int()).toBe(isNext); // its MigrationState's cur_off
      link.write(Buffer.from([isNext, 0, 0, 0]));
      expect(await l.int()).toBe(10); // MIG_JOIN_GFT_NEW
    }
    // The leader waits for us: `wait for other migrations..` from the first poll.
    await leaderVm.primary.waitForStdout('wait for other migrations..\n');
    expect(leaderVm.backup.stdout()).not.toContain('first commit');
    control.write(Buffer.from([11, 0, 0, 0])); // MIG_JOIN_GFT_MIGRATION_DONE, no id
    expect(await c.int()).toBe(12); // MIG_JOIN_GFT_MIGRATION_ALL
    expect(await c.ended()).toBe(true); // then the control link is closed
    await leaderVm.backup.waitForStdout('first commit');
  });

  it('a member takes the index it is sent as its id: with no row of that id it aborts', async () => {
    const { members } = await group(1);
    const m = members[0]!;
    const { createConnection } = await import('node:net');
    const leaderLink = createConnection({ host: '127.0.0.1', port: m.joinPort });
    await new Promise<void>((r) => leaderLink.once('connect', () => r()));
    leaderLink.on('error', () => {});
    const row = (gftId: number) => {
      const b = Buffer.alloc(56);
      b.writeInt32LE(gftId, 0);
      b.write('127.0.0.1', 4, 'latin1');
      b.writeInt32LE(1, 20);
      b.write('127.0.0.1', 30, 'latin1');
      b.writeInt32LE(m.ftPort, 48);
      return b;
    };
    const int = (v: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32LE(v, 0);
      return b;
    };
    // Rows with ids 0 and 5; we send index 1: the member's my_gft_id becomes 1, no row has it.
    leaderLink.write(Buffer.concat([int(7), int(2), int(1), row(0), row(5), int(0), int(8)]));
    expect((await m.primary.exited).signal).toBe('SIGABRT');
    expect(m.primary.stderr()).toContain(
      "migration/migration.c:4116: gft_start_migration: Assertion `i < group_ft_members_size' failed.",
    );
    leaderLink.destroy();
  });
});
