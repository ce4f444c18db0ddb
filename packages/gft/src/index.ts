/**
 * @cuju/gft: Cuju group fault tolerance (the groupft build) from one spec file. Parse and
 * check the spec (parseGroupSpec, GroupSpec, groupSpecJsonSchema), plan the start as data
 * (planGroup, formatPlan), run it with progress events (runPlan, upGroup), then read
 * (groupStatus), watch (watchGroup), re-protect (reprotect) and stop (downGroup) the
 * group, live or from its record (attachGroup, readGroupRecord) in a later process.
 */
export {
  GftError,
  type GftErrorCode,
  GroupRunError,
  type GroupRunFailure,
  GroupSpecError,
  type GroupSpecProblem,
} from './errors.js';
export type {
  GroupDeath,
  GroupFailoverReport,
  GroupMemberState,
  GroupMemberStatus,
  GroupProgress,
  GroupState,
  GroupStatus,
  GroupTakeover,
  GroupVmStatus,
  GroupWatchEvent,
} from './events.js';
export { type DownOptions, FtGroup, type RunOptions, type WatchOptions } from './group.js';
export {
  addHostLine,
  formatPlan,
  GROUP_PHASES,
  type GroupPhaseName,
  type GroupPlan,
  type GroupPlanPhase,
  type GroupPlanStep,
  type GroupPlanVm,
  type GroupRole,
  planGroup,
} from './plan.js';
export { type GroupRecord, type GroupRecordVm, readGroupRecord } from './record.js';
export {
  type AttachGroupOptions,
  attachGroup,
  downGroup,
  type GroupRun,
  type GroupTarget,
  groupStatus,
  type ReprotectOptions,
  type RunPlanOptions,
  reprotect,
  runPlan,
  upGroup,
  watchGroup,
} from './run.js';
export {
  GROUP_MEMBER_MAX,
  GroupSpec,
  type GroupSpecInput,
  groupSpecJsonSchema,
  HostSpec,
  MemberSpec,
  type ParseGroupSpecOptions,
  parseGroupSpec,
  SpareSpec,
} from './spec.js';
