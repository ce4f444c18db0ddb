export { FtApi, type WriteGate } from './api.js';
export * from './driver.js';
export { FtPairDriver, type FtPairDriverOptions, localFreePort } from './drivers/ftpair-driver.js';
export * from './errors.js';
export { type LiveEventName, LiveHub } from './http/live.js';
export { ErrorBody, openApiDocument } from './http/openapi.js';
export type { IaasAdapter, IaasHint, IaasVm } from './iaas/adapter.js';
export type { IaasCreated, IaasCreator } from './iaas/create.js';
export {
  LIBVIRT_ADAPTER_NAME,
  LibvirtAdapter,
  type LibvirtAdapterOptions,
  type LibvirtHostConnection,
  libvirtBackupName,
} from './iaas/libvirt/adapter.js';
export {
  BACKUP_PREFIX,
  backupDomain,
  type CujuBackupInput,
  type CujuDomain,
  type CujuDomainInput,
  type GuestDomainInput,
  guestDomain,
  LIBVIRT_SAFE_MON_ID,
  primaryDomain,
  QEMU_NS,
} from './iaas/libvirt/domain-xml.js';
export {
  FT_INTENT_KEY,
  FT_INTENT_NS,
  FT_STATUS_KEY,
  FT_STATUS_NS,
  intentElement,
  type PublishedStatus,
  parseIntentElement,
  parseStatusElement,
  statusElement,
} from './iaas/libvirt/metadata.js';
export {
  credentialsFromEnv as openstackCredentialsFromEnv,
  KeystoneSession,
  type KeystoneSessionOptions,
  type KeystoneToken,
  MASAKARI_DEFAULTS,
  type MasakariConf,
  masakariRecovers,
  NOVA_MICROVERSION,
  type NotificationHintOptions as NovaNotificationHintOptions,
  type NotificationSource as NovaNotificationSource,
  NovaClient,
  type NovaClientOptions,
  type NovaServerCreate,
  notificationHints as novaNotificationHints,
  OpenStackAdapter,
  type OpenStackAdapterOptions,
  type OpenStackCreateDefaults,
  type OpenStackCredentials,
  OpenStackError,
  type OpenStackErrorReason,
  openstackBackupName,
  parseOsloMessage,
  validateToken as validateKeystoneToken,
} from './iaas/openstack/index.js';
/** The server metadata keys and the flavor extra spec the OpenStack adapter reads and writes. */
export { OPENSTACK_KEYS } from './iaas/openstack/metadata.js';
export { IaasSync, type IaasSyncOptions, type IaasSyncPass, iaasPrefix, iaasVmId } from './iaas/sync.js';
export * from './iaas/zstack/index.js';
export { LeaderLease, type LeaderOptions } from './leader.js';
export { ServiceMetrics } from './metrics.js';
export * from './model.js';
export {
  primaryCandidate,
  reserve,
  type SecondaryQuery,
  secondaryCandidates,
  type Usage,
} from './placement.js';
export { planVm, usageOf, type VmFacts, type VmPlan } from './planner.js';
export { Reconciler, type ReconcilerOptions } from './reconciler.js';
export { type StepOutcome, type StepPhase, type StepProgress, StepRunner } from './runner.js';
export { FtService, type FtServiceOptions } from './service.js';
export { deriveStatus, describeStatus } from './status.js';
export {
  type Changes,
  FtStore,
  type Lease,
  type StoreConfig,
  type StoredStatus,
  StoreWriter,
  type World,
} from './store/store.js';
