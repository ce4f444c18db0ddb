/**
 * The seed manual's block-server section as one operation: the block server
 * (blk_server.sh: `-ft-join-port 4000 -blk-server-listen :5001`), the primary
 * (blk_primary.sh: `-blk-server IP:5001`), the backup (blk_backup.sh: `-incoming
 * tcp:0:4441,ft_mode -blk-server IP:5001`), then ft_mode's `migrate_set_capability
 * cuju-ft on` and `migrate -d -c tcp:BACKUP:4441`, in that order, each waited for.
 *
 * BlockServerPair is a sibling of FtPair, not a second state machine: the primary and the
 * backup are an FtPair's (start() for the primary, turnOn() for the backup and FT), so
 * protection, failover, turnOff() and restartSecondary() are the plain pair's, with its
 * states and events. What it adds is the block server: placed and checked before anything
 * starts (CujuBlockServerPlacementError), started first and owned like a VM, and its loss
 * fired into the pair's table (`block-server-died`, to `not-protected` with the reason
 * `block-server-lost`). No Cuju build exits when its block server goes (kvm_blk.c@4b17b51:
 * the client's read handler only prints and removes itself), so its process's exit, which
 * its host records, is the sign.
 */
import { posix } from 'node:path';
import { hmpLine } from '@cuju/qmp';
import { type CujuBuildProfile, cujuBuild } from '../builds.js';
import { CujuArgumentError, FtPairError } from '../errors.js';
import { FtPair, firePairEvent } from '../ft-pair.js';
import {
  checkOperationOptions,
  checkSecondaryOptions,
  checkTestFailoverOptions,
} from '../ft-pair-options.js';
import { checkHost } from '../hosts/args.js';
import type { Host, VmExit } from '../hosts/host.js';
import { blockServerArgv } from '../launch.js';
import { parseMarker } from '../markers.js';
import type { CujuVmSpec } from '../spec.js';
import { checkIPv4, checkObject, checkOptions, checkPort } from '../validate.js';
import type {
  FailoverReport,
  FtPairOptions,
  OperationOptions,
  SecondaryOptions,
  TestFailoverOptions,
} from './api.js';
import { BlockServerEngine } from './blk-engine.js';
import { CujuBlockServerPlacementError } from './blk-errors.js';
import type { EngineMonitor } from './engine.js';
import { SessionOwner, VmSession } from './session.js';
import type { FtPairReason, FtPairState } from './states.js';
import { anySignal, bounded } from './wait.js';

/** Where the block server runs and what it listens on. */
export interface BlockServerOptions {
  /** Its host: the backup's (the manual's rule, checked). */
  host: Host;
  /** `-blk-server-listen :PORT` (default 5001, as blk_server.sh). */
  listenPort?: number;
  /** Its `-ft-join-port` (default 4000, as blk_server.sh; the blk-server build binds none). */
  joinPort?: number;
  /**
   * The address the primary and the backup connect to (`-blk-server ADDRESS:PORT`):
   * default the host's own address. On a lab, the backup's 10G address.
   */
  address?: string;
  /**
   * Differences of the block server's VM spec from the pair's `vm` (blk_server.sh is the
   * primary's line plus its own options): its monitor socket, above all, when it shares a
   * host with a VM of the pair.
   */
  vm?: Partial<CujuVmSpec>;
}

/** `new BlockServerPair()` options: an FT pair's, and its block server. */
export interface BlockServerPairOptions extends Omit<FtPairOptions, 'engine'> {
  blockServer: BlockServerOptions;
}

/** One process of the plan, in the order it starts. */
export interface BlockServerPlanProcess {
  role: 'block-server' | 'primary' | 'backup';
  /** Its host's name (`local`, `ssh:root@10.0.0.2:22`) and address. */
  host: { name: string; address: string };
  /** The whole command line, the binary first. */
  argv: string[];
  /** The stdout line it is waited for by (the backup: its monitor, after `VM init finished`). */
  waitsFor: string;
}

/** What up() does, as data (the example's `--dry-run` prints it). */
export interface BlockServerPlan {
  processes: BlockServerPlanProcess[];
  /** ft_mode's monitor lines, sent to the primary's monitor once the backup runs. */
  ftMode: { monitorPath: string; lines: string[] };
}

/** The blk_server.sh defaults. */
const DEFAULT_LISTEN_PORT = 5001;
const DEFAULT_JOIN_PORT = 4000;
const DEFAULT_FT_PORT = 4441;
const DEFAULT_LAUNCH_MS = 20_000;
const DEFAULT_STOP_GRACE_MS = 2_000;

/** States in which the block server's loss is the pair's news (the table's `block-server-died` rows). */
const SERVED: ReadonlySet<FtPairState> = new Set(['protected', 'not-protected', 'failed-over']);

/** The checked configuration. */
interface Resolved {
  server: Required<Omit<BlockServerOptions, 'vm'>> & { spec: CujuVmSpec };
  build: CujuBuildProfile;
  pairOptions: FtPairOptions;
  pair: FtPair;
}

/**
 * An FT pair whose disk is a block server's (the blk-server build): see the module comment.
 * `pair` is the FtPair of the primary and the backup: listen to its `state`, `failover`
 * and `marker` events as for any pair.
 */
export class BlockServerPair {
  /** The primary and the backup: their states, events and record are a plain FtPair's. */
  readonly pair: FtPair;
  readonly #config: Resolved;
  readonly #owner = new SessionOwner<EngineMonitor>();
  #server: VmSession<EngineMonitor> | undefined;
  /** The block server's exit that this pair caused (down(), a failed up()): not a loss. */
  #stoppingServer = false;
  /** Aborted when the block server dies while up() runs. */
  #upController: AbortController | undefined;
  #up: Promise<void> | undefined;

  constructor(options: BlockServerPairOptions) {
    this.#config = resolve(options);
    this.pair = this.#config.pair;
  }

  /** The pair's state (the FtPair's). */
  get state(): FtPairState {
    return this.pair.state;
  }

  /** Why the pair is not protected (or stopped), when it is: `block-server-lost` among the FtPair's reasons. */
  get reason(): FtPairReason | undefined {
    return this.pair.reason;
  }

  /** The Cuju build (always blk-server). */
  get cujuBuild(): CujuBuildProfile {
    return this.#config.build;
  }

  /** The block server's pid on its host while it runs. */
  get blockServerPid(): number | undefined {
    return this.#server?.running ? this.#server.pid : undefined;
  }

  /** The three command lines in the manual's order and ft_mode's two monitor lines. */
  plan(): BlockServerPlan {
    const { server, build, pairOptions } = this.#config;
    const binary = [pairOptions.binary.path, ...(pairOptions.binary.args ?? [])];
    const engine = this.pair.engine;
    const ref = (host: Host) => ({ name: host.name, address: host.address });
    const ftPort = pairOptions.ftPort ?? DEFAULT_FT_PORT;
    const migrate = build.commands.migrate!;
    const capability = build.commands.migrate_set_capability!;
    return {
      processes: [
        {
          role: 'block-server',
          host: ref(server.host),
          argv: [...binary, ...blockServerArgv(server.spec, server.listenPort, build)],
          waitsFor: 'block server init',
        },
        {
          role: 'primary',
          host: ref(pairOptions.primary),
          argv: [...binary, ...engine.primaryArgv(pairOptions.vm)],
          waitsFor: 'client_ret:0',
        },
        {
          role: 'backup',
          host: ref(pairOptions.backup),
          argv: [...binary, ...engine.receiverArgv(this.pair.backupSpec, ftPort)],
          waitsFor: 'VM init finished',
        },
      ],
      ftMode: {
        monitorPath: pairOptions.vm.monitorPath,
        lines: [
          hmpLine('migrate_set_capability', capability.argsType, { capability: 'cuju-ft', state: true }),
          hmpLine('migrate', migrate.argsType, {
            detach: true,
            cuju: true,
            uri: `tcp:${pairOptions.backup.address}:${ftPort}`,
          }),
        ],
      },
    };
  }

  /**
   * The manual's flow: the block server (until `block server init`), the primary (until its
   * monitor answers and it says `client_ret:0`, and the server `accepted blk client`), the
   * backup, then FT (`migrate_set_capability cuju-ft on`, `migrate -d -c`) until the pair
   * is protected. On any failure everything it started is stopped before it rejects.
   */
  async up(options?: OperationOptions): Promise<void> {
    const { signal } = checkOperationOptions(options);
    if (this.#up) throw new FtPairError('STATE', 'up() while up() runs');
    if (this.#server?.running) {
      throw new FtPairError('STATE', `up() needs a stopped pair; this one is ${this.pair.state}`);
    }
    if (this.pair.state !== 'idle' && this.pair.state !== 'stopped') {
      throw new FtPairError(
        'STATE',
        `up() needs a pair that is idle or stopped; this one is ${this.pair.state}`,
      );
    }
    const controller = new AbortController();
    this.#upController = controller;
    const op = anySignal(controller.signal, signal);
    const work = this.#bringUp(op).finally(() => {
      this.#upController = undefined;
      this.#up = undefined;
    });
    this.#up = work.then(
      () => {},
      () => {},
    );
    return work;
  }

  /** Kills the primary and resolves with the report once the backup runs the guest (the FtPair's). */
  testFailover(options?: TestFailoverOptions): Promise<FailoverReport> {
    checkTestFailoverOptions(options);
    return this.pair.testFailover(options);
  }

  /** FT off, the primary runs on (the FtPair's: the blk-server build stops the secondary). */
  turnOff(options?: OperationOptions): Promise<void> {
    checkOperationOptions(options);
    return this.pair.turnOff(options);
  }

  /**
   * A new secondary from the survivor (the FtPair's), refused (STATE) once the block server
   * is gone: a secondary could never take over (it connects to the block server then).
   */
  async restartSecondary(options?: SecondaryOptions): Promise<void> {
    checkSecondaryOptions(options);
    if (!this.#server?.running) {
      throw new FtPairError(
        'STATE',
        'restartSecondary() needs the block server; it is gone: down() and up() again',
      );
    }
    return this.pair.restartSecondary(options);
  }

  /** Stops the primary and the backup (the FtPair's down()), then the block server, and removes their files. */
  async down(options?: OperationOptions): Promise<void> {
    const { signal } = checkOperationOptions(options);
    this.#stoppingServer = true;
    this.#upController?.abort(new FtPairError('STOPPED', 'down() was called'));
    try {
      await this.pair.down(signal ? { signal } : {});
      await this.#up;
      await this.#stopServer();
    } finally {
      this.#stoppingServer = false;
    }
  }

  async #bringUp(op: AbortSignal): Promise<void> {
    const { timeouts } = this.#config.pairOptions;
    const launchMs = timeouts?.launchMs ?? DEFAULT_LAUNCH_MS;
    const clientRet = this.#clientRet();
    try {
      const server = await this.#startServer(op, launchMs);
      await this.pair.start({ signal: op });
      const ret = await bounded(clientRet.value, {
        what: "the primary's client_ret",
        signal: op,
        timeoutMs: launchMs,
        onTimeout: () => new FtPairError('TIMEOUT', `the primary said no client_ret within ${launchMs} ms`),
      });
      if (ret < 0) {
        throw new FtPairError(
          'VM_EXITED',
          `the primary could not connect to the block server (client_ret:${ret}); Cuju exits then`,
          'launch-failed',
        );
      }
      await server.waitForLine(
        (line) => parseMarker(line, this.#config.build)?.kind === 'blk-client-accepted',
        {
          what: "the block server's accepted client",
          timeoutMs: launchMs,
          signal: op,
        },
      );
      await this.pair.turnOn({ signal: op });
    } catch (err) {
      const lost = this.#upController?.signal.reason;
      await this.pair.down().catch(() => {});
      if (!this.#stoppingServer) await this.#stopServer();
      throw lost instanceof FtPairError && lost.reason === 'block-server-lost' ? lost : err;
    } finally {
      clientRet.off();
    }
  }

  /** The primary's `client_ret:N`, from the pair's marker events (subscribed before it starts). */
  #clientRet(): { value: Promise<number>; off: () => void } {
    let off = () => {};
    const value = new Promise<number>((resolvePromise, reject) => {
      const onMarker = (event: { side: string; marker: { kind: string; value?: number } }) => {
        if (event.side === 'primary' && event.marker.kind === 'blk-client-ret') {
          resolvePromise(event.marker.value ?? -1);
        }
      };
      const onState = (change: { state: FtPairState }) => {
        if (change.state === 'stopping' || change.state === 'stopped') {
          reject(new FtPairError('VM_EXITED', 'the primary exited before its client_ret', 'launch-failed'));
        }
      };
      this.pair.on('marker', onMarker);
      this.pair.on('state', onState);
      off = () => {
        this.pair.off('marker', onMarker);
        this.pair.off('state', onState);
      };
    });
    value.catch(() => {});
    return { value, off: () => off() };
  }

  /** The block server, owned from its first moment, up at `block server init`, watched for its loss. */
  async #startServer(op: AbortSignal, launchMs: number): Promise<VmSession<EngineMonitor>> {
    const { server, build, pairOptions } = this.#config;
    this.#owner.reopen();
    const dir = pairOptions.logDir ?? posix.dirname(server.spec.monitorPath);
    const logPath = posix.join(
      dir,
      `block-server-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.log`,
    );
    const session = await VmSession.launch<EngineMonitor>({
      host: server.host,
      name: 'block server',
      spec: server.spec,
      argv: [
        pairOptions.binary.path,
        ...(pairOptions.binary.args ?? []),
        ...blockServerArgv(server.spec, server.listenPort, build),
      ],
      logPath,
      ...(pairOptions.sudo ? { sudo: true } : {}),
      owner: this.#owner,
      isReady: (line) => parseMarker(line, build)?.kind === 'blk-server-init',
      files: [server.spec.monitorPath, ...(server.spec.qmpPath ? [server.spec.qmpPath] : [])],
      timeoutMs: launchMs,
      signal: op,
    });
    this.#server = session;
    session.died.then(
      (exit) => this.#onServerDeath(session, exit),
      () => {},
    );
    return session;
  }

  /** The block server exited on its own: up() fails, or the pair is told (`block-server-died`). */
  #onServerDeath(session: VmSession<EngineMonitor>, exit: VmExit): void {
    if (this.#stoppingServer || this.#server !== session) return;
    const how = exit.signal ?? (exit.code === null ? 'status not recorded' : `code ${exit.code}`);
    const detail = `the block server exited (${how}): the VMs' disk requests go unanswered, and no backup can take over`;
    const up = this.#upController;
    if (up && !up.signal.aborted) {
      up.abort(new FtPairError('NOT_PROTECTED', detail, 'block-server-lost'));
      return;
    }
    if (SERVED.has(this.pair.state)) firePairEvent(this.pair, 'block-server-died', detail);
  }

  async #stopServer(): Promise<void> {
    const session = this.#server;
    const grace = this.#config.pairOptions.timeouts?.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.#stoppingServer = true;
    try {
      for (const s of this.#owner.close()) {
        await s.stop({ graceMs: grace });
        await s.removeFiles();
        this.#owner.drop(s);
      }
      if (session && this.#server === session) this.#server = undefined;
    } finally {
      this.#stoppingServer = false;
    }
  }
}

/** Checks the options and the placement rules; builds the FtPair's options. Nothing starts before. */
function resolve(options: BlockServerPairOptions): Resolved {
  const o = checkObject('options', options);
  const b = checkObject('blockServer', o.blockServer);
  const host = checkHost('blockServer.host', b.host);
  const listenPort = checkPort('blockServer.listenPort', b.listenPort ?? DEFAULT_LISTEN_PORT);
  const joinPort = checkPort('blockServer.joinPort', b.joinPort ?? DEFAULT_JOIN_PORT);
  const given = checkOptions('blockServer.vm', b.vm) as Partial<CujuVmSpec>;
  if ((o as { engine?: unknown }).engine !== undefined) {
    throw new CujuArgumentError('engine', 'cannot be set: a block-server pair runs Cuju blk-server');
  }
  // The build first: the other rules speak of its options.
  if (o.build === undefined) throw new CujuArgumentError('build', "must be given: 'blk-server'");
  const build = cujuBuild(o.build as NonNullable<FtPairOptions['build']>, 'build');
  if (build.name !== 'blk-server') {
    throw new CujuBlockServerPlacementError(
      'build',
      'build',
      `must be 'blk-server' (the only Cuju build with -blk-server and -blk-server-listen), got '${build.name}'`,
    );
  }
  const backup = checkHost('backup', o.backup);
  const primary = checkHost('primary', o.primary);
  if (host.address !== backup.address) {
    throw new CujuBlockServerPlacementError(
      'same-host',
      'blockServer.host',
      `must be the backup's host (${backup.address}), got ${host.address}: the backup and the block server run on one node`,
    );
  }
  const ftPort = o.ftPort === undefined ? DEFAULT_FT_PORT : checkPort('ftPort', o.ftPort);
  const ports: Array<[string, number]> = [
    ['blockServer.listenPort', listenPort],
    ['blockServer.joinPort', joinPort],
    ['ftPort', ftPort],
  ];
  for (let i = 0; i < ports.length; i++) {
    for (let j = 0; j < i; j++) {
      if (ports[i]![1] === ports[j]![1]) {
        throw new CujuBlockServerPlacementError(
          'distinct-ports',
          ports[i]![0],
          `must differ from ${ports[j]![0]} (${ports[j]![1]}): both are bound on ${host.address}`,
        );
      }
    }
  }
  const vm = checkObject('vm', o.vm) as unknown as CujuVmSpec;
  if (vm.blockServer !== undefined) {
    throw new CujuArgumentError(
      'vm.blockServer',
      'is set from blockServer (address and listenPort): leave it out',
    );
  }
  const address = checkIPv4('blockServer.address', b.address === undefined ? host.address : b.address);
  const endpoint = { host: address, port: listenPort };
  const pairVm: CujuVmSpec = { ...vm, blockServer: endpoint };
  const { blockServer: _client, ...serverBase } = vm;
  const spec: CujuVmSpec = { ...serverBase, ...given, joinPort };
  const pairOptions: FtPairOptions = {
    ...(options as FtPairOptions),
    vm: pairVm,
    engine: new BlockServerEngine(build),
  };
  // The FtPair checks the rest (hosts, specs, binary, timeouts) and the two command lines.
  const pair = new FtPair(pairOptions);
  const vms: Array<[string, string, Host]> = [
    ['backup', pair.backupSpec.monitorPath, backup],
    ['primary', vm.monitorPath, primary],
  ];
  for (const [role, path, vmHost] of vms) {
    if (vmHost.address === host.address && path === spec.monitorPath) {
      throw new CujuBlockServerPlacementError(
        'distinct-files',
        'blockServer.vm.monitorPath',
        `must differ from the ${role}'s monitor socket: both run on ${host.address}`,
      );
    }
  }
  // The server's own line, checked now (a bad spec or an option the build lacks).
  blockServerArgv(spec, listenPort, build);
  return { server: { host, listenPort, joinPort, address, spec }, build, pairOptions, pair };
}
