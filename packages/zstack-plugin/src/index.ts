export { FtApi, type WriteGate } from './api.js';
export * from './driver.js';
export { FtPairDriver, type FtPairDriverOptions, localFreePort } from './drivers/ftpair-driver.js';
export * from './errors.js';
export { type LiveEventName, LiveHub } from './http/live.js';
export { ErrorBody, openApiDocument } from './http/openapi.js';
export type { IaasAdapter, IaasHint, IaasVm } from './iaas/adapter.js';
export type { IaasCreated, IaasCreator } from './iaas/create.js';
export * from './iaas/openstack/index.js';
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
