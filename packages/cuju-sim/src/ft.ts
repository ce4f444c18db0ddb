import { createServer, type Server, type Socket } from 'node:net';
import type { BuildBehaviour } from './builds.js';
import type { IncomingSpec, SimFaults } from './config.js';
import { crashPoint } from './faults.js';
import {
  ALIVE_FLAG,
  devConn,
  encode,
  encodeInitialStream,
  FT_CMD,
  FtDecoder,
  type FtMessage,
  InitialStreamReader,
  ramConn,
} from './ft-wire.js';
import { MARKERS, report, say } from './stdout.js';
import { connectTcp } from './tcp.js';
import { FT_MODE, type Vm } from './vm.js';

/**
 * Cuju FT over real TCP, without copying memory (ft-wire.ts has the wire). The sender
 * (primary) connects Cuju's 4 links synchronously, as `migrate -c` does (so a refused
 * connection is the command's own error), streams an initial image on link 0 with the VM
 * stopped, and waits for the backup's ACK; then the epochs run: one every epoch length,
 * alternating between the two MigrationStates as Cuju's pipeline does, each waiting for
 * its previous ACK1. Failure detection is TCP EOF, as in Cuju.
 */
const INITIAL_STREAM_BYTES = 256 * 1024;
const EPOCH_RAM_BYTES = 4096;
const EPOCH_DEV_BYTES = 64;
/** `(trans_serial & 0x03f) == 0` (migration.c@21f9f0b:3068). */
const TICK_MASK = 0x3fn;
/** The cancel's setitimer: one second (migration.c@21f9f0b:1586-1591). */
const CANCEL_TIMER_MS = 1000;

type Ms = 0 | 1;

export interface FtSenderHooks {
  /**
   * Called when the backup's first ACK arrived, before the epochs start; `run` starts
   * them. Group FT delays it until the whole group has synced
   * (gft_master_wait_all_migration_done); a plain pair runs at once.
   */
  beforeRun?(run: () => void): void;
  /** FT ended on this primary (link loss, cancel): the group engine reacts. */
  ftEnded?(): void;
}

export class FtSender {
  private sockets: Socket[] = [];
  private transSerial = 0n;
  private timer: NodeJS.Timeout | undefined;
  private readonly outstanding = new Set<Ms>();
  private closing = false;
  private dropTimer: NodeJS.Timeout | undefined;
  private cancelTimer: NodeJS.Timeout | undefined;
  private waitingForAck = false;
  private paused = false;
  /** FT runs: from the first epoch until it ends. */
  inFt = false;
  /** cuju-migrate-cancel sent CHECKALIVE; FT ends at the backup's answer or the timer. */
  private cancelling = false;

  constructor(
    private readonly vm: Vm,
    private readonly behaviour: BuildBehaviour,
    private readonly faults: SimFaults,
    private readonly hooks: FtSenderHooks = {},
  ) {}

  /**
   * cuju_socket_start_outgoing_migration: connects the 4 links one after the other
   * (qio_channel_socket_connect_sync, socket.c@21f9f0b:193). Resolves with the error
   * text the monitor prints (`Failed to connect socket: Connection refused`) or undefined.
   */
  async connect(host: string, port: number): Promise<string | undefined> {
    try {
      for (let i = 0; i < 4; i++) this.sockets.push(await connectTcp(host, port));
    } catch (err) {
      this.destroySockets();
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ECONNREFUSED'
          ? 'Connection refused'
          : code === 'EHOSTUNREACH'
            ? 'No route to host'
            : (err as Error).message;
      const text = `Failed to connect socket: ${why}`;
      this.vm.setMigrationStatus('failed', text);
      return text;
    }
    crashPoint(this.faults, 'ft-connect');
    return undefined;
  }

  /** migration_thread: the initial copy, then FT when `ft` (cuju-ft on), else an ordinary migration. */
  run(ft: boolean): void {
    this.vm.setMigrationStatus('active');
    for (const [index, socket] of this.sockets.entries()) this.watch(socket, index);
    const dev0 = this.sockets[devConn(0)]!;
    if (ft) {
      say(MARKERS.startMemoryBackup);
      // migration_completion: the VM stops for the whole copy (enable_cuju skips the
      // iterative phase, migration.c@21f9f0b:2605-2608).
      this.vm.stop('finish-migrate');
    }
    const stream = encodeInitialStream(INITIAL_STREAM_BYTES);
    const half = stream.length >> 1;
    dev0.write(stream.subarray(0, half));
    // -sim-crash-at ft-initial-sync dies with half the image sent: the backup cannot load it.
    crashPoint(this.faults, 'ft-initial-sync');
    dev0.write(stream.subarray(half));
    this.vm.setMigrationStatus('completed');
    if (!ft) {
      // Without cuju-ft this is an ordinary live migration: the VM has moved, this side
      // ends paused (postmigrate) and closes its links once they are flushed.
      this.vm.runstate = 'postmigrate';
      this.closing = true;
      for (const s of this.sockets) s.end();
      return;
    }
    if (this.behaviour.printsFtSetup) {
      if (!this.behaviour.cancel) say(MARKERS.migrateDoneAndCuju); // blk-server's extra line
      say(MARKERS.startCujuProcess);
    }
    // ft_setup_migrate_state writes MIG_STATE_ACTIVE (3) into the status field, which
    // reads `cancelled`, with no event (cuju-builds.md §5).
    this.vm.setMigrationStatus('cancelled', undefined, true);
    this.waitingForAck = true;
  }

  private watch(socket: Socket, index: number): void {
    if (index === ramConn(0) || index === ramConn(1)) {
      // The backup writes nothing on the RAM links; only their loss matters.
      socket.on('data', () => {});
    } else {
      const decoder = new FtDecoder();
      socket.on('data', (chunk: Buffer) =>
        feed(
          decoder,
          chunk,
          (msg) => this.onMessage(msg, index as Ms),
          () => this.linkLost(),
        ),
      );
    }
    socket.on('error', () => {});
    socket.on('close', () => this.linkLost());
  }

  private onMessage(msg: FtMessage, ms: Ms): void {
    if (msg.cmd === FT_CMD.ACK && ms === 0 && this.waitingForAck) {
      this.waitingForAck = false;
      this.firstAck();
    } else if (msg.cmd === FT_CMD.ACK1) {
      this.outstanding.delete(ms);
    } else if (msg.cmd === (ALIVE_FLAG | FT_CMD.ACK1)) {
      // The backup answered our CHECKALIVE and exits; FT ends on its EOF or the timer.
      this.outstanding.delete(ms);
    }
  }

  /** migrate_ft_trans_get_ready, CUJU_FT_INIT: the backup is ready. */
  private firstAck(): void {
    if (this.behaviour.printsFtSetup) {
      say(MARKERS.recvAck(0));
      if (!this.behaviour.cancel) say(MARKERS.waitAllOk(0));
    }
    const run = () => this.startEpochs();
    if (this.hooks.beforeRun) this.hooks.beforeRun(run);
    else run();
  }

  /** migrate_run + vm_start: FT is on. */
  private startEpochs(): void {
    if (this.closing) return;
    this.inFt = true;
    this.vm.ftStarted = true;
    this.vm.currentMs = 0;
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

  /** migrate_timer of the running MigrationState, then the other one runs. */
  private epoch(): void {
    this.timer = undefined;
    if (!this.inFt) return;
    if (this.paused) {
      // migrate_run with migration_paused set (migration.c@d2e55fe:3611-3614): no epoch until resumed.
      say(MARKERS.migrationPaused);
      return;
    }
    const ms = Number(this.transSerial % 2n) as Ms;
    // Cuju pipelines two MigrationStates: one waits while its previous epoch is uncommitted.
    if (!this.outstanding.has(ms)) {
      if ((this.transSerial & TICK_MASK) === 0n) say(`\n${MARKERS.timerTick(Number(this.transSerial))}`);
      this.transSerial++;
      const serial = this.transSerial;
      this.outstanding.add(ms);
      this.sockets[ramConn(ms)]?.write(Buffer.alloc(EPOCH_RAM_BYTES));
      const dev = this.sockets[devConn(ms)];
      dev?.write(encode({ serial, cmd: FT_CMD.BEGIN, id: ms, seq: 0 }));
      dev?.write(
        encode({ serial, cmd: FT_CMD.CONTINUE, id: ms, seq: 1, payload: Buffer.alloc(EPOCH_DEV_BYTES) }),
      );
      dev?.write(encode({ serial, cmd: FT_CMD.COMMIT1, id: ms, seq: 2, payloadLen: EPOCH_RAM_BYTES }));
      if (this.transSerial === 1n) crashPoint(this.faults, 'ft-first-epoch');
      this.vm.currentMs = ms === 0 ? 1 : 0;
    }
    this.scheduleEpoch();
  }

  /** -sim-usr2-drops-ft-links: the links are cut as a network failure would (the process runs on). */
  dropLinks(): void {
    if (this.inFt) this.destroySockets();
  }

  /** migrate_pause / migrate_resume (groupft): the next epoch does not start / starts again. */
  pause(paused: boolean): void {
    this.paused = paused;
    if (!paused && this.inFt && !this.timer) this.scheduleEpoch();
  }

  /**
   * cuju-migrate-cancel (master): CHECKALIVE on both device links (qmp_cuju_migrate_cancel,
   * migration.c@21f9f0b:1578-1597). The backup answers its next COMMIT1 with ACK1|ALIVE
   * and exits 0; this side returns to non-FT when the links close or after one second.
   */
  cancel(): void {
    if (!this.inFt || this.cancelling) return;
    this.cancelling = true;
    for (const ms of [0, 1] as const) {
      this.sockets[devConn(ms)]?.write(encode({ serial: this.transSerial, cmd: FT_CMD.CHECKALIVE }));
    }
    this.cancelTimer = setTimeout(() => this.leaveFt(), CANCEL_TIMER_MS);
  }

  /**
   * cuju_migrate_cancel_discon / _con: links closed, FT stopped, the VM runs; the
   * migration status stays what it was (Cuju's FT state, read as `cancelled`).
   */
  private leaveFt(): void {
    if (this.closing) return;
    this.closing = true;
    this.stopTimers();
    this.destroySockets();
    this.inFt = false;
    this.vm.ftStarted = false;
    this.transSerial = 0n;
    this.vm.start();
    this.hooks.ftEnded?.();
  }

  /** The backup is gone (or the links are). */
  private linkLost(): void {
    if (this.closing) return;
    if (this.cancelling) {
      this.leaveFt();
      return;
    }
    if (this.inFt) {
      say(MARKERS.ack1Failed);
      if (this.behaviour.backupDeath === 'back-to-non-ft') {
        // master: backup_die, then cuju_migrate_cancel_con (migration.c@21f9f0b:2441-2482, 2190-2196).
        this.leaveFt();
        return;
      }
      // groupft, blk-server: error_out (cuju_ft_mode = ERROR, migrate_fd_error).
      this.fail(undefined);
      this.hooks.ftEnded?.();
      return;
    }
    if (this.waitingForAck) {
      say(MARKERS.ackFailed);
      this.fail(undefined);
      return;
    }
    this.fail('Unable to write to socket: Connection reset by peer');
  }

  private fail(errorDesc: string | undefined): void {
    this.closing = true;
    this.stopTimers();
    this.destroySockets();
    this.inFt = false;
    this.vm.ftStarted = false;
    this.vm.ftMode = FT_MODE.ERROR;
    if (this.vm.runstate === 'finish-migrate') this.vm.start();
    this.vm.setMigrationStatus('failed', errorDesc);
  }

  private stopTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.dropTimer) clearTimeout(this.dropTimer);
    if (this.cancelTimer) clearTimeout(this.cancelTimer);
    this.timer = undefined;
  }

  private destroySockets(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): void {
    this.closing = true;
    this.stopTimers();
    this.destroySockets();
  }
}

/**
 * The backup: listens on its -incoming address, accepts Cuju's 4 connections (then stops
 * listening), loads the initial stream, says `enter cuju FT mode (incoming)` and sends
 * its ACK, commits each epoch with ACK1, and takes over (cuju_ft_trans_close: vm_start)
 * when the links drop.
 */
export class FtReceiver {
  private server: Server | undefined;
  private sockets: Socket[] = [];
  private readonly ram: [number, number] = [0, 0];
  private readonly pendingCommit: Array<FtMessage | undefined> = [undefined, undefined];
  private committed = false;
  /** The ACK is out: last_cuju_ft_trans is set, a takeover is possible. */
  private ackSent = false;
  /** A CHECKALIVE came: the next commit is answered with ACK1|ALIVE, then exit(0). */
  private check = false;
  private over = false;

  constructor(
    private readonly vm: Vm,
    private readonly spec: IncomingSpec,
    private readonly exit: (code: number) => void,
    /** What cuju_ft_trans_close does before vm_start (blk-server: connect the block server); false: the process is exiting. */
    private readonly beforeStart?: () => Promise<boolean>,
  ) {}

  /** FT runs on this receiver (from its ACK until a takeover or the end). */
  get inFt(): boolean {
    return this.ackSent && !this.over;
  }

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
    if (this.sockets.length >= 4 || this.over) {
      socket.destroy();
      return;
    }
    this.sockets.push(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.linksLost());
    if (this.sockets.length < 4) return;
    // All 4 accepted (socket.c@21f9f0b:334-352): the listening socket is closed.
    this.server?.close();
    for (const [i, s] of this.sockets.entries()) this.read(s, i);
  }

  private read(socket: Socket, index: number): void {
    if (index === ramConn(0) || index === ramConn(1)) {
      const ms = (index - 2) as Ms;
      socket.on('data', (chunk: Buffer) => {
        this.ram[ms] += chunk.length;
        this.tryCommit(ms);
      });
      return;
    }
    const stream = index === 0 ? new InitialStreamReader() : undefined;
    const decoder = new FtDecoder();
    const onHeaders = (chunk: Buffer) =>
      feed(
        decoder,
        chunk,
        (msg) => this.onMessage(msg, index as Ms),
        () => this.linksLost(),
      );
    socket.on('data', (chunk: Buffer) => {
      if (stream === undefined) return onHeaders(chunk);
      let rest: Buffer | undefined;
      try {
        rest = stream.push(chunk);
      } catch {
        this.loadFailed();
        return;
      }
      if (rest === undefined) return;
      if (!this.ackSent) this.loaded();
      if (rest.length) onHeaders(rest);
    });
  }

  /** process_incoming_migration_co after qemu_loadvm_state (migration.c@21f9f0b:605-612). */
  private loaded(): void {
    if (this.vm.ftMode !== FT_MODE.INIT) {
      // A plain -incoming: the migration is complete, the VM runs here (autostart).
      this.over = true;
      this.server?.close();
      this.vm.start();
      return;
    }
    say(MARKERS.enterFtIncoming);
    // cuju_process_incoming_thread: qemu_ft_trans_begin sends ACK, then RECV (2970-2985).
    this.sockets[devConn(0)]?.write(encode({ serial: 0n, cmd: FT_CMD.ACK }));
    this.ackSent = true;
    this.vm.ftMode = FT_MODE.RECV;
  }

  private onMessage(msg: FtMessage, ms: Ms): void {
    if (msg.cmd === FT_CMD.COMMIT1) {
      this.pendingCommit[ms] = msg;
      this.tryCommit(ms);
    } else if (msg.cmd === FT_CMD.CHECKALIVE) {
      this.check = true; // cuju-ft-trans-file.c@21f9f0b:711-713
    }
  }

  /** cuju_ft_trans_try_load once the epoch's RAM bytes are in: ACK1, then load. */
  private tryCommit(ms: Ms): void {
    const commit = this.pendingCommit[ms];
    if (!commit || this.ram[ms] < commit.payloadLen) return;
    this.ram[ms] -= commit.payloadLen;
    this.pendingCommit[ms] = undefined;
    const dev = this.sockets[devConn(ms)];
    if (this.check) {
      // ACK1 with the alive bit, then exit(0) (cuju-ft-trans-file.c@21f9f0b:605-610).
      dev?.write(encode({ serial: commit.serial, cmd: ALIVE_FLAG | FT_CMD.ACK1, id: ms }), () =>
        this.exit(0),
      );
      this.over = true;
      return;
    }
    dev?.write(encode({ serial: commit.serial, cmd: FT_CMD.ACK1, id: ms }));
    if (!this.committed) {
      this.committed = true;
      say(MARKERS.firstCommit);
    }
  }

  /** EOF on an FT link: a takeover once the ACK is out, else the incoming load fails. */
  private linksLost(): void {
    if (this.over) return;
    if (!this.ackSent) {
      if (this.sockets.length < 4) {
        // A link closed while the others were still being accepted: keep waiting (QEMU
        // blocks in accept for the rest; a lost one is never noticed before).
        return;
      }
      this.loadFailed();
      return;
    }
    this.takeOver();
  }

  private loadFailed(): void {
    this.over = true;
    this.server?.close();
    for (const s of this.sockets) s.destroy();
    report('load of migration failed: Input/output error');
    this.exit(1);
  }

  /** cuju_ft_trans_close on the last transaction (cuju-ft-trans-file.c@21f9f0b:800-856). */
  private takeOver(): void {
    this.over = true;
    this.server?.close();
    for (const s of this.sockets) s.destroy();
    say(MARKERS.transClose);
    if (!this.beforeStart) {
      this.started();
      return;
    }
    void this.beforeStart().then((goOn) => {
      if (goOn) this.started();
    });
  }

  /** The end of cuju_ft_trans_close: the guest runs here. */
  private started(): void {
    this.vm.ftMode = FT_MODE.HANDOVER;
    this.vm.start();
    say(MARKERS.transCloseStarted);
  }

  /** cuju-failover on a receiver in FT: take over now (the caller checked inFt). */
  failover(): void {
    this.takeOver();
  }

  close(): void {
    this.over = true;
    this.server?.close();
    for (const s of this.sockets) s.destroy();
  }
}

/** Decodes a device link's bytes into messages; a corrupt stream counts as a lost link. */
function feed(
  decoder: FtDecoder,
  chunk: Buffer,
  onMessage: (msg: FtMessage) => void,
  onCorrupt: () => void,
): void {
  let messages: FtMessage[];
  try {
    messages = decoder.push(chunk);
  } catch {
    onCorrupt();
    return;
  }
  for (const msg of messages) onMessage(msg);
}
