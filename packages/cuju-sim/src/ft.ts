import { createServer, type Server, type Socket } from 'node:net';
import type { IncomingSpec, SimFaults } from './config.js';
import { crashPoint } from './faults.js';
import { encode, FT_CMD, FtDecoder, type FtMessage } from './ft-wire.js';
import { MARKERS, report, say } from './stdout.js';
import { connectTcp } from './tcp.js';
import { FT_MODE, type Vm } from './vm.js';

/**
 * Cuju FT over real TCP, without copying memory. The sender (primary) opens 4
 * connections to the backup's -incoming port, in Cuju's order (migration/socket.c):
 * cuju-dev-outgoing1, cuju-ram-outgoing1, cuju-dev-outgoing2, cuju-ram-outgoing2.
 * The receiver sends ACK to start; the sender streams an initial "RAM" image, stops the
 * VM for the device state, and once the receiver's ACK1 commits it, FT runs: one epoch
 * (BEGIN, CONTINUE, COMMIT1 / ACK1) every epoch length, alternating between the two
 * MigrationStates as Cuju's pipeline does. Failure detection is TCP EOF, as in Cuju.
 */
const CHANNELS = [
  'cuju-dev-outgoing1',
  'cuju-ram-outgoing1',
  'cuju-dev-outgoing2',
  'cuju-ram-outgoing2',
] as const;
const INITIAL_RAM_BYTES = 256 * 1024;
const EPOCH_DIRTY_BYTES = 4096;
const TICK_EVERY = 64;

type Pair = 0 | 1;
const ramIndex = (pair: Pair) => (pair === 0 ? 1 : 3);
const devIndex = (pair: Pair) => (pair === 0 ? 0 : 2);

export class FtSender {
  private sockets: Socket[] = [];
  private serial = 0n;
  private epochs = 0;
  private timer: NodeJS.Timeout | undefined;
  private outstanding = new Set<Pair>();
  private closing = false;
  private dropTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly vm: Vm,
    private readonly faults: SimFaults,
  ) {}

  /** Starts `migrate -c tcp:host:port` (asynchronous, as Cuju's: the monitor gets nothing). */
  start(host: string, port: number, ftRequested: boolean, cujuFlag: boolean): void {
    // qmp_migrate prints this for `cuju` before anything is connected.
    if (cujuFlag) say(MARKERS.enterFtMode);
    this.vm.setMigrationStatus('setup');
    void this.connectAll(host, port, ftRequested);
  }

  private async connectAll(host: string, port: number, ftRequested: boolean): Promise<void> {
    try {
      for (const _ of CHANNELS) this.sockets.push(await connectTcp(host, port));
    } catch (err) {
      this.destroySockets();
      const why =
        (err as NodeJS.ErrnoException).code === 'ECONNREFUSED'
          ? 'Connection refused'
          : (err as Error).message;
      report(`Failed to connect socket: ${why}`);
      this.vm.setMigrationStatus('failed', `Failed to connect socket: ${why}`);
      return;
    }
    crashPoint(this.faults, 'ft-connect');
    this.vm.setMigrationStatus('active');
    for (const [index, socket] of this.sockets.entries()) this.watch(socket, index, ftRequested);
  }

  private watch(socket: Socket, index: number, ftRequested: boolean): void {
    const decoder = new FtDecoder();
    socket.on('data', (chunk: Buffer) => {
      let messages: FtMessage[];
      try {
        messages = decoder.push(chunk);
      } catch {
        this.linkLost();
        return;
      }
      for (const msg of messages) this.onMessage(msg, index, ftRequested);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.linkLost());
  }

  private onMessage(msg: FtMessage, index: number, ftRequested: boolean): void {
    if (msg.cmd === FT_CMD.ACK && index === 1 && msg.serial === 0n) this.initialSync();
    else if (msg.cmd === FT_CMD.ACK1 && msg.serial === 0n) this.initialCommitted(ftRequested);
    else if (msg.cmd === FT_CMD.ACK1) this.outstanding.delete(Number(msg.serial % 2n) as Pair);
  }

  /** The full first copy: RAM while running, then stop for the device state. */
  private initialSync(): void {
    const ram = this.sockets[1];
    const dev = this.sockets[0];
    if (!ram || !dev) return;
    ram.write(encode({ serial: 0n, cmd: FT_CMD.BEGIN, id: 0, seq: 0 }));
    ram.write(
      encode({ serial: 0n, cmd: FT_CMD.CONTINUE, id: 0, seq: 1, payload: Buffer.alloc(INITIAL_RAM_BYTES) }),
    );
    crashPoint(this.faults, 'ft-initial-sync');
    this.vm.stop('finish-migrate');
    dev.write(encode({ serial: 0n, cmd: FT_CMD.DEV_HEADER, id: 0, seq: 0 }));
    dev.write(encode({ serial: 0n, cmd: FT_CMD.DEV_STATES, id: 0, seq: 1, payload: Buffer.alloc(1024) }));
    ram.write(encode({ serial: 0n, cmd: FT_CMD.COMMIT1, id: 0, seq: 2, payload: Buffer.alloc(0) }));
  }

  private initialCommitted(ftRequested: boolean): void {
    this.vm.setMigrationStatus('completed');
    if (!ftRequested) {
      // Without the cuju-ft capability `migrate -c` is an ordinary live migration: the
      // VM has moved to the backup, and this side ends paused (postmigrate).
      this.vm.runstate = 'postmigrate';
      this.closing = true;
      for (const s of this.sockets) s.end();
      return;
    }
    // Cuju writes MIG_STATE_ACTIVE (3) into the upstream status field, which reads as
    // 'cancelled', with no event (reference §2.3).
    this.vm.setMigrationStatus('cancelled', undefined, true);
    this.vm.ftStarted = true;
    this.vm.ftMode = FT_MODE.RUN;
    this.vm.start();
    this.vm.emit('ft-started');
    this.scheduleEpoch();
    if (this.faults.dropFtLinksAfterMs !== undefined) {
      this.dropTimer = setTimeout(() => this.destroySockets(), this.faults.dropFtLinksAfterMs);
    }
  }

  private scheduleEpoch(): void {
    const ms = this.vm.epochUs / 1000 + this.faults.slowEpochMs;
    this.timer = setTimeout(() => this.epoch(), Math.max(1, ms));
  }

  private epoch(): void {
    if (!this.vm.ftStarted) return;
    const serial = this.serial + 1n;
    const pair = Number(serial % 2n) as Pair;
    // Cuju pipelines two MigrationStates: an epoch waits while its pair is uncommitted.
    if (!this.outstanding.has(pair)) {
      this.serial = serial;
      this.outstanding.add(pair);
      const ram = this.sockets[ramIndex(pair)];
      const dev = this.sockets[devIndex(pair)];
      ram?.write(encode({ serial, cmd: FT_CMD.BEGIN, id: pair, seq: 0 }));
      ram?.write(
        encode({ serial, cmd: FT_CMD.CONTINUE, id: pair, seq: 1, payload: Buffer.alloc(EPOCH_DIRTY_BYTES) }),
      );
      dev?.write(encode({ serial, cmd: FT_CMD.DEV_STATES, id: pair, seq: 0, payload: Buffer.alloc(64) }));
      ram?.write(encode({ serial, cmd: FT_CMD.COMMIT1, id: pair, seq: 2 }));
      this.epochs++;
      if (this.epochs === 1) crashPoint(this.faults, 'ft-first-epoch');
      if (this.epochs % TICK_EVERY === 0) say(MARKERS.timerTick(this.epochs));
    }
    this.scheduleEpoch();
  }

  /** migrate_pause / migrate_resume. */
  pause(paused: boolean): void {
    if (paused) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    } else if (this.vm.ftStarted && !this.timer) {
      this.scheduleEpoch();
    }
  }

  /** cuju-migrate-cancel: back to no FT, telling the backup not to take over. */
  cancel(): boolean {
    if (!this.vm.ftStarted) return false;
    this.closing = true;
    this.stopEpochs();
    for (const [i, s] of this.sockets.entries()) {
      if (i === 1 || i === 3) s.write(encode({ serial: this.serial, cmd: FT_CMD.CANCEL, id: 0, seq: 0 }));
      s.end();
    }
    this.vm.ftStarted = false;
    this.vm.ftMode = FT_MODE.OFF;
    this.vm.setMigrationStatus('cancelled');
    return true;
  }

  /** The backup is gone (or the links are): the primary leaves FT and keeps running. */
  private linkLost(): void {
    if (this.closing) return;
    this.closing = true;
    this.stopEpochs();
    this.destroySockets();
    const wasFt = this.vm.ftStarted;
    this.vm.ftStarted = false;
    this.vm.ftMode = wasFt ? FT_MODE.ERROR : FT_MODE.OFF;
    if (this.vm.runstate === 'finish-migrate') this.vm.start();
    this.vm.setMigrationStatus('failed', 'Unable to write to socket: Connection reset by peer');
  }

  private stopEpochs(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.dropTimer) clearTimeout(this.dropTimer);
    this.timer = undefined;
  }

  private destroySockets(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): void {
    this.closing = true;
    this.stopEpochs();
    this.destroySockets();
  }
}

/**
 * The backup: listens on its -incoming address, accepts Cuju's 4 connections, commits
 * each epoch with ACK1, and takes over (cuju_ft_trans_close: vm_start) when they drop.
 */
export class FtReceiver {
  private server: Server | undefined;
  private sockets: Socket[] = [];
  private committed = false;
  private cancelled = false;
  private over = false;

  constructor(
    private readonly vm: Vm,
    private readonly spec: IncomingSpec,
    private readonly fatal: (code: number) => void,
  ) {}

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket));
      server.once('error', reject);
      server.listen(this.spec.port, this.spec.host, () => {
        server.off('error', reject);
        resolve();
      });
      this.server = server;
    });
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    // The listener takes exactly 4 connections; a fifth is closed.
    if (this.sockets.length >= 4 || this.over) {
      socket.destroy();
      return;
    }
    const index = this.sockets.length;
    this.sockets.push(socket);
    if (index === 0) say(MARKERS.enterFtIncoming);
    const decoder = new FtDecoder();
    socket.on('data', (chunk: Buffer) => {
      let messages: FtMessage[];
      try {
        messages = decoder.push(chunk);
      } catch {
        this.linksLost();
        return;
      }
      for (const msg of messages) this.onMessage(msg, socket);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.linksLost());
    if (this.sockets.length === 4) {
      // All channels are up: the incoming side stops listening and asks for the stream.
      this.server?.close();
      this.sockets[1]?.write(encode({ serial: 0n, cmd: FT_CMD.ACK, id: 0, seq: 0 }));
    }
  }

  private onMessage(msg: FtMessage, socket: Socket): void {
    if (msg.cmd === FT_CMD.COMMIT1) {
      if (!this.committed) {
        this.committed = true;
        this.vm.ftMode = FT_MODE.RECV;
        say(MARKERS.firstCommit);
      }
      socket.write(encode({ serial: msg.serial, cmd: FT_CMD.ACK1, id: msg.id, seq: 0 }));
    } else if (msg.cmd === FT_CMD.CANCEL) {
      // cuju-migrate-cancel on the primary: FT ends without a takeover (the primary runs on).
      this.cancelled = true;
      this.vm.ftMode = FT_MODE.OFF;
    }
  }

  /** EOF on any FT link: fail over if a consistent epoch exists, else the incoming load fails. */
  private linksLost(): void {
    if (this.over) return;
    this.over = true;
    this.server?.close();
    for (const s of this.sockets) s.destroy();
    if (this.cancelled) return;
    if (!this.committed) {
      report('load of migration failed: Input/output error');
      this.fatal(1);
      return;
    }
    say(MARKERS.transClose);
    this.vm.ftMode = FT_MODE.HANDOVER;
    this.vm.start();
    say(MARKERS.transCloseStarted);
  }

  /** cuju-failover on the backup: take over now, as if the primary were gone. */
  failover(): boolean {
    if (!this.committed || this.over) return false;
    this.linksLost();
    return true;
  }

  close(): void {
    this.over = true;
    this.server?.close();
    for (const s of this.sockets) s.destroy();
  }
}
