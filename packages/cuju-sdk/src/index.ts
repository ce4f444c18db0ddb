/**
 * @cuju/sdk's public API: what a user of the package needs, and every type its functions
 * and methods take or return. Internal helpers (the input checks, shell quoting, the
 * known_hosts parser, the step planner) are deliberately not exported.
 */

// The monitor, and the types of @cuju/qmp that its methods take or return.
export type {
  CallOptions,
  Hmp,
  HmpConnectOptions,
  InfoMigrate,
  InfoStatus,
  QmpConnectOptions,
} from '@cuju/qmp';
// Build profiles.
export type {
  CujuBuildName,
  CujuBuildProfile,
  CujuCommandName,
  CujuCommandSpec,
  CujuOption,
  GftStatus,
} from './builds.js';
export {
  buildsWithCommand,
  buildsWithOption,
  CUJU_BUILD_NAMES,
  CUJU_BUILDS,
  CUJU_OPTIONS,
  cujuBuild,
  detectBuildFromHelp,
  isCujuBuildName,
} from './builds.js';
// Errors: one root (CujuError), codes CUJU_* and HOST_* (see the README for the tree).
export {
  CujuArgumentError,
  CujuBuildDetectError,
  CujuCommandError,
  CujuError,
  type CujuErrorCode,
  CujuJoinPortError,
  CujuMonitorDuringFtError,
  CujuOutputError,
  CujuUnsafeCommandError,
  CujuUnsupportedCommandError,
  CujuUnsupportedOptionError,
  FtAckError,
  FtPairError,
  type FtPairErrorKind,
  type FtPairReason,
  type GftAddHostCommand,
  GftAlreadyStartedError,
  GftBadMacError,
  GftInitAckError,
  GftLeaderConnectError,
  GftMemberConnectError,
  type HostErrorCode,
  MigrationLoadError,
  QemuReportedError,
} from './errors.js';
// FT pair.
export type {
  AttachOptions,
  CujuBinary,
  FailoverReport,
  FenceEvent,
  FtPairEvent,
  FtPairEvents,
  FtPairOptions,
  FtPairRecord,
  FtPairState,
  FtPairStateChange,
  FtPairTimeouts,
  HostRef,
  MarkerEvent,
  NotProtectedReason,
  OperationOptions,
  SecondaryOptions,
  TestFailoverOptions,
  UpOptions,
  VmRecord,
  WatchdogOptions,
} from './ft-pair.js';
export { FtPair } from './ft-pair.js';
export { cujuFtRegistry } from './ft-registry.js';
// Hosts.
export {
  HostAbortedError,
  HostAuthError,
  HostBinaryMissingError,
  HostCommandError,
  HostConnectError,
  HostDisconnectedError,
  HostError,
  HostKeyError,
  HostSudoError,
  HostTimeoutError,
} from './hosts/errors.js';
export { waitForLine } from './hosts/follow.js';
export type {
  AdoptOptions,
  Host,
  RunOptions,
  RunResult,
  SpawnOptions,
  VmExit,
  VmProcess,
  VmRef,
  WriteFileOptions,
} from './hosts/host.js';
export { LocalHost, type LocalHostOptions } from './hosts/local.js';
export type { SecretPattern } from './hosts/redact.js';
export { type HostKeyCheck, SshHost, type SshHostOptions } from './hosts/ssh.js';
// Command lines.
export type { CujuBuildRef, CujuIncoming } from './launch.js';
export { blockClientArgv, blockServerArgv, primaryArgv, receiverArgv } from './launch.js';
// Cuju's stdout.
export type { CujuMarker, CujuMarkerKind } from './markers.js';
export { markerError, parseMarker } from './markers.js';
// The monitor.
export type {
  CujuConnectOptions,
  CujuFtKnowledge,
  CujuInfo,
  CujuMonitorOptions,
  CujuMonitorTarget,
  FtTarget,
  GftHost,
} from './monitor.js';
export { CujuMonitor, monitorEndpointKey } from './monitor.js';
// Block-server FT (blk-server build): the block server, the primary, the backup.
export {
  type BlockServerPlacementRule,
  CujuBlockServerPlacementError,
} from './pair/blk-errors.js';
export {
  type BlockServerOptions,
  BlockServerPair,
  type BlockServerPairOptions,
  type BlockServerPlan,
  type BlockServerPlanProcess,
} from './pair/blk-pair.js';
// The engine seam and the reusable VM session (group FT, the COLO engine).
export {
  COLO_DISK,
  COLO_NETWORK,
  type ColoDisk,
  type ColoNetwork,
  type ColoOptions,
  checkColoOptions,
  QEMU_CHECKPOINT_DELAY_MS,
  type ResolvedColoOptions,
} from './pair/colo-args.js';
export { ColoEngine, type ColoVmMonitor } from './pair/colo-engine.js';
export { CujuEngine, type CujuVmMonitor } from './pair/cuju-engine.js';
export type {
  EngineCallOptions,
  EngineMonitor,
  EnginePairPlan,
  EngineSignal,
  FtEngine,
  FtVm,
  PairRole,
  StopFtOutcome,
} from './pair/engine.js';
export {
  type AdoptSessionOptions,
  type LaunchOptions,
  SessionOwner,
  VmSession,
} from './pair/session.js';
export {
  FT_PAIR_EVENTS,
  FT_PAIR_STATES,
  FT_PAIR_TRANSITIONS,
  type FtPairTransition,
  transitionOf,
} from './pair/states.js';
export type { CujuFtMode, CujuFtModeName, CujuInfoMigrate } from './parsers.js';
export { CUJU_FT_MODES, parseCujuFtMode, parseCujuInfoMigrate, parseFtStarted } from './parsers.js';
// Host preparation.
export { type PrepareFailureReason, PrepareHostError } from './prepare-host/error.js';
export type {
  BuildKvmOptions,
  BuildQemuOptions,
  HostPrepOptions,
  LoadKvmOptions,
  PrepareHostOptions,
  PrepareHostResult,
  PreparePhase,
  PrepareProgress,
  PrepareStep,
} from './prepare-host/options.js';
export { prepareHost } from './prepare-host/run.js';
// VM specs.
export {
  type CujuDriveOptions,
  type CujuEndpoint,
  type CujuNicSpec,
  type CujuVmSpec,
  checkVmSpec,
} from './spec.js';
export type { VgaType } from './validate.js';
