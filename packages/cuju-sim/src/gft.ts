import { createServer, type Server, type Socket } from 'node:net';
import type { SimBuild } from './builds.js';
import type { SimConfig } from './config.js';
import { crashPoint } from './faults.js';
import {
  BACKUP_BYTES,
  ByteReader,
  decodeBackup,
  decodeMember,
  encodeBackup,
  encodeMember,
  GFT,
  type GftBackup,
  type GftMember,
  int,
  ipField,
  MEMBER_BYTES,
  parseMac,
} from './gft-wire.js';
import { assertFailed, MARKERS, say } from './stdout.js';
import { connectTcp } from './tcp.js';
import type { Vm } from './vm.js';

/** What the group engine needs of its process. */
export interface GftHost {
  readonly vm: Vm;
  readonly config: SimConfig;
  /** gft_start_migration: `migrate tcp:IP:PORT,ft_mode` with cuju on (errors are ignored there). */
  startGroupFt(host: string, port: number): void;
  /** migrate_pause (gft_reset_all pauses the epochs). */
  pauseFt(paused: boolean): void;
  exit(code: number): void;
}

/** `EPOCH_TIME_IN_MS * 2 * 3` between polls, `wait for other migrations..` every 50 (migration.c@d2e55fe:2915-2921). */
const WAIT_POLL_MS = 30;
const WAIT_SAY_EVERY = 50;
/** GROUP_FT_MEMBER_MAX (group_ft.h@d2e55fe:5). */
const MEMBER_MAX = 100;

const MIGRATION_C = 'migration/migration.c';

/**
 * Group FT as the groupft tip (d2e55fe) runs it, over real TCP; cuju-builds.md §3-§6.
 *
 * - Every VM of the build listens on 0:-ft-join-port (Sim binds it, aborting on failure).
 * - gft_add_host / gft_add_host2 fill the leader's table; output only on stdout.
 * - gft_init (qmp_gft_leader_init): for each row but the leader's own (matched on the
 *   leader's -gft-id), connect to the member's join port and send ADD_HOST, the member
 *   count, the member's *array index* (which becomes its my_gft_id), the GroupFTMember
 *   array, the backup pool, INIT; wait for INIT_ACK. Then every member migrates to its
 *   backup with cuju on (gft_start_migration).
 * - After its own backup's first ACK, each member links to every member with a higher id
 *   (2 x 2 sockets, each opened with a gft_id / is_next_state / index handshake and NEW),
 *   tells the leader MIGRATION_DONE (no id: the leader counts), and polls until all are
 *   done; the leader then sends MIGRATION_ALL and closes its control links.
 * - gft_status stays PRE (nothing sets START); gft_add_member makes it WAIT.
 * - Without GFT_RESYNC (`//#define GFT_RESYNC`, migration.c@d2e55fe:52): when a member's
 *   link ends, the surviving primaries exit(-1) and their backups take over.
 *
 * Every join-port read is `assert(read(...) == 4)`: a connection that closes early (a
 * probe) aborts the VM. Not simulated: the per-epoch barriers (SNAPSHOT_START, COMMIT1,
 * COMMIT2) over the member links, and the main loop blocking in those reads (a silent
 * connection would freeze the real VM's monitor; here only the join port waits).
 */
export class Gft {
  private server: Server | undefined;
  /** gft_accept_leader until a table came, then gft_master_accept_other_master. */
  private acceptMode: 'leader' | 'mesh' = 'leader';
  /** group_ft_members_tmp: the leader's table being built. */
  private tableTmp: GftMember[] = [];
  private backups: GftBackup[] = [];
  /** group_ft_members: the group, once known. */
  private members: GftMember[] = [];
  private myId: number;
  private leaderInited = false;
  private isLeader = false;
  /** The leader's control links (group_ft_sockets). */
  private readonly controlLinks = new Set<Socket>();
  /** A member's link from the leader (group_ft_leader_sock). */
  private leaderLink: Socket | undefined;
  private ready = 0;
  private readonly mesh: Array<{ socket: Socket; write: boolean }> = [];
  private waitTimer: NodeJS.Timeout | undefined;
  private waitCount = 0;
  private newMember = false;
  private closed = false;

  constructor(
    private readonly host: GftHost,
    private readonly build: SimBuild,
  ) {
    this.myId = host.config.gftId;
  }

  /** gft_init(port) in vl.c: listen on 0:PORT. Rejects with the OS error (Sim aborts). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket));
      server.once('error', reject);
      server.listen(this.host.config.ftJoinPort, '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
      this.server = server;
    });
  }

  /** qmp_gft_add_host / qmp_gft_add_host2: output on stdout only, never an Error. */
  addHost(
    fn: 'qmp_gft_add_host' | 'qmp_gft_add_host2',
    m: {
      gftId: number;
      masterIp: string;
      masterGftPort: number;
      mac: string;
      slaveIp: string;
      slaveFtPort: number;
      slaveJoinPort?: number;
    },
  ): void {
    if (this.leaderInited) {
      say(MARKERS.addHostStarted(fn));
      return;
    }
    const mac = parseMac(m.mac);
    if (!mac) {
      // The slot is not counted: the next gft_add_host reuses it.
      say(MARKERS.addHostBadMac(fn));
      return;
    }
    this.tableTmp.push({
      gftId: m.gftId,
      masterIp: ipField(m.masterIp),
      masterGftPort: m.masterGftPort,
      mac,
      slaveIp: ipField(m.slaveIp),
      slaveFtPort: m.slaveFtPort,
      slaveJoinPort: m.slaveJoinPort ?? 0,
    });
  }

  /** qmp_gft_add_backup: appended to the pool; the pool is only used under GFT_RESYNC. */
  addBackup(slaveIp: string, slaveIncomingPort: number): void {
    this.backups.push({ slaveIp: ipField(slaveIp), slaveGftPort: 0, slaveIncomingPort });
  }

  /** gft_member_live_mig sets is_gft_new_member; at the tip it changes nothing visible. */
  markNewMember(): void {
    this.newMember = true;
  }

  get isNewMember(): boolean {
    return this.newMember;
  }

  /**
   * qmp_gft_leader_init (migration.c@d2e55fe:4516-4588). Resolves when the HMP command
   * would return; never, when the leader connects to its own join port (its row's id is
   * not its -gft-id): the main loop then blocks in read() (cuju-builds.md §4, inferred).
   */
  async leaderInit(): Promise<void> {
    if (this.leaderInited) return;
    this.isLeader = true;
    this.leaderInited = true;
    crashPoint(this.host.config.sim, 'gft-init');
    const table = [...this.tableTmp];
    for (const [i, m] of table.entries()) {
      const where = `${m.masterIp}:${m.masterGftPort}`;
      if (m.gftId === this.myId) {
        this.members = table;
        continue;
      }
      if (m.masterGftPort === this.host.config.ftJoinPort && this.server !== undefined) {
        // Our own join port: its accept handler needs the main loop we are blocking.
        return new Promise<void>(() => {});
      }
      let socket: Socket;
      try {
        socket = await connectTcp(m.masterIp, m.masterGftPort);
      } catch {
        say(MARKERS.leaderConnectError(where));
        return;
      }
      const reader = readerOf(socket);
      socket.write(this.tableBytes(table, i));
      const ack = await readIntOrAbort(
        reader,
        4575,
        'qmp_gft_leader_init',
        'read(sd, &send, sizeof(send)) == sizeof(send)',
      );
      if (ack !== GFT.INIT_ACK) {
        say(MARKERS.leaderInitAck(where));
        return;
      }
      this.controlLinks.add(socket);
      void this.readMigrationDone(socket, reader);
    }
    this.startMigration();
  }

  /** ADD_HOST, count, the receiver's index, members, backup pool, INIT (4555-4573). */
  private tableBytes(table: readonly GftMember[], index: number): Buffer {
    if (this.build === 'blk-server') {
      // The older layout (migration.c@4b17b51:3805-3816): no index, no pool, no join-port field.
      const members = table.map((m) => encodeMember(m).subarray(0, MEMBER_BYTES - 4));
      return Buffer.concat([int(GFT.ADD_HOST), int(table.length), ...members, int(GFT.INIT)]);
    }
    return Buffer.concat([
      int(GFT.ADD_HOST),
      int(table.length),
      int(index),
      ...table.map(encodeMember),
      int(this.backups.length),
      ...this.backups.map(encodeBackup),
      int(GFT.INIT),
    ]);
  }

  /** gft_start_migration (4103-4122): find our row, cuju_ft_mode = INIT, migrate to our backup. */
  private startMigration(): void {
    const me = this.members.find((m) => m.gftId === this.myId);
    if (!me) assertFailed(MIGRATION_C, 4116, 'gft_start_migration', 'i < group_ft_members_size');
    this.host.vm.ftMode = 1;
    this.host.startGroupFt(me.slaveIp, me.slaveFtPort);
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    if (this.acceptMode === 'leader') void this.acceptLeader(socket);
    else void this.acceptOtherMaster(socket);
  }

  /** gft_master_accept_leader (4131-4205): the table from the leader. */
  private async acceptLeader(socket: Socket): Promise<void> {
    const reader = readerOf(socket);
    const read = (line: number, what = 'read(fd, &received, sizeof(received)) == sizeof(received)') =>
      readIntOrAbort(reader, line, 'gft_master_accept_leader', what);
    const readBytes = async (n: number, line: number, what: string) => {
      try {
        return await reader.read(n);
      } catch {
        return assertFailed(MIGRATION_C, line, 'gft_master_accept_leader', what);
      }
    };
    const first = await read(4149);
    if (first !== GFT.ADD_HOST) {
      say(`gft_master_accept_leader error command, received = ${first}, expect MIG_JOIN_GFT_ADD_HOST.`);
      return this.acceptFailed(socket);
    }
    const count = await read(4155);
    if (count >= MEMBER_MAX || count <= 0) {
      say(`gft_master_accept_leader bad group_ft_members_size: ${count}`);
      return this.acceptFailed(socket);
    }
    // "update my_gft_id when re-sync": the leader sends our array index.
    this.myId = await read(4163, 'read(fd, &my_gft_id, sizeof(my_gft_id)) == sizeof(my_gft_id)');
    const raw = await readBytes(
      count * MEMBER_BYTES,
      4164,
      'read(fd, group_ft_members, sizeof(GroupFTMember)*group_ft_members_size) == sizeof(GroupFTMember)*group_ft_members_size',
    );
    const members: GftMember[] = [];
    for (let i = 0; i < count; i++) members.push(decodeMember(raw.subarray(i * MEMBER_BYTES)));
    const pool = await read(
      4177,
      'read(fd, &gft_backup_pool_size, sizeof(gft_backup_pool_size)) == sizeof(gft_backup_pool_size)',
    );
    const poolRaw = await readBytes(
      Math.max(0, pool) * BACKUP_BYTES,
      4178,
      'read(fd, group_ft_backup, sizeof(GroupFTBackup)*gft_backup_pool_size) == sizeof(GroupFTBackup)*gft_backup_pool_size',
    );
    const backups: GftBackup[] = [];
    for (let i = 0; i < pool; i++) backups.push(decodeBackup(poolRaw.subarray(i * BACKUP_BYTES)));
    if ((await read(4182)) !== GFT.INIT) {
      say('gft_master_accept_leader error command, expect MIG_JOIN_GFT_INIT.');
      return this.acceptFailed(socket);
    }
    this.members = members;
    this.backups = backups;
    this.acceptMode = 'mesh';
    socket.write(int(GFT.INIT_ACK));
    crashPoint(this.host.config.sim, 'gft-join');
    this.leaderLink = socket;
    void this.readMigrationAll(socket, reader);
    this.startMigration();
  }

  /** The `err:` path: the connection and the join port itself are closed (4200-4204). */
  private acceptFailed(socket: Socket): void {
    socket.destroy();
    this.server?.close();
  }

  /** gft_master_accept_other_master_one (3848-3985): one end of a member-to-member link. */
  private async acceptOtherMaster(socket: Socket): Promise<void> {
    const reader = readerOf(socket);
    const recv = (line: number, what: string) =>
      readIntOrAbort(reader, line, 'pthread_accept_other_master', what);
    await recv(3949, 'recv(c, &accept_gft_id, sizeof(accept_gft_id), 0) == sizeof(accept_gft_id)');
    const isNextState = await recv(
      3960,
      'recv(c, &is_next_state, sizeof(is_next_state), 0) == sizeof(is_next_state)',
    );
    await recv(3971, 'recv(c, &index, sizeof(index), 0) == sizeof(index)');
    socket.write(int(isNextState === 0 ? 0 : 1)); // our s->cur_off for that MigrationState
    const cmd = await recv(3979, 'recv(c, &cmd, sizeof(cmd), 0) == sizeof(cmd)');
    if (cmd !== GFT.NEW)
      assertFailed(MIGRATION_C, 3980, 'pthread_accept_other_master', 'cmd == MIG_JOIN_GFT_NEW');
    this.mesh.push({ socket, write: false });
  }

  /**
   * What a member does after its own backup's first ACK, in migrate_ft_trans_get_ready:
   * link to the higher members, tell the leader, wait for everyone, then run.
   */
  beforeRun(run: () => void): void {
    void (async () => {
      await this.connectInternal();
      this.notifyLeader();
      this.waitAll(run);
    })();
  }

  /** gft_connect_internal (2747-2786): 2 x 2 sockets to every member with a higher id. */
  private async connectInternal(): Promise<void> {
    for (const m of this.members) {
      if (m.gftId <= this.myId) continue;
      for (const isNextState of [0, 1]) {
        for (const write of [false, true]) {
          const where = `${m.masterIp}:${m.masterGftPort}`;
          let socket: Socket;
          try {
            socket = await connectTcp(m.masterIp, m.masterGftPort);
          } catch {
            say(MARKERS.memberConnectError(where));
            return;
          }
          const reader = readerOf(socket);
          socket.write(Buffer.concat([int(this.myId), int(isNextState), int(isNextState)]));
          await readIntOrAbort(
            reader,
            write ? 2729 : 2706,
            'gft_master_connect_other_master',
            'recv(sd, &index, sizeof(index), 0) == sizeof(index)',
          );
          socket.write(int(GFT.NEW));
          this.mesh.push({ socket, write });
        }
      }
    }
  }

  /** gft_master_notify_leader_migration_done (2798-2826): MIGRATION_DONE carries no id. */
  private notifyLeader(): void {
    if (this.members.length === 0) return;
    if (this.leaderLink) this.leaderLink.write(int(GFT.MIGRATION_DONE));
    else if (++this.ready === this.members.length) this.broadcastAll();
  }

  /** gft_leader_read_master (4428-4441): a member's MIGRATION_DONE. */
  private async readMigrationDone(socket: Socket, reader: ByteReader): Promise<void> {
    let cmd: number;
    try {
      cmd = await reader.readInt();
    } catch {
      if (this.closed || !this.controlLinks.has(socket)) return;
      return assertFailed(
        MIGRATION_C,
        4433,
        'gft_leader_read_master',
        'read(fd, &cmd, sizeof(cmd)) == sizeof(cmd)',
      );
    }
    if (cmd !== GFT.MIGRATION_DONE)
      assertFailed(MIGRATION_C, 4434, 'gft_leader_read_master', 'cmd == MIG_JOIN_GFT_MIGRATION_DONE');
    if (++this.ready === this.members.length) this.broadcastAll();
  }

  /** gft_leader_broadcast_all_migration_done (4407-4421): MIGRATION_ALL, then the control links close. */
  private broadcastAll(): void {
    for (const socket of this.controlLinks) socket.end(int(GFT.MIGRATION_ALL));
    this.controlLinks.clear();
  }

  /** gft_master_read_leader (4082-4101): the leader's MIGRATION_ALL; the link is closed. */
  private async readMigrationAll(socket: Socket, reader: ByteReader): Promise<void> {
    let cmd: number;
    try {
      cmd = await reader.readInt();
    } catch {
      if (this.closed) return;
      return assertFailed(
        MIGRATION_C,
        4079,
        'gft_master_read_leader',
        'read(fd, &cmd, sizeof(cmd)) == sizeof(cmd)',
      );
    }
    if (cmd !== GFT.MIGRATION_ALL)
      assertFailed(MIGRATION_C, 4080, 'gft_master_read_leader', 'cmd == MIG_JOIN_GFT_MIGRATION_ALL');
    socket.destroy();
    this.leaderLink = undefined;
    this.ready = this.members.length;
  }

  /** gft_master_wait_all_migration_done (2872-2922): run once every member is done. */
  private waitAll(run: () => void): void {
    if (this.closed) return;
    if (this.members.length === 0 || this.ready === this.members.length) {
      this.watchMesh();
      run();
      return;
    }
    if (this.waitCount % WAIT_SAY_EVERY === 0) say(MARKERS.waitOthers);
    this.waitCount++;
    this.waitTimer = setTimeout(() => this.waitAll(run), WAIT_POLL_MS);
  }

  /**
   * gft_master_start_listen_other_masters, then gft_master_read_master (2459-2545):
   * without GFT_RESYNC, a member link that ends makes this primary exit(-1).
   */
  private watchMesh(): void {
    for (const { socket } of this.mesh) {
      socket.on('data', () => {}); // the per-epoch barrier bytes are not simulated
      socket.on('close', () => {
        if (!this.closed) this.host.exit(255);
      });
    }
  }

  /**
   * hmp_gft_add_member on the leader (hmp.c@d2e55fe:2731-2760). At the tip this tears the
   * group down: ADDING_MEMBER to the members, GFT_WAIT, gft_reset_all (which closes every
   * member link, so the other primaries exit(-1), and re-adds the rows with
   * gft_add_host2), the new row, then qmp_gft_leader_init again. What that last step
   * meets depends on how fast the members exit (inferred: it reports an error).
   */
  async addMember(m: {
    masterIp: string;
    masterGftPort: number;
    mac: string;
    slaveIp: string;
    slaveFtPort: number;
  }): Promise<void> {
    for (const { socket, write } of this.mesh) if (write) socket.write(Buffer.of(GFT.ADDING_MEMBER));
    this.host.vm.gftStatus = 'WAIT';
    this.resetAll();
    this.addHost('qmp_gft_add_host', { ...m, gftId: this.members.length });
    await this.leaderInit();
  }

  /** gft_reset_all (4270-4362), as the leader runs it. */
  private resetAll(): void {
    say(MARKERS.resetAll);
    for (const { socket } of this.mesh.splice(0)) {
      socket.removeAllListeners('close');
      socket.destroy();
    }
    this.leaderInited = false;
    this.tableTmp = [];
    this.ready = 0;
    this.host.pauseFt(true);
    this.host.vm.stop('debug');
    this.host.vm.gftStatus = 'WAIT';
    if (!this.isLeader) return;
    this.myId = 0;
    const old = this.members;
    for (const row of old) {
      say(MARKERS.resetAllJoinPort(row.slaveJoinPort));
      const mac = [...row.mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
      this.addHost('qmp_gft_add_host2', { ...row, mac });
    }
  }

  close(): void {
    this.closed = true;
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.server?.close();
    for (const s of this.controlLinks) s.destroy();
    this.leaderLink?.destroy();
    for (const { socket } of this.mesh) socket.destroy();
  }
}

/** `assert(read(...) == sizeof(int))`: an int, or, when the peer ends first, the assert's abort. */
async function readIntOrAbort(reader: ByteReader, line: number, fn: string, expr: string): Promise<number> {
  try {
    return await reader.readInt();
  } catch {
    return assertFailed(MIGRATION_C, line, fn, expr);
  }
}

function readerOf(socket: Socket): ByteReader {
  const reader = new ByteReader();
  socket.on('data', (c: Buffer) => reader.push(c));
  socket.on('error', () => {});
  socket.on('close', () => reader.end(new Error('closed')));
  return reader;
}
