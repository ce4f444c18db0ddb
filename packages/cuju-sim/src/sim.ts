import { rmSync, writeFileSync } from 'node:fs';
import { runHmp, runQmp } from './commands.js';
import type { SimConfig } from './config.js';
import { FtReceiver, FtSender } from './ft.js';
import { Gft } from './gft.js';
import { HmpServer } from './monitor-hmp.js';
import { QmpServer } from './monitor-qmp.js';
import type { MonitorServer } from './monitor-server.js';
import { MARKERS, report, say } from './stdout.js';
import { parseTcpUri } from './uri.js';
import { CAPABILITIES, type Capability, FT_MODE, Vm } from './vm.js';

export interface MigrateRequest {
  uri: string;
  detach: boolean;
  blk: boolean;
  inc: boolean;
  cuju: boolean;
}

/**
 * One simulated Cuju QEMU process: its VM state, its monitors and its FT role. The
 * monitors (HMP and QMP) call the same operations here, so both dialects see one state.
 */
export class Sim {
  readonly vm: Vm;
  private readonly monitors: MonitorServer[] = [];
  private sender: FtSender | undefined;
  private receiver: FtReceiver | undefined;
  private exiting = false;

  /** The group-FT engine, when this VM takes part in GFT (-gft-id or -ft-join-port given). */
  readonly gft: Gft | undefined;

  constructor(readonly config: SimConfig) {
    const initial = config.incoming ? 'inmigrate' : config.startPaused ? 'prelaunch' : 'running';
    this.vm = new Vm(initial);
    this.gft = config.gftEnabled ? new Gft(this) : undefined;
  }

  /** Listens on every monitor and the -incoming address, then says `VM init finished`. */
  async start(): Promise<void> {
    const { config } = this;
    if (config.pidfile) writeFileSync(config.pidfile, `${process.pid}\n`);
    for (const spec of config.monitors) {
      const server =
        spec.mode === 'readline'
          ? new HmpServer(spec, config.sim.stallGreeting, config.sim.monitorDelayMs, (line) =>
              runHmp(this, line),
            )
          : new QmpServer(spec, config.sim.stallGreeting, config.sim.monitorDelayMs, this.vm, (cmd, args) =>
              runQmp(this, cmd, args),
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
    if (config.incoming) {
      const receiver = new FtReceiver(this.vm, config.incoming, (code) => this.exit(code));
      try {
        await receiver.listen();
      } catch (err) {
        report(`Failed to bind socket: ${describeOsError(err)}`);
        this.exit(1);
        return;
      }
      this.receiver = receiver;
      if (config.incoming.ftMode) this.vm.ftMode = FT_MODE.INIT;
    }
    if (this.gft) {
      try {
        await this.gft.listen();
      } catch (err) {
        report(`-ft-join-port ${config.ftJoinPort}: Failed to bind socket: ${describeOsError(err)}`);
        this.exit(1);
        return;
      }
    }
    say(MARKERS.vmInitFinished);
  }

  /** gft_start_migration: `migrate` to tcp:IP:PORT,ft_mode with cuju on, from the group engine. */
  startGroupFt(host: string, port: number): void {
    const error = this.migrate(
      { uri: `tcp:${host}:${port},ft_mode`, detach: true, blk: false, inc: false, cuju: true },
      true,
    );
    if (error) report(error);
  }

  /** migrate_pause / migrate_resume: Cuju's FT I/O handlers and epochs stop and restart. */
  pauseFt(paused: boolean): void {
    this.sender?.pause(paused);
  }

  // ---- operations shared by HMP and QMP ------------------------------------------

  /** Returns an error text, or undefined when the migration was started. */
  migrate(req: MigrateRequest, group = false): string | undefined {
    if (this.vm.runstate === 'inmigrate') return 'Guest is waiting for an incoming migration';
    // In GFT_WAIT Cuju skips the "already active" check (migration.c@00f15d0).
    if (this.vm.migrationActive && !(group && this.vm.gftStatus === 'WAIT'))
      return "There's a migration process in progress";
    const target = parseTcpUri(req.uri);
    if (!target) {
      return /^(unix|exec|fd|rdma):/.test(req.uri)
        ? `cuju-sim simulates only tcp: migration, not '${req.uri.split(':')[0]}:'`
        : "Parameter 'uri' expects a valid migration protocol";
    }
    const sender = new FtSender(this.vm, this.config.sim);
    this.sender = sender;
    const ft = req.cuju && this.vm.capabilities.get('cuju-ft') === true;
    sender.start(target.host === '0.0.0.0' ? '127.0.0.1' : target.host, target.port, ft, req.cuju);
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

  /** Returns an error text, or undefined. */
  setCapability(name: string, state: boolean): string | undefined {
    if (!(CAPABILITIES as readonly string[]).includes(name)) return `Invalid parameter '${name}'`;
    if (this.vm.migrationActive) return "There's a migration process in progress";
    this.vm.capabilities.set(name as Capability, state);
    return undefined;
  }

  /** cuju-failover: a real takeover on a backup; on anything else Cuju's first version only prints. */
  failover(): void {
    if (this.receiver?.failover()) return;
    say(MARKERS.failoverStub);
  }

  adjustEpoch(us: number): void {
    this.vm.epochUs = us;
    say(MARKERS.newEpoch(us));
  }

  cancelFt(): void {
    this.sender?.cancel();
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
    for (const m of this.monitors) m.close();
    if (this.config.pidfile) rmSync(this.config.pidfile, { force: true });
    process.exitCode = code;
    // Give sockets a moment to flush their last bytes (a quit reply), then go.
    setTimeout(() => process.exit(code), 20).unref();
  }
}

function describeOsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'Address already in use';
  if (code === 'EACCES') return 'Permission denied';
  if (code === 'ENOENT') return 'No such file or directory';
  return (err as Error).message;
}
