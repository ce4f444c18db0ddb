import {
  type CallOptions,
  type CujuFtMode,
  type Hmp,
  HmpClient,
  type HmpConnectOptions,
  type HmpValue,
  hmpLine,
  type InfoMigrate,
  type InfoStatus,
  parseCujuFtMode,
  parseFtStarted,
  parseInfoMigrate,
  parseInfoStatus,
  QmpClient,
  type QmpConnectOptions,
  QmpHmp,
} from '@cuju/qmp';
import { CujuCommandError } from './errors.js';
import { checkEpochUs, checkId, checkIPv4, checkMac, checkPort } from './validate.js';

/**
 * Cuju's HMP commands with their exact args_type strings (hmp-commands.hx of Cuju,
 * reference §2.1). Every line this SDK sends is built from these by hmpLine, so it is
 * byte-identical to the seed scripts' line for the same inputs.
 */
const ARGS = {
  migrate: 'detach:-d,blk:-b,inc:-i,cuju:-c,uri:s',
  migrate_set_capability: 'capability:s,state:b',
  'cuju-failover': '',
  'cuju-adjust-epoch': 'epoch:i',
  'cuju-migrate-cancel': '',
  'cuju-get-ft-mode': '',
  'cuju-get-ft-started': '',
  gft_add_host:
    'gft_id:i,master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i',
  gft_add_host2:
    'gft_id:i,master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i,slave_host_join_port:i',
  gft_init: '',
  gft_add_member: 'master_host_ip:s,master_host_gft_port:i,master_mac:s,slave_host_ip:s,slave_host_ft_port:i',
  gft_add_backup: 'slave_host_ip:s,slave_incoming_port:i',
  gft_member_live_mig: 'detach:-d,blk:-b,inc:-i,cuju:-c,uri:s',
  migrate_pause: '',
  migrate_resume: '',
  info: 'item:s?',
} as const;

type CujuCommand = keyof typeof ARGS;

/** Which monitor to connect to: a readline (`hmp`) or a QMP (`qmp`) socket. */
export type CujuMonitorTarget = { hmp: HmpConnectOptions } | { qmp: QmpConnectOptions };

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
  migrate: InfoMigrate;
}

/**
 * Cuju's monitor as typed methods, over any Hmp (the readline socket Cuju's scripts use,
 * or HMP over QMP). Cuju prints nothing on the monitor when these commands succeed, so
 * any text is an error: CujuCommandError carries it. Inputs are validated before
 * anything is sent (CujuArgumentError names the field).
 */
export class CujuMonitor {
  readonly hmp: Hmp;

  constructor(connection: Hmp | QmpClient) {
    this.hmp = connection instanceof QmpClient ? new QmpHmp(connection) : connection;
  }

  /** Connects to a readline monitor (`{ hmp: { path } }`) or a QMP one (`{ qmp: { path } }`). */
  static async connect(target: CujuMonitorTarget): Promise<CujuMonitor> {
    if ('hmp' in target) return new CujuMonitor(await HmpClient.connect(target.hmp));
    return new CujuMonitor(await QmpClient.connect(target.qmp));
  }

  /** Where the monitor is, as people read it. */
  get endpoint(): string {
    return this.hmp.endpoint;
  }

  /** `migrate_set_capability cuju-ft on` (ftmode.sh's first line). */
  async enableFt(options?: CallOptions): Promise<void> {
    return this.quiet('migrate_set_capability', { capability: 'cuju-ft', state: true }, options);
  }

  /** `migrate_set_capability cuju-ft off`. */
  async disableFt(options?: CallOptions): Promise<void> {
    return this.quiet('migrate_set_capability', { capability: 'cuju-ft', state: false }, options);
  }

  /** `migrate -c tcp:HOST:PORT` (or `-d -c`): start FT to the backup. */
  async startFt(target: FtTarget, options?: CallOptions): Promise<void> {
    return this.quiet(
      'migrate',
      { detach: target.detach === true, cuju: true, uri: tcpUri('target', target) },
      options,
    );
  }

  /** `cuju-migrate-cancel`: back to no FT (newer Cuju builds). */
  async cancelFt(options?: CallOptions): Promise<void> {
    return this.quiet('cuju-migrate-cancel', {}, options);
  }

  /** `cuju-adjust-epoch N`: the epoch length in microseconds (Cuju's log line says "ms"). */
  async adjustEpoch(microseconds: number, options?: CallOptions): Promise<void> {
    // Validation inside an async method: a bad value rejects, it never throws synchronously.
    checkEpochUs('epoch', microseconds);
    return this.quiet('cuju-adjust-epoch', { epoch: microseconds }, options);
  }

  /** `cuju-failover`: on a backup, take over now. */
  async failover(options?: CallOptions): Promise<void> {
    return this.quiet('cuju-failover', {}, options);
  }

  /** `cuju-get-ft-mode`: Cuju's CUJU_FT_MODE (5 = recv on a backup). */
  async ftMode(options?: CallOptions): Promise<CujuFtMode> {
    return parseCujuFtMode(await this.send('cuju-get-ft-mode', {}, options));
  }

  /** `cuju-get-ft-started`: whether this primary's FT epochs run. */
  async ftStarted(options?: CallOptions): Promise<boolean> {
    return parseFtStarted(await this.send('cuju-get-ft-started', {}, options));
  }

  /** `info status` and `info migrate`, parsed (GFT STATUS, cuju-ft, migration status). */
  async info(options?: CallOptions): Promise<CujuInfo> {
    const status = parseInfoStatus(await this.send('info', { item: 'status' }, options));
    const migrate = parseInfoMigrate(await this.send('info', { item: 'migrate' }, options));
    return { status, migrate };
  }

  /** `gft_add_host`: adds a host to the GFT group table. */
  async gftAddHost(host: GftHost, options?: CallOptions): Promise<void> {
    return this.quiet('gft_add_host', gftHostArgs('host', host), options);
  }

  /** `gft_add_host2`: adds a host with its backup's join port. */
  async gftAddHost2(host: GftHost & { slaveJoinPort: number }, options?: CallOptions): Promise<void> {
    checkPort('host.slaveJoinPort', host.slaveJoinPort);
    return this.quiet(
      'gft_add_host2',
      { ...gftHostArgs('host', host), slave_host_join_port: host.slaveJoinPort },
      options,
    );
  }

  /** `gft_init`: sends the group table to every member and starts group FT. */
  async gftInit(options?: CallOptions): Promise<void> {
    return this.quiet('gft_init', {}, options);
  }

  /** `gft_add_member`: adds a member to a running group. */
  async gftAddMember(member: Omit<GftHost, 'gftId'>, options?: CallOptions): Promise<void> {
    const { gft_id: _, ...args } = gftHostArgs('member', { ...member, gftId: 0 });
    return this.quiet('gft_add_member', args, options);
  }

  /** `gft_add_backup`: gives a member a new backup. */
  async gftAddBackup(
    backup: { slaveIp: string; slaveIncomingPort: number },
    options?: CallOptions,
  ): Promise<void> {
    checkIPv4('backup.slaveIp', backup.slaveIp);
    checkPort('backup.slaveIncomingPort', backup.slaveIncomingPort);
    return this.quiet(
      'gft_add_backup',
      { slave_host_ip: backup.slaveIp, slave_incoming_port: backup.slaveIncomingPort },
      options,
    );
  }

  /** `gft_member_live_mig -d -c tcp:HOST:PORT,`: a new member's FT, before gft_add_member. */
  async gftMemberLiveMig(target: FtTarget, options?: CallOptions): Promise<void> {
    return this.quiet(
      'gft_member_live_mig',
      { detach: target.detach !== false, cuju: true, uri: `${tcpUri('target', target)},` },
      options,
    );
  }

  /** `migrate_pause`: pauses the migration stream. */
  async migratePause(options?: CallOptions): Promise<void> {
    return this.quiet('migrate_pause', {}, options);
  }

  /** `migrate_resume`: resumes the migration stream. */
  async migrateResume(options?: CallOptions): Promise<void> {
    return this.quiet('migrate_resume', {}, options);
  }

  /** Closes the monitor connection. */
  close(): Promise<void> {
    return this.hmp.close();
  }

  /** Runs a command whose success prints nothing; any output is Cuju's error text. */
  private async quiet(
    command: CujuCommand,
    values: Record<string, HmpValue>,
    options?: CallOptions,
  ): Promise<void> {
    const line = hmpLine(command, ARGS[command], values);
    const out = await this.hmp.run(line, options);
    if (out.trim() !== '') throw new CujuCommandError(line, out);
  }

  private send(
    command: CujuCommand,
    values: Record<string, HmpValue>,
    options?: CallOptions,
  ): Promise<string> {
    return this.hmp.run(hmpLine(command, ARGS[command], values), options);
  }
}

function tcpUri(field: string, target: FtTarget): string {
  checkIPv4(`${field}.host`, target.host);
  checkPort(`${field}.port`, target.port);
  return `tcp:${target.host}:${target.port}`;
}

function gftHostArgs(field: string, h: GftHost): Record<string, HmpValue> {
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
