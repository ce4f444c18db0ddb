import {
  type CallOptions,
  type Hmp,
  HmpClient,
  type HmpConnectOptions,
  type HmpValue,
  hmpLine,
  type InfoStatus,
  parseInfoStatus,
  QmpClient,
  type QmpConnectOptions,
  QmpHmp,
} from '@cuju/qmp';
import {
  buildsWithCommand,
  type CujuBuildName,
  type CujuBuildProfile,
  type CujuCommandName,
  cujuBuild,
  detectBuildFromHelp,
} from './builds.js';
import {
  CujuArgumentError,
  CujuBuildDetectError,
  CujuCommandError,
  CujuJoinPortError,
  CujuMonitorDuringFtError,
  CujuUnsafeCommandError,
  CujuUnsupportedCommandError,
} from './errors.js';
import { cujuFtRegistry } from './ft-registry.js';
import type { Host } from './hosts/host.js';
import { LocalHost } from './hosts/local.js';
import { type CujuMarker, parseMarker } from './markers.js';
import {
  type CujuFtMode,
  type CujuInfoMigrate,
  parseCujuFtMode,
  parseCujuInfoMigrate,
  parseFtStarted,
} from './parsers.js';
import { checkEpochUs, checkId, checkIPv4, checkMac, checkPort } from './validate.js';

/**
 * Where a Cuju monitor is: a readline socket (`{ hmp: { path } }`, what Cuju's scripts
 * use), a QMP socket (`{ qmp: { path } }`), or a Unix socket on a Host (`{ host, path }`,
 * reached over SSH for an SshHost).
 */
export type CujuMonitorTarget =
  | { hmp: HmpConnectOptions }
  | { qmp: QmpConnectOptions }
  | { host: Host; path: string };

/** Options of `new CujuMonitor(connection, options)`. */
export interface CujuMonitorOptions {
  /**
   * The Cuju build behind the monitor. Absent: detected from `help` (which changes
   * nothing in the VM) before the first command.
   */
  build?: CujuBuildName | CujuBuildProfile;
  /**
   * The key under which this monitor's VM is recorded while its FT runs (see
   * cujuFtRegistry). Default: what CujuMonitor.connect computed, else the Hmp's endpoint.
   */
  endpointKey?: string;
}

/** Options of `CujuMonitor.connect(target, options)`. */
export interface CujuConnectOptions {
  build?: CujuBuildName | CujuBuildProfile;
  /**
   * Connect even though this process put the VM into FT: opening a monitor during FT
   * segfaults QEMU (Cuju issue #13). Only for a build you know to be fixed.
   */
  allowDuringFt?: boolean;
}

/** A backup endpoint: where the primary's FT links go (`migrate -c tcp:HOST:PORT`). */
export interface FtTarget {
  host: string;
  port: number;
  /** `-d`: return at once (Cuju's `-c` already does; kept for the seeds' `-d -c` form). */
  detach?: boolean;
}

/** One host of a GFT group, as `gft_add_host` takes it: group id, IPs, MAC, ports. */
export interface GftHost {
  gftId: number;
  masterIp: string;
  masterGftPort: number;
  masterMac: string;
  slaveIp: string;
  slaveFtPort: number;
}

/** What `info()` reads from the monitor: status, migration (with Cuju's fields), FT mode. */
export interface CujuInfo {
  status: InfoStatus;
  migrate: CujuInfoMigrate;
}

/**
 * What the monitor knows about its VM's FT, from what it sent, what it was told
 * (observe()) and what it read back. `unknown` until something says otherwise.
 *
 * - `primary-starting`: `migrate -c` was accepted; the epochs are not confirmed yet.
 * - `primary-ft`: the epochs run (`ft_started: 1`, `info migrate` in Cuju's FT state, or
 *   a `migrate_timer tick` seen).
 * - `receiver-starting`: the receiver loaded the first copy (`enter cuju FT mode (incoming)`).
 * - `receiver-ft`: the receiver holds a committed epoch (`first commit`, or cuju_ft_mode 5).
 * - `taken-over`: a former receiver runs the VM on its own (`cuju_ft_trans_close vm_started.`).
 * - `not-in-ft`: FT ended or failed on this VM (cancelled, ACK failed, migration failed).
 */
export type CujuFtKnowledge =
  | 'unknown'
  | 'primary-starting'
  | 'primary-ft'
  | 'receiver-starting'
  | 'receiver-ft'
  | 'taken-over'
  | 'not-in-ft';

/** States in which a new monitor connection to the VM can crash it. */
const FT_RUNNING: ReadonlySet<CujuFtKnowledge> = new Set([
  'primary-starting',
  'primary-ft',
  'receiver-starting',
  'receiver-ft',
]);

/**
 * Cuju's monitor as typed methods, over any Hmp (the readline socket Cuju's scripts use,
 * or HMP over QMP), for one Cuju build (builds.ts). Cuju prints nothing on the monitor
 * when these commands succeed, so any text is an error: CujuCommandError carries it.
 *
 * Nothing is sent when a method is refused: bad input (CujuArgumentError names the
 * field), a command the build lacks (CujuUnsupportedCommandError names the build that
 * has it), or a command that would crash the VM in the state the monitor knows it in
 * (CujuUnsafeCommandError).
 */
export class CujuMonitor {
  readonly hmp: Hmp;
  private profile: CujuBuildProfile | undefined;
  private detecting: Promise<CujuBuildProfile> | undefined;
  private knowledge: CujuFtKnowledge = 'unknown';
  private readonly key: string;

  constructor(connection: Hmp | QmpClient, options: CujuMonitorOptions = {}) {
    if (typeof connection !== 'object' || connection === null) {
      throw new CujuArgumentError('connection', 'must be an Hmp or a QmpClient');
    }
    const opts = checkObjectArg('options', options);
    this.hmp = connection instanceof QmpClient ? new QmpHmp(connection) : connection;
    this.profile =
      opts.build === undefined ? undefined : cujuBuild(opts.build as CujuBuildName, 'options.build');
    if (opts.endpointKey !== undefined && typeof opts.endpointKey !== 'string') {
      throw new CujuArgumentError('options.endpointKey', 'must be a string');
    }
    this.key = (opts.endpointKey as string | undefined) ?? this.hmp.endpoint;
  }

  /**
   * Connects to a readline monitor, a QMP one, or a socket on a Host, after checking that
   * the connection cannot hurt the VM: never to a group join port, never to a VM whose FT
   * this process started (unless `allowDuringFt`). Then learns the build (given, or from
   * `help`).
   */
  static async connect(target: CujuMonitorTarget, options: CujuConnectOptions = {}): Promise<CujuMonitor> {
    const t = checkObjectArg('target', target);
    const opts = checkObjectArg('options', options);
    const build =
      opts.build === undefined ? undefined : cujuBuild(opts.build as CujuBuildName, 'options.build');
    const key = monitorEndpointKey(target);
    if ('hmp' in t || 'qmp' in t) {
      const endpoint = ('hmp' in t ? t.hmp : t.qmp) as Record<string, unknown>;
      if (typeof endpoint?.host === 'string' && typeof endpoint.port === 'number') {
        if (cujuFtRegistry.isJoinPort(endpoint.host, endpoint.port))
          throw new CujuJoinPortError(endpoint.host, endpoint.port);
      }
    }
    if (cujuFtRegistry.isFt(key) && opts.allowDuringFt !== true) throw new CujuMonitorDuringFtError(key);
    const connection = await openMonitor(target);
    const monitor = new CujuMonitor(connection, { ...(build ? { build } : {}), endpointKey: key });
    try {
      await monitor.detectBuild();
    } catch (err) {
      await monitor.close().catch(() => {});
      throw err;
    }
    return monitor;
  }

  /** Where the monitor is, as people read it. */
  get endpoint(): string {
    return this.hmp.endpoint;
  }

  /** The build, once given or detected (see detectBuild). */
  get build(): CujuBuildProfile | undefined {
    return this.profile;
  }

  /** What this monitor knows about its VM's FT (see CujuFtKnowledge). */
  get ftKnowledge(): CujuFtKnowledge {
    return this.knowledge;
  }

  /**
   * The build: the one given, or the one `help` shows (sent once; `help` changes
   * nothing in the VM). Throws CujuBuildDetectError when `help` matches no build.
   */
  async detectBuild(options?: CallOptions): Promise<CujuBuildProfile> {
    if (this.profile) return this.profile;
    this.detecting ??= (async () => {
      const line = hmpLine('help', 'name:S?', {});
      const name = detectBuildFromHelp(await this.hmp.run(line, options));
      if (name === undefined) throw new CujuBuildDetectError(this.endpoint);
      this.profile = cujuBuild(name);
      return this.profile;
    })().finally(() => {
      this.detecting = undefined;
    });
    return this.detecting;
  }

  /**
   * Tells the monitor a line (or marker) of its VM's stdout, so that it knows what the
   * monitor cannot show: `first commit` makes a receiver safe to fail over,
   * `cuju_ft_trans_close vm_started.` ends its FT, `...receive ACK1 failed.` a primary's.
   */
  observe(lineOrMarker: string | CujuMarker): void {
    const marker = typeof lineOrMarker === 'string' ? parseMarker(lineOrMarker, this.profile) : lineOrMarker;
    if (marker === undefined) return;
    switch (marker.kind) {
      case 'ft-incoming':
        if (this.knowledge !== 'receiver-ft') this.know('receiver-starting');
        break;
      case 'first-commit':
        this.know('receiver-ft');
        break;
      case 'failover-vm-started':
        this.know('taken-over');
        break;
      case 'timer-tick':
        if (this.knowledge === 'primary-starting' || this.knowledge === 'unknown') this.know('primary-ft');
        break;
      case 'ft-ack-failed':
      case 'migration-load-failed':
        this.know('not-in-ft');
        break;
      default:
        break;
    }
  }

  /** `migrate_set_capability cuju-ft on` (ftmode.sh's first line). */
  async enableFt(options?: CallOptions): Promise<void> {
    return this.quiet('migrate_set_capability', { capability: 'cuju-ft', state: true }, options);
  }

  /** `migrate_set_capability cuju-ft off`. */
  async disableFt(options?: CallOptions): Promise<void> {
    return this.quiet('migrate_set_capability', { capability: 'cuju-ft', state: false }, options);
  }

  /**
   * `migrate -c tcp:HOST:PORT` (or `-d -c`): start FT to the backup. On master `-c` turns
   * `cuju-ft` on by itself; on groupft and blk-server call enableFt() first, or this is an
   * ordinary live migration.
   */
  async startFt(target: FtTarget, options?: CallOptions): Promise<void> {
    const t = checkObjectArg('target', target);
    const uri = tcpUri('target', t);
    if (t.detach !== undefined && typeof t.detach !== 'boolean')
      throw new CujuArgumentError('target.detach', 'must be a boolean');
    await this.quiet('migrate', { detach: t.detach === true, cuju: true, uri }, options);
    this.know('primary-starting');
  }

  /**
   * `cuju-migrate-cancel` (master): the primary leaves FT, the backup exits. Refused unless
   * this primary's FT is known to run: outside FT Cuju dereferences a missing transaction
   * (migration.c@21f9f0b:1578-1583). When the monitor does not know, it asks
   * `cuju-get-ft-started` first.
   */
  async cancelFt(options?: CallOptions): Promise<void> {
    checkCallOptions(options);
    const build = await this.supported('cuju-migrate-cancel', options);
    await this.require(
      'cuju-migrate-cancel',
      'primary-ft',
      build.commands['cuju-get-ft-started'] ? () => this.ftStarted(options) : undefined,
      'it crashes a VM that is not a primary in FT (migration.c@21f9f0b:1578-1583)',
    );
    await this.quiet('cuju-migrate-cancel', {}, options);
    this.know('not-in-ft');
  }

  /** `cuju-adjust-epoch N`: the epoch length in microseconds (the build's log line says us or ms). */
  async adjustEpoch(microseconds: number, options?: CallOptions): Promise<void> {
    checkEpochUs('epoch', microseconds);
    return this.quiet('cuju-adjust-epoch', { epoch: microseconds }, options);
  }

  /**
   * `cuju-failover`: on a receiver in FT, take over now. Refused anywhere else (a primary,
   * a receiver with no committed epoch, a VM that already took over): Cuju then closes a
   * NULL transaction and crashes (cuju-ft-trans-file.c@21f9f0b:1315-1318). The monitor
   * knows a receiver is in FT from observe() (`first commit`), or, on master, by asking
   * `cuju-get-ft-mode` (5 = recv). On blk-server the command is a stub that only prints.
   */
  async failover(options?: CallOptions): Promise<void> {
    checkCallOptions(options);
    const build = await this.supported('cuju-failover', options);
    if (build.failover === 'stub') {
      throw new CujuUnsupportedCommandError(
        build.name,
        'cuju-failover',
        buildsWithCommand('cuju-failover').filter((b) => cujuBuild(b).failover === 'takeover'),
        'a stub that only prints qmp_cuju_failover, cuju-kvm-share-mem.c@4b17b51:135-139',
      );
    }
    await this.require(
      'cuju-failover',
      'receiver-ft',
      build.commands['cuju-get-ft-mode'] ? () => this.ftMode(options) : undefined,
      'it crashes anything but a receiver in FT (cuju-ft-trans-file.c@21f9f0b:1315-1318); feed the VM stdout to observe() so the monitor sees its first commit',
    );
    await this.quiet('cuju-failover', {}, options);
    this.know('taken-over');
  }

  /** `cuju-get-ft-mode` (master): Cuju's CUJU_FT_MODE (5 = recv on a receiver in FT; a primary stays 0). */
  async ftMode(options?: CallOptions): Promise<CujuFtMode> {
    checkCallOptions(options);
    const mode = parseCujuFtMode(await this.send('cuju-get-ft-mode', {}, options));
    if (mode.value === 5) this.know('receiver-ft');
    else if (mode.value === 6) this.know('taken-over');
    else if (mode.value === -1) this.know('not-in-ft');
    return mode;
  }

  /** `cuju-get-ft-started` (master): whether this primary's FT epochs run. */
  async ftStarted(options?: CallOptions): Promise<boolean> {
    checkCallOptions(options);
    const started = parseFtStarted(await this.send('cuju-get-ft-started', {}, options));
    if (started) this.know('primary-ft');
    else if (this.knowledge === 'primary-ft') this.know('not-in-ft');
    return started;
  }

  /**
   * Whether this primary's FT epochs run, with what the build has: `cuju-get-ft-started`
   * on master; elsewhere `info migrate` reading `cancelled`, which is how Cuju's FT state
   * (its MIG_STATE_ACTIVE, 3, in the upstream field) reads.
   */
  async ftRunning(options?: CallOptions): Promise<boolean> {
    checkCallOptions(options);
    const build = await this.detectBuild(options);
    if (build.ftRunningCheck === 'ft-started') return this.ftStarted(options);
    const migrate = parseCujuInfoMigrate(await this.send('info', { item: 'migrate' }, options), build);
    const running = migrate.status === 'cancelled';
    if (running) this.know('primary-ft');
    else if (migrate.status === 'failed' && this.isPrimary()) this.know('not-in-ft');
    return running;
  }

  /**
   * `info status` alone: whether the guest runs. The cheapest question a monitor answers
   * (FtPair's liveness probe; groupft prints nothing on stdout for it, unlike `info migrate`).
   */
  async status(options?: CallOptions): Promise<InfoStatus> {
    checkCallOptions(options);
    return parseInfoStatus(await this.send('info', { item: 'status' }, options));
  }

  /** `info status` and `info migrate`, parsed for the build (GFT STATUS where it has one). */
  async info(options?: CallOptions): Promise<CujuInfo> {
    checkCallOptions(options);
    const build = await this.detectBuild(options);
    const status = parseInfoStatus(await this.send('info', { item: 'status' }, options));
    const migrate = parseCujuInfoMigrate(await this.send('info', { item: 'migrate' }, options), build);
    if (migrate.status === 'failed' && this.knowledge === 'primary-starting') this.know('not-in-ft');
    return { status, migrate };
  }

  /** `gft_add_host`: adds a host to the GFT group table. */
  async gftAddHost(host: GftHost, options?: CallOptions): Promise<void> {
    return this.quiet('gft_add_host', gftHostArgs('host', host), options);
  }

  /** `gft_add_host2`: adds a host with its backup's join port. */
  async gftAddHost2(host: GftHost & { slaveJoinPort: number }, options?: CallOptions): Promise<void> {
    const args = gftHostArgs('host', host);
    checkPort('host.slaveJoinPort', host.slaveJoinPort);
    return this.quiet('gft_add_host2', { ...args, slave_host_join_port: host.slaveJoinPort }, options);
  }

  /** `gft_init`: sends the group table to every member and starts group FT. */
  async gftInit(options?: CallOptions): Promise<void> {
    return this.quiet('gft_init', {}, options);
  }

  /** `gft_add_member`: adds a member to a running group. */
  async gftAddMember(member: Omit<GftHost, 'gftId'>, options?: CallOptions): Promise<void> {
    const m = checkObjectArg('member', member);
    const { gft_id: _, ...args } = gftHostArgs('member', { ...(m as Omit<GftHost, 'gftId'>), gftId: 0 });
    return this.quiet('gft_add_member', args, options);
  }

  /** `gft_add_backup`: gives a member a new backup. */
  async gftAddBackup(
    backup: { slaveIp: string; slaveIncomingPort: number },
    options?: CallOptions,
  ): Promise<void> {
    const b = checkObjectArg('backup', backup);
    checkIPv4('backup.slaveIp', b.slaveIp);
    checkPort('backup.slaveIncomingPort', b.slaveIncomingPort);
    return this.quiet(
      'gft_add_backup',
      { slave_host_ip: b.slaveIp as string, slave_incoming_port: b.slaveIncomingPort as number },
      options,
    );
  }

  /** `gft_member_live_mig -d -c tcp:HOST:PORT,`: a new member's FT, before gft_add_member. */
  async gftMemberLiveMig(target: FtTarget, options?: CallOptions): Promise<void> {
    const t = checkObjectArg('target', target);
    const uri = `${tcpUri('target', t)},`;
    if (t.detach !== undefined && typeof t.detach !== 'boolean')
      throw new CujuArgumentError('target.detach', 'must be a boolean');
    await this.quiet('gft_member_live_mig', { detach: t.detach !== false, cuju: true, uri }, options);
    this.know('primary-starting');
  }

  /** `migrate_pause`: pauses the migration stream. */
  async migratePause(options?: CallOptions): Promise<void> {
    return this.quiet('migrate_pause', {}, options);
  }

  /** `migrate_resume`: resumes the migration stream. */
  async migrateResume(options?: CallOptions): Promise<void> {
    return this.quiet('migrate_resume', {}, options);
  }

  /**
   * Closes this connection. The VM's FT, if any, goes on: its endpoint stays recorded as
   * in FT, so that no new connection is opened to it (see cujuFtRegistry).
   */
  close(): Promise<void> {
    return this.hmp.close();
  }

  // ---- internals --------------------------------------------------------------------

  /**
   * The guard of a command that crashes the VM unless it is in `wanted`: when the monitor
   * does not know that, it asks first if the build can tell (`ask`, a read-only query).
   */
  private async require(
    command: CujuCommandName,
    wanted: CujuFtKnowledge,
    ask: (() => Promise<unknown>) | undefined,
    why: string,
  ): Promise<void> {
    if (this.knowledge !== wanted && ask) await ask();
    if (this.knowledge !== wanted) throw new CujuUnsafeCommandError(command, this.knowledge, why);
  }

  private isPrimary(): boolean {
    return this.knowledge === 'primary-starting' || this.knowledge === 'primary-ft';
  }

  private know(state: CujuFtKnowledge): void {
    this.knowledge = state;
    if (FT_RUNNING.has(state)) cujuFtRegistry.markFt(this.key);
    else cujuFtRegistry.clearFt(this.key);
  }

  /** The build, and a refusal when it lacks the command. */
  private async supported(command: CujuCommandName, options?: CallOptions): Promise<CujuBuildProfile> {
    const build = await this.detectBuild(options);
    if (build.commands[command] === undefined)
      throw new CujuUnsupportedCommandError(build.name, command, buildsWithCommand(command));
    return build;
  }

  private async send(
    command: CujuCommandName,
    values: Record<string, HmpValue>,
    options?: CallOptions,
  ): Promise<string> {
    checkCallOptions(options);
    const build = await this.supported(command, options);
    const spec = build.commands[command]!;
    return this.hmp.run(hmpLine(command, spec.argsType, values), options);
  }

  /** Runs a command whose success prints nothing; any output is Cuju's error text. */
  private async quiet(
    command: CujuCommandName,
    values: Record<string, HmpValue>,
    options?: CallOptions,
  ): Promise<void> {
    checkCallOptions(options);
    const build = await this.supported(command, options);
    const line = hmpLine(command, build.commands[command]!.argsType, values);
    const out = await this.hmp.run(line, options);
    if (out.trim() !== '') throw new CujuCommandError(line, out);
  }
}

/**
 * The key a monitor endpoint is recorded under in cujuFtRegistry: `unix:PATH` or
 * `tcp:HOST:PORT` for sockets this machine reaches directly (a LocalHost's paths are
 * this machine's too), `HOSTNAME:unix:PATH` for a socket on another Host.
 */
export function monitorEndpointKey(target: CujuMonitorTarget): string {
  const t = checkTarget(target);
  if ('hmp' in t) return endpointName(t.hmp);
  if ('qmp' in t) return endpointName(t.qmp);
  if (t.host instanceof LocalHost) return `unix:${t.path}`;
  return `${t.host.name}:unix:${t.path}`;
}

/** `unix:PATH`, `tcp:HOST:PORT`, or the name given with a socket: how the clients name an endpoint. */
function endpointName(endpoint: HmpConnectOptions | QmpConnectOptions): string {
  if ('socket' in endpoint) return endpoint.name ?? 'the given socket';
  if ('path' in endpoint) return `unix:${endpoint.path}`;
  return `tcp:${endpoint.host}:${endpoint.port}`;
}

/**
 * A target of one of the three shapes, with its endpoint an object (its fields are the
 * transport's to check: HmpClient/QmpClient refuse bad paths, hosts and ports), or a Host
 * and a socket path on it.
 */
function checkTarget(target: unknown): CujuMonitorTarget {
  const t = checkObjectArg('target', target);
  for (const kind of ['hmp', 'qmp'] as const) {
    if (kind in t) {
      const endpoint = checkObjectArg(`target.${kind}`, t[kind]);
      for (const key of ['path', 'host'] as const) {
        if (endpoint[key] !== undefined && typeof endpoint[key] !== 'string') {
          throw new CujuArgumentError(`target.${kind}.${key}`, 'must be a string');
        }
      }
      return t as CujuMonitorTarget;
    }
  }
  const host = checkObjectArg('target.host', t.host);
  if (typeof host.name !== 'string' || typeof host.connectMonitor !== 'function') {
    throw new CujuArgumentError('target.host', 'must be a Host (LocalHost, SshHost), or give hmp or qmp');
  }
  if (typeof t.path !== 'string' || t.path === '') {
    throw new CujuArgumentError('target.path', 'must be a non-empty string');
  }
  return t as CujuMonitorTarget;
}

async function openMonitor(target: CujuMonitorTarget): Promise<Hmp | QmpClient> {
  if ('hmp' in target) return HmpClient.connect(target.hmp);
  if ('qmp' in target) return QmpClient.connect(target.qmp);
  const socket = await target.host.connectMonitor(target.path);
  return HmpClient.connect({ socket, name: monitorEndpointKey(target) });
}

function checkObjectArg(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CujuArgumentError(field, 'must be an object');
  }
  return value as Record<string, unknown>;
}

function checkCallOptions(options: unknown): void {
  if (options === undefined) return;
  const o = checkObjectArg('options', options);
  if (
    o.timeoutMs !== undefined &&
    (typeof o.timeoutMs !== 'number' || Number.isNaN(o.timeoutMs) || o.timeoutMs < 0)
  )
    throw new CujuArgumentError('options.timeoutMs', 'must be a number of milliseconds (>= 0)');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw new CujuArgumentError('options.signal', 'must be an AbortSignal');
}

function tcpUri(field: string, target: Record<string, unknown>): string {
  checkIPv4(`${field}.host`, target.host);
  checkPort(`${field}.port`, target.port);
  return `tcp:${target.host as string}:${target.port as number}`;
}

function gftHostArgs(field: string, host: GftHost): Record<string, HmpValue> {
  const h = checkObjectArg(field, host) as unknown as GftHost;
  checkId(`${field}.gftId`, h.gftId);
  checkIPv4(`${field}.masterIp`, h.masterIp);
  checkPort(`${field}.masterGftPort`, h.masterGftPort);
  checkMac(`${field}.masterMac`, h.masterMac);
  checkIPv4(`${field}.slaveIp`, h.slaveIp);
  checkPort(`${field}.slaveFtPort`, h.slaveFtPort);
  return {
    gft_id: h.gftId,
    master_host_ip: h.masterIp,
    master_host_gft_port: h.masterGftPort,
    master_mac: h.masterMac,
    slave_host_ip: h.slaveIp,
    slave_host_ft_port: h.slaveFtPort,
  };
}
