/**
 * Cuju command lines from a CujuVmSpec and the Cuju build that will run them: the argv
 * after the binary, for the primary (runvm.sh), the receiver (recv.sh), the block server
 * and its clients. Every field is checked first; a bad one throws CujuArgumentError
 * naming it, and an option the build rejects (`-ft-join-port`, `-gft-id` and
 * `-blk-server*` on master, `-blk-server*` on groupft) throws CujuUnsupportedOptionError:
 * nothing is started with a command line the build would refuse.
 *
 * Order and spelling follow the seed scripts, so that for their values the argv joined
 * with spaces is their line:
 *
 *   [-name N] -drive if=none,id=drive0,cache=none[,aio=A],format=raw,file=IMG
 *   -device virtio-blk,drive=drive0[,scsi=off] -m MEM -enable-kvm
 *   -net tap,ifname=TAP -net nic,model=virtio,vlan=0,macaddr=MAC -cpu host -vga std
 *   -chardev socket,id=mon,path=MON,server,nowait -mon chardev=mon,id=monitor,mode=readline
 *   [-qmp unix:QMP,server,nowait] [-gft-id N] [-ft-join-port P] [-smp N]
 *   [-blk-server-listen :P | -blk-server IP:P] [extra args] [-incoming tcp:0:PORT,ft_mode]
 *
 * runvm.sh, blk_server.sh, blk_primary.sh and Cuju's gft_script/run_ft and sql_ft come out
 * exactly. Where two seeds disagree on the place of an option (recv.sh puts -cpu after
 * the monitor; the ITRI manual's run_ft puts -ft-join-port before -vga; blk_backup.sh puts
 * -blk-server after -incoming), this order follows runvm.sh and the Cuju repository's
 * scripts: QEMU reads these options the same wherever they stand (the last -cpu wins,
 * and vl.c starts the -incoming listener only after reading the whole command line).
 */
import type { CujuBuildName, CujuBuildProfile } from './builds.js';
import { CujuArgumentError } from './errors.js';
import {
  type CujuEndpoint,
  type CujuVmSpec,
  checkEndpoint,
  checkSpecForBuild,
  type ResolvedVmSpec,
  resolveVmSpec,
} from './spec.js';
import { checkListenHost, checkPort } from './validate.js';

/** Where a receiver listens for its primary: `-incoming tcp:HOST:PORT,ft_mode`. */
export interface CujuIncoming {
  port: number;
  /** Default `0` (every address), as recv.sh. */
  host?: string;
}

/** Which Cuju build runs the command line: its name (`'master'`) or its profile. */
export type CujuBuildRef = CujuBuildName | CujuBuildProfile;

/** The primary: runvm.sh's command line (and blk_primary.sh's, with `blockServer`). */
export function primaryArgv(spec: CujuVmSpec, build: CujuBuildRef): string[] {
  const resolved = resolveVmSpec(spec);
  checkSpecForBuild(resolved, build);
  return buildArgv(resolved);
}

/**
 * The receiver (backup): the primary's command line with `-incoming tcp:HOST:PORT,ft_mode`
 * last. recv.sh gets this line by running sed over runvm.sh; here it is built from the
 * backup's own spec (its tap, monitor path and, for GFT, join port, taken as given).
 *
 * Cuju enters FT receive mode only when `ft_mode` ends the -incoming text
 * (qemu_start_incoming_migration: strstr, then strcmp), and only for `tcp:`; the option
 * is placed last as well, as recv.sh does, so the line reads like the seeds'.
 */
export function receiverArgv(spec: CujuVmSpec, incoming: CujuIncoming, build: CujuBuildRef): string[] {
  const resolved = resolveVmSpec(spec);
  if (typeof incoming !== 'object' || incoming === null)
    throw new CujuArgumentError('incoming', 'must be an object');
  const port = checkPort('incoming.port', incoming.port);
  const host = incoming.host === undefined ? '0' : checkListenHost('incoming.host', incoming.host);
  if (resolved.blockServerListen !== undefined) {
    throw new CujuArgumentError(
      'spec.blockServerListen',
      'cannot be set on a receiver: the block server must keep serving the disk while a backup takes over',
    );
  }
  checkSpecForBuild(resolved, build);
  return [...buildArgv(resolved), '-incoming', `tcp:${host}:${port},ft_mode`];
}

/**
 * The block server: a VM that serves its disk to the primary and the backup
 * (`-blk-server-listen :PORT`, blk_server.sh). blk_server.sh also gives it
 * `-ft-join-port 4000`, away from the default 5000 that a VM on the same host may use:
 * set `joinPort` for that.
 */
export function blockServerArgv(spec: CujuVmSpec, listenPort: number, build: CujuBuildRef): string[] {
  const port = checkPort('listenPort', listenPort);
  const resolved = resolveVmSpec(spec);
  if (resolved.blockServer !== undefined) {
    throw new CujuArgumentError('spec.blockServer', 'cannot be set on the block server itself');
  }
  const server = { ...resolved, blockServerListen: port };
  checkSpecForBuild(server, build);
  return buildArgv(server);
}

/**
 * A block-server client started as a primary (`-blk-server IP:PORT`, blk_primary.sh).
 * `server` takes precedence over `spec.blockServer`. A backup that uses the block server
 * (blk_backup.sh) is `receiverArgv` of a spec with `blockServer` set.
 */
export function blockClientArgv(spec: CujuVmSpec, server: CujuEndpoint, build: CujuBuildRef): string[] {
  const endpoint = checkEndpoint('server', server);
  const resolved = resolveVmSpec(spec);
  if (resolved.blockServerListen !== undefined) {
    throw new CujuArgumentError('spec.blockServerListen', 'cannot be set on a block-server client');
  }
  const client = { ...resolved, blockServer: endpoint };
  checkSpecForBuild(client, build);
  return buildArgv(client);
}

/** The command line of a checked spec, in the seeds' order (see the file comment). */
function buildArgv(s: ResolvedVmSpec): string[] {
  const argv: string[] = [];
  if (s.name !== undefined) argv.push('-name', s.name);
  if (s.image !== undefined) {
    const aio = s.aio === undefined ? '' : `,aio=${s.aio}`;
    const scsi = s.scsi === undefined ? '' : `,scsi=${s.scsi ? 'on' : 'off'}`;
    argv.push('-drive', `if=none,id=drive0,cache=none${aio},format=raw,file=${s.image}`);
    argv.push('-device', `virtio-blk,drive=drive0${scsi}`);
  }
  if (s.memory !== undefined) argv.push('-m', s.memory);
  if (s.kvm) argv.push('-enable-kvm');
  if (s.nic !== undefined) {
    argv.push('-net', `tap,ifname=${s.nic.tap}`);
    argv.push('-net', `nic,model=${s.nic.model},vlan=0,macaddr=${s.nic.mac}`);
  }
  if (s.cpu !== undefined) argv.push('-cpu', s.cpu);
  if (s.vga !== undefined) argv.push('-vga', s.vga);
  argv.push('-chardev', `socket,id=mon,path=${s.monitorPath},server,nowait`);
  argv.push('-mon', 'chardev=mon,id=monitor,mode=readline');
  if (s.qmpPath !== undefined) argv.push('-qmp', `unix:${s.qmpPath},server,nowait`);
  if (s.gftId !== undefined) argv.push('-gft-id', String(s.gftId));
  if (s.joinPort !== undefined) argv.push('-ft-join-port', String(s.joinPort));
  if (s.smp !== undefined) argv.push('-smp', String(s.smp));
  if (s.blockServerListen !== undefined) argv.push('-blk-server-listen', `:${s.blockServerListen}`);
  if (s.blockServer !== undefined) argv.push('-blk-server', `${s.blockServer.host}:${s.blockServer.port}`);
  argv.push(...s.extraArgs);
  return argv;
}
