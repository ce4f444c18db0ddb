/**
 * The contract between the FT service and an IaaS manager (ZStack, OpenStack, libvirt...).
 * An adapter only reads the IaaS's view of its VMs and writes the FT status back; the
 * service's IaasSync (sync.ts) decides what to do with it (level-triggered, hints only
 * make it look sooner).
 */
import type { FtIntentInput, FtStatus } from '../model.js';

/** A VM as the IaaS manager knows it, reduced to what the FT service needs. */
export interface IaasVm {
  /** The service's VM id (model `Id`): `<adapter>-<the IaaS id lowercased, cut to fit>`. */
  id: string;
  /** The IaaS's own id (ZStack uuid, nova server id, libvirt domain uuid). */
  iaasId: string;
  /** The VM's display name in the IaaS. */
  name: string;
  /** The service's host name (model `Host.name`) where the primary runs. */
  host: string;
  /** The VM's memory size in MiB. */
  memoryMiB: number;
  /** The IaaS's word for the VM's power state, folded. */
  state: 'running' | 'stopped' | 'deleted';
  /** The FT checkbox and its options; undefined: not ticked (or the IaaS forbids FT). */
  ft: FtIntentInput | undefined;
}

/** Events are hints: they make the sync look sooner, never decide anything. */
export type IaasHint =
  | { kind: 'vm-changed'; iaasId: string }
  | { kind: 'host-down'; host: string }
  | { kind: 'resync' };

/** One IaaS manager as the FT service sees it. */
export interface IaasAdapter {
  /** 'zstack', 'openstack', 'libvirt', ... (also the prefix of its VM ids). */
  readonly name: string;
  /** The polling truth: every VM the adapter manages (ticked, or ticked before). */
  listVms(signal?: AbortSignal): Promise<IaasVm[]>;
  /** One VM by the IaaS's id; undefined when the IaaS does not know it (or it is not managed). */
  getVm(iaasId: string, signal?: AbortSignal): Promise<IaasVm | undefined>;
  /** Webhook, AMQP notifications, virsh events...; ends when the signal aborts. */
  hints(signal: AbortSignal): AsyncIterable<IaasHint>;
  /** Service host names that may hold this VM's secondary (same cluster/AZ, not its host). */
  candidateBackupHosts(vm: IaasVm, signal?: AbortSignal): Promise<string[]>;
  /** Writes the FT status back where the IaaS's users look (tags, metadata). */
  publishStatus(vm: IaasVm, status: FtStatus, signal?: AbortSignal): Promise<void>;
  /** Releases sockets, listeners and timers; the adapter is unusable afterwards. */
  close(): Promise<void>;
}
