import { createServer, type Server, type Socket } from 'node:net';
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
import { MARKERS, say } from './stdout.js';
import { connectTcp } from './tcp.js';
import type { Vm } from './vm.js';

/** What the group engine needs of its process. */
export interface GftHost {
  readonly vm: Vm;
  readonly config: SimConfig;
  /** Starts FT to this member's backup as gft_start_migration does (cuju on). */
  startGroupFt(host: string, port: number): void;
  exit(code: number): void;
}

const ACK_TIMEOUT_MS = 3000;
/** EPOCH_TIME_IN_MS*2*3 and a message every 50 polls (reference §5.4). */
const WAIT_POLL_MS = 30;
const WAIT_SAY_EVERY = 50;

interface Link {
  socket: Socket;
  reader: ByteReader;
}

/**
 * Group FT over real TCP: the leader's table (gft_add_host), gft_init sending it to each
 * member's -ft-join-port, every member starting FT to its own backup, GFT STATUS going
 * PRE → START once all have synced, and member failure (GFT_RESYNC off: survivors exit
 * so their backups take over; on: the group goes WAIT and re-forms without the failed
 * member). Cuju's per-epoch group barriers (SNAPSHOT_START/COMMIT2) are not simulated.
 */
export class Gft {
  private server: Server | undefined;
  /** The leader's pending table (gft_add_host), and the group once initialised. */
  private table: GftMember[] = [];
  private backups: GftBackup[] = [];
  private members: GftMember[] = [];
  private readonly links = new Map<number, Link>();
  private leaderInited = false;
  private started = false;
  private done = new Set<number>();
  private myId: number;
  private newMember = false;
  private waitTimer: NodeJS.Timeout | undefined;

  constructor(private readonly host: GftHost) {
    this.myId = host.config.gftId;
    host.vm.on('ft-started', () => this.ownFtStarted());
  }

  /** Listens on -ft-join-port (gft_init(port) in vl.c) for the leader and the other members. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => void this.incoming(socket));
      server.once('error', reject);
      server.listen(this.host.config.ftJoinPort, '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
      this.server = server;
    });
  }

  /** gft_add_host (and gft_add_host2 with the backup's join port). Output goes to stdout only. */
  addHost(m: {
    gftId: number;
    masterIp: string;
    masterGftPort: number;
    mac: string;
    slaveIp: string;
    slaveFtPort: number;
    slaveJoinPort?: number;
  }): void {
    if (this.started) {
      say(MARKERS.addHostStarted);
      return;
    }
    const mac = parseMac(m.mac);
    if (!mac) {
      say(MARKERS.addHostBadMac);
      return;
    }
    this.table.push({
      gftId: m.gftId,
      masterIp: ipField(m.masterIp),
      masterGftPort: m.masterGftPort,
      mac,
      slaveIp: ipField(m.slaveIp),
      slaveFtPort: m.slaveFtPort,
      slaveJoinPort: m.slaveJoinPort ?? 0,
    });
  }

  addBackup(slaveIp: string, slaveIncomingPort: number): void {
    this.backups.push({ slaveIp: ipField(slaveIp), slaveGftPort: 0, slaveIncomingPort });
  }

  /** gft_init on the leader: send the table to every other member, then start FT everywhere. */
  async leaderInit(): Promise<void> {
    if (this.leaderInited) return; // a second call does nothing (group_ft_leader_inited)
    this.leaderInited = true;
    this.myId = 0;
    crashPoint(this.host.config.sim, 'gft-init');
    if (!(await this.sendTable(this.table))) return;
    this.members = [...this.table];
    this.started = true;
    this.startOwnFt();
  }

  /** gft_add_member on the leader, after the new VM finished gft_member_live_mig. */
  async addMember(m: {
    masterIp: string;
    masterGftPort: number;
    mac: string;
    slaveIp: string;
    slaveFtPort: number;
  }): Promise<void> {
    const mac = parseMac(m.mac);
    if (!mac) {
      say(MARKERS.addHostBadMac);
      return;
    }
    for (const link of this.links.values()) link.socket.write(int(GFT.ADDING_MEMBER));
    this.host.vm.gftStatus = 'WAIT';
    const member: GftMember = {
      gftId: this.members.length,
      masterIp: ipField(m.masterIp),
      masterGftPort: m.masterGftPort,
      mac,
      slaveIp: ipField(m.slaveIp),
      slaveFtPort: m.slaveFtPort,
      slaveJoinPort: 0,
    };
    const table = [...this.members, member];
    if (!(await this.sendTable(table, [member.gftId]))) return;
    this.members = table;
    say(MARKERS.addMemberFinish);
    // The new member has synced already (gft_member_live_mig); the others were running.
    for (const x of table) this.done.add(x.gftId);
    this.allDone();
  }

  /** gft_member_live_mig: FT first, then wait in GFT_WAIT for the leader's gft_add_member. */
  markNewMember(): void {
    this.newMember = true;
  }

  get isWaitingMember(): boolean {
    return this.newMember;
  }

  private async sendTable(table: GftMember[], only?: number[]): Promise<boolean> {
    for (const member of table) {
      if (member.gftId === this.myId) continue;
      if (only && !only.includes(member.gftId) && this.links.has(member.gftId)) {
        // Existing members get the new table over their open link.
        this.writeTable(this.links.get(member.gftId)!.socket, table, member.gftId);
        continue;
      }
      const where = `${member.masterIp}:${member.masterGftPort}`;
      let socket: Socket;
      try {
        socket = await connectTcp(member.masterIp, member.masterGftPort);
      } catch {
        say(MARKERS.leaderConnectError(where));
        return false;
      }
      const link: Link = { socket, reader: new ByteReader() };
      this.attach(member.gftId, link);
      this.writeTable(socket, table, member.gftId);
      const ack = await withTimeout(link.reader.readInt(), ACK_TIMEOUT_MS).catch(() => undefined);
      if (ack !== GFT.INIT_ACK) {
        say(`qmp_gft_leader_init failed to receive MIG_JOIN_GFT_INIT_ACK from ${where}.`);
        return false;
      }
      void this.serve(member.gftId, link);
    }
    return true;
  }

  private writeTable(socket: Socket, table: GftMember[], index: number): void {
    const parts = [int(GFT.ADD_HOST), int(table.length), int(index), ...table.map(encodeMember)];
    parts.push(int(this.backups.length), ...this.backups.map(encodeBackup), int(GFT.INIT));
    socket.write(Buffer.concat(parts));
  }

  /** A connection to our join port: the leader's table, or another member's mesh link. */
  private async incoming(socket: Socket): Promise<void> {
    const link: Link = { socket, reader: new ByteReader() };
    socket.on('data', (c: Buffer) => link.reader.push(c));
    socket.on('error', () => {});
    socket.on('close', () => link.reader.end(new Error('closed')));
    try {
      const first = await link.reader.readInt();
      if (first === GFT.NEW) {
        const peer = await link.reader.readInt();
        this.attach(peer, link, false);
        void this.serve(peer, link);
        return;
      }
      if (first !== GFT.ADD_HOST) throw new Error(`unexpected ${first}`);
      await this.receiveTable(link);
      socket.write(int(GFT.INIT_ACK));
      crashPoint(this.host.config.sim, 'gft-join');
      this.attach(0, link, false);
      void this.serve(0, link);
      await this.connectMesh();
      if (!this.started) {
        this.started = true;
        if (!this.newMember) this.startOwnFt();
        else this.ownFtStarted();
      }
    } catch {
      socket.destroy();
    }
  }

  private async receiveTable(link: Link): Promise<void> {
    const count = await link.reader.readInt();
    this.myId = await link.reader.readInt();
    const members: GftMember[] = [];
    for (let i = 0; i < count; i++) members.push(decodeMember(await link.reader.read(MEMBER_BYTES)));
    const nBackups = await link.reader.readInt();
    const backups: GftBackup[] = [];
    for (let i = 0; i < nBackups; i++) backups.push(decodeBackup(await link.reader.read(BACKUP_BYTES)));
    if ((await link.reader.readInt()) !== GFT.INIT) throw new Error('table without INIT');
    this.members = members;
    this.backups = backups;
  }

  /** Members link to every member with a higher id (the leader linked to all). */
  private async connectMesh(): Promise<void> {
    for (const m of this.members) {
      if (m.gftId <= this.myId || m.gftId === 0 || this.links.has(m.gftId)) continue;
      try {
        const socket = await connectTcp(m.masterIp, m.masterGftPort);
        const link: Link = { socket, reader: new ByteReader() };
        this.attach(m.gftId, link);
        socket.write(Buffer.concat([int(GFT.NEW), int(this.myId)]));
        void this.serve(m.gftId, link);
      } catch {
        this.memberFailed(m.gftId);
      }
    }
  }

  private attach(peer: number, link: Link, wire = true): void {
    this.links.set(peer, link);
    if (wire) {
      link.socket.on('data', (c: Buffer) => link.reader.push(c));
      link.socket.on('error', () => {});
      link.socket.on('close', () => link.reader.end(new Error('closed')));
    }
  }

  /** Reads control messages from a peer until its link ends (then: a failed member). */
  private async serve(peer: number, link: Link): Promise<void> {
    try {
      for (;;) {
        const msg = await link.reader.readInt();
        if (msg === GFT.MIGRATION_DONE) {
          this.done.add(await link.reader.readInt());
          this.allDone();
        } else if (msg === GFT.MIGRATION_ALL) {
          this.groupStarted();
        } else if (msg === GFT.ADDING_MEMBER) {
          this.host.vm.gftStatus = 'WAIT';
        } else if (msg === GFT.ADD_HOST) {
          await this.receiveTable(link);
          link.socket.write(int(GFT.INIT_ACK));
        }
      }
    } catch {
      if (this.links.get(peer) === link) this.memberFailed(peer);
    }
  }

  private startOwnFt(): void {
    const me = this.members.find((m) => m.gftId === this.myId);
    if (!me) return;
    this.host.startGroupFt(me.slaveIp, me.slaveFtPort);
    this.waitTimer = setInterval(() => {
      if (++this.polls % WAIT_SAY_EVERY === 0) say(MARKERS.waitOthers);
    }, WAIT_POLL_MS);
  }

  private polls = 0;

  /** Our own first FT sync is done: tell the leader (the leader counts itself). */
  private ownFtStarted(): void {
    if (!this.started && !this.newMember) return;
    if (this.newMember) {
      // gft_member_live_mig: synced, now wait for the leader's gft_add_member.
      this.host.vm.gftStatus = 'WAIT';
      if (!this.started) return;
    }
    if (this.myId === 0) {
      this.done.add(0);
      this.allDone();
    } else {
      this.links.get(0)?.socket.write(Buffer.concat([int(GFT.MIGRATION_DONE), int(this.myId)]));
    }
  }

  private allDone(): void {
    if (this.myId !== 0) return;
    if (!this.members.every((m) => this.done.has(m.gftId))) return;
    for (const link of this.links.values()) link.socket.write(int(GFT.MIGRATION_ALL));
    this.groupStarted();
  }

  private groupStarted(): void {
    if (this.waitTimer) clearInterval(this.waitTimer);
    this.newMember = false;
    this.host.vm.gftStatus = 'START';
  }

  /** A member's link ended: without GFT_RESYNC the survivors exit(-1); with it, the group re-forms. */
  private memberFailed(peer: number): void {
    this.links.delete(peer);
    if (!this.started) return;
    if (!this.host.config.sim.gftResync) {
      this.host.exit(255);
      return;
    }
    say(MARKERS.resetAll);
    this.host.vm.gftStatus = 'WAIT';
    const survivors = this.members.filter((m) => m.gftId !== peer);
    // Ids after the failed one move down; the lowest survivor leads (member 1 if the leader failed).
    const renumbered = survivors.map((m, i) => ({ ...m, gftId: i }));
    const me = survivors.findIndex((m) => m.gftId === this.myId);
    const relinked = new Map<number, Link>();
    for (const [oldId, link] of this.links) {
      const idx = survivors.findIndex((m) => m.gftId === oldId);
      if (idx !== -1) relinked.set(idx, link);
    }
    this.links.clear();
    for (const [k, v] of relinked) this.links.set(k, v);
    this.members = renumbered;
    this.myId = me;
    this.done = new Set(renumbered.map((m) => m.gftId));
    // Every survivor's FT pair is still running: the group is whole again at once.
    this.groupStarted();
  }

  close(): void {
    if (this.waitTimer) clearInterval(this.waitTimer);
    this.server?.close();
    for (const link of this.links.values()) link.socket.destroy();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
