export * from './errors.js';
export type {
  CujuBinary,
  FailoverReport,
  FtPairEvents,
  FtPairOptions,
  FtPairState,
  FtPairStateChange,
  MarkerEvent,
  NotProtectedReason,
  UpOptions,
} from './ft-pair.js';
export { FtPair } from './ft-pair.js';
export * from './hosts/errors.js';
export { waitForLine } from './hosts/follow.js';
export type {
  Host,
  RunOptions,
  RunResult,
  SpawnOptions,
  VmExit,
  VmProcess,
  WriteFileOptions,
} from './hosts/host.js';
export { sha256Fingerprint } from './hosts/hostkey.js';
export { LocalHost, type LocalHostOptions } from './hosts/local.js';
export { shellJoin, shellQuote } from './hosts/quote.js';
export { type HostKeyCheck, SshHost, type SshHostOptions } from './hosts/ssh.js';
export type { CujuIncoming } from './launch.js';
export { blockClientArgv, blockServerArgv, primaryArgv, receiverArgv } from './launch.js';
export type { CujuMarker, CujuMarkerKind } from './markers.js';
export { markerError, parseMarker } from './markers.js';
export type { CujuInfo, CujuMonitorTarget, FtTarget, GftHost } from './monitor.js';
export { CujuMonitor } from './monitor.js';
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
} from './prepare-host.js';
export { prepareHost } from './prepare-host.js';
export * from './spec.js';
export * from './validate.js';
