import { rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { connectBlockClient, describeOsError, startBlockServer } from './blk.js';
import { BEHAVIOUR, type BuildBehaviour } from './builds.js';
import type { SimConfig } from './config.js';
import { FtReceiver, FtSender } from './ft.js';
import { Gft } from './gft.js';
import { HmpServer } from './monitor-hmp.js';
import { QmpServer } from './monitor-qmp.js';
import type { MonitorServer } from './monitor-server.js';
import type { QmpReply } from './qmp-texts.js';
import { assertFailed, bufferStdout, flushStdout, MARKERS, report, say, segfault } from './stdout.js';
import { parseTcpUri } from './uri.js';
import { CAPABILITIES, type Capability, FT_MODE, Vm } from './vm.js';

export interface MigrateRequest {
  uri: string;
  detach: boolean;
  blk: boolean;
  inc: boolean;
  cuju: boolean;
}

/** What the monitors run: one HMP line, one QMP command (commands.ts). */
export interface MonitorCommands {
  runHmp(sim: Sim, line: string): Promise<string>;
  runQmp(sim: Sim, name: string, args: Record<string, unknown>): Promise<QmpReply>;
}

/**
 * One simulated Cuju QEMU process of one build (config.build): its VM state, its monitors
 * and its FT role. The monitors (HMP and QMP) call the same operations here, so both
 * dialects see one state.
 */
export class Sim {
  readonly vm: Vm;
  readonly behaviour: BuildBehaviour;
  private readonly monitors: MonitorServer[] = [];
  private sender: FtSender | undefined;
  private receiver: FtReceiver | undefined;
  private blockServer: Server | undefined;
  private exiting = false;

  /** The group-FT engine: groupft (which binds the join port) and blk-server (gft_add_host, gft_init). */
  readonly gft: Gft | undefined;

  /**
   * `commands` runs what the monitors receive (commands.ts, given by main.ts): passed in
   * rather than imported, because the commands act on this class (no import circle).
   */
  constructor(
    readonly config: SimConfig,
    private readonly commands: MonitorCommands,
  ) {
    this.behaviour = BEHAVIOUR[config.build];
    const initial = config.incoming ? 'inmigrate' : config.startPaused ? 'prelaunch' : 'running';
    this.vm = new Vm(initial);
    this.gft = config.build === 'master' ? undefined : new Gft(this, config.build);
  }

  /** FT runs on this VM: a new monitor client crashes it (issue #13). */
  get inFt(): boolean {
    return this.sender?.inFt === true || this.receiver?.inFt === true;
  }

  /** Whether this process is a block server (blk-server's `-blk-server-listen`). */
  private get isBlockServer(): boolean {
    return this.config.build === 'blk-server' && this.config.blkServerListen !== undefined;
  }

  /**
   * vl.c's start, in its order: chardevs listen, then (a block server stops here) the
   * monitors, the -incoming listener, the group join port (groupft), `VM init finished`,
   * and a block-server client's connection (blk-server).
   */
  async start(): Promise<void> {
    const { config } = this;
    if (config.sim.stdoutBuffered) bufferStdout();
    // (SIGUSR1 is Node's, for its inspector: SIGUSR2 it is.)
    if (config.sim.usr2DropsFtLinks) process.on('SIGUSR2', () => this.sender?.dropLinks());
    if (config.pidfile) writeFileSync(config.pidfile, `${process.pid}\n`);
    // Cuju issue #13: opening the monitor while FT runs segfaults QEMU (cuju-builds.md §4).
    const onAttach = () => {
      if (this.inFt) segfault();
    };
    for (const spec of config.monitors) {
      // A block server's chardevs listen, but mon_init_func never runs (vl.c@4b17b51:4540-4548):
      // a client connects and hears nothing.
      const silent = config.sim.stallGreeting || this.isBlockServer;
      const server =
        spec.mode === 'readline'
          ? new HmpServer(
              spec,
              silent,
              config.sim.monitorDelayMs,
              (line) => this.commands.runHmp(this, line),
              onAttach,
            )
          : new QmpServer(
              spec,
              silent,
              config.sim.monitorDelayMs,
              this.vm,
              (cmd, args) => this.commands.runQmp(this, cmd, args),
              onAttach,
            );
      try {
        await server.listen();
      } catch (err) {
        report(
          `-chardev ${spec.id}: Failed to bind socket to ${server.where.replace(/^\w+:/, '')}: ${describeOsError(err)}`,
        );
        this.exit(1);
        return;
      }
      this.monitors.push(server);
    }
    if (this.isBlockServer) {
      await this.startBlockServer();
      return;
    }
    if (config.incoming) {
      const blkClient = config.build === 'blk-server' && config.blkServer !== undefined;
      const receiver = new FtReceiver(
        this.vm,
        config.incoming,
        (code) => this.exit(code),
        blkClient ? () => this.handOverBlockServer(config.blkServer!) : undefined,
      );
      if (config.incoming.ftMode) this.vm.ftMode = FT_MODE.INIT;
      try {
        await receiver.listen();
      } catch (err) {
        report(`-incoming ${config.incoming.text}: Failed to bind socket: ${describeOsError(err)}`);
        this.exit(1);
        return;
      }
      this.receiver = receiver;
    }
    if (this.behaviour.bindsJoinPort && this.gft) {
      try {
        await this.gft.listen();
      } catch (err) {
        // gft_init: socket_listen's error is reported, then `assert(!gft_init(ft_join_port))`
        // fails (vl.c@d2e55fe:4728), with or without -gft-id.
        report(`Failed to bind socket: ${describeOsError(err)}`);
        assertFailed('vl.c', 4728, 'main', '!gft_init(ft_join_port)');
      }
    }
    say(MARKERS.vmInitFinished);
    if (config.build === 'blk-server' && config.blkServer !== undefined && !config.incoming) {
      await this.connectBlockServer(config.blkServer);
    }
  }

  /** kvm_blk_server_init (kvm_blk.c@4b17b51:289-310), then `block server init`; exit(-1) when it cannot listen. */
  private async startBlockServer(): Promise<void> {
    const server = await startBlockServer(this.config.blkServerListen ?? '');
    if (!server) {
      this.exit(255);
      return;
    }
    this.blockServer = server;
  }

  /** kvm_blk_client_init (kvm_blk.c@4b17b51:382-430): connect, send the write request id, `client_ret:N`. */
  private async connectBlockServer(ipPort: string): Promise<void> {
    const socket = await connectBlockClient(ipPort);
    say(MARKERS.clientRet(socket ? 0 : -1));
    if (!socket) {
      this.exit(255);
      return;
    }
    this.closeWithProcess.push(() => socket.destroy());
  }

  /**
   * A backup with -blk-server connects when it takes over (cuju_ft_trans_close,
   * cuju-ft-trans-file.c@4b17b51:799-805): false after exit(-1) when it could not.
   */
  private async handOverBlockServer(ipPort: string): Promise<boolean> {
    const socket = await connectBlockClient(ipPort);
    if (!socket) {
      this.exit(255);
      return false;
    }
    this.closeWithProcess.push(() => socket.destroy());
    return true;
  }

  private readonly closeWithProcess: Array<() => void> = [];

  /** gft_start_migration: `migrate tcp:IP:PORT,ft_mode` with cuju on; its error is ignored there. */
  startGroupFt(host: string, port: number): void {
    void this.migrate({
      uri: `tcp:${host}:${port},ft_mode`,
      detach: false,
      blk: false,
      inc: false,
      cuju: true,
    });
  }

  /** migrate_pause / migrate_resume. */
  pauseFt(paused: boolean): void {
    this.sender?.pause(paused);
  }

  // ---- operations shared by HMP and QMP ------------------------------------------

  /**
   * qmp_migrate of the build. Resolves with the error text the monitor prints, or
   * undefined when the migration started. With `-c`, Cuju connects its 4 links before it
   * returns (connect_sync), so a refused connection is this command's error.
   */
  async migrate(req: MigrateRequest): Promise<string | undefined> {
    const { vm, behaviour } = this;
    const groupWait = this.config.build === 'groupft' && vm.gftStatus === 'WAIT';
    if (behaviour.migrateSetsCapability) {
      // migration.c@21f9f0b:1513-1519: before any check, even one that refuses.
      if (req.cuju) say(MARKERS.enterFtMode);
      vm.capabilities.set('cuju-ft', req.cuju);
    } else if (req.cuju && !groupWait) {
      say(MARKERS.enterFtMode); // migration.c@d2e55fe:1582-1584, @4b17b51:1519-1520
    }
    if (!groupWait) {
      if (vm.migrationActive) return "There's a migration process in progress";
      if (vm.runstate === 'inmigrate') return 'Guest is waiting for an incoming migration';
    }
    const target = parseTcpUri(req.uri);
    if (!target) {
      return /^(unix|exec|fd|rdma):/.test(req.uri)
        ? `cuju-sim simulates only tcp: migration, not '${req.uri.split(':')[0]}:'`
        : "Parameter 'uri' expects a valid migration protocol";
    }
    // Real Cuju does not refuse this while FT runs (its FT state reads `cancelled`):
    // migrate_init() then resets the MigrationState the FT pipeline uses, with effects
    // the source does not settle. The simulator starts the new migration beside it.
    const sender = new FtSender(vm, behaviour, this.config.sim, {
      ...(this.gft ? { beforeRun: (run: () => void) => this.gft!.beforeRun(run) } : {}),
    });
    vm.setMigrationStatus('setup');
    const error = await sender.connect(target.host === '0.0.0.0' ? '127.0.0.1' : target.host, target.port);
    if (error) return error;
    if (this.sender?.inFt) this.closeWithProcess.push(() => sender.close());
    else {
      this.sender?.close();
      this.sender = sender;
    }
    // The command returns here; migration_thread goes on in its own thread.
    const ft = req.cuju && vm.capabilities.get('cuju-ft') === true;
    setImmediate(() => sender.run(ft));
    return undefined;
  }

  /** Resolves when the current outgoing migration has left setup/active (for a synchronous HMP migrate). */
  async migrationSettled(): Promise<void> {
    while (
      this.vm.migration &&
      (this.vm.migration.status === 'setup' || this.vm.migration.status === 'active')
    ) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Returns an error text, or undefined. Not refused while FT runs (migration.c@21f9f0b:1030). */
  setCapability(name: string, state: boolean): string | undefined {
    if (!(CAPABILITIES as readonly string[]).includes(name)) return `Invalid parameter '${name}'`;
    if (this.vm.migrationActive) return "There's a migration process in progress";
    this.vm.capabilities.set(name as Capability, state);
    return undefined;
  }

  /**
   * cuju-failover. blk-server: a stub that prints its name (cuju-kvm-share-mem.c@4b17b51:135).
   * master, groupft: `qmp_cuju_failover`, then cuju_ft_trans_close(last_cuju_ft_trans): a
   * takeover on a receiver in FT; anywhere else the pointer is NULL (or a closed
   * transaction) and QEMU crashes after printing `cuju_ft_trans_close`.
   */
  failover(): void {
    say(MARKERS.failoverCalled);
    if (this.behaviour.failover === 'stub') return;
    if (this.receiver?.inFt) {
      this.receiver.failover();
      return;
    }
    say(MARKERS.transClose);
    segfault();
  }

  adjustEpoch(us: number): void {
    this.vm.epochUs = us;
    say(MARKERS.newEpoch(us, this.behaviour.epochUnit));
  }

  /**
   * cuju-migrate-cancel (master): CHECKALIVE to the backup. Outside FT it dereferences the
   * missing transaction file (migration.c@21f9f0b:1578-1583) and QEMU crashes.
   */
  cancelFt(): void {
    if (!this.sender?.inFt) segfault();
    this.sender.cancel();
  }

  stop(): void {
    this.vm.stop();
  }

  cont(): void {
    // On a backup waiting for its primary, `cont` only arms autostart (upstream qmp_cont).
    if (this.vm.runstate === 'inmigrate') return;
    this.vm.start();
  }

  /** quit: SHUTDOWN, then the process ends (after the reply has been written). */
  quit(): void {
    this.vm.event('SHUTDOWN');
    setImmediate(() => this.exit(0));
  }

  /** Ends the process, closing what it opened (monitor socket files, pidfile, FT links). */
  exit(code: number): void {
    if (this.exiting) return;
    this.exiting = true;
    this.sender?.close();
    this.receiver?.close();
    this.gft?.close();
    this.blockServer?.close();
    for (const close of this.closeWithProcess) close();
    for (const m of this.monitors) m.close();
    if (this.config.pidfile) rmSync(this.config.pidfile, { force: true });
    flushStdout();
    process.exitCode = code;
    // Give sockets a moment to flush their last bytes (a quit reply), then go.
    setTimeout(() => process.exit(code), 20).unref();
  }
}
