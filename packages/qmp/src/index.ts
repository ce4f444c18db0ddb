export type {
  EventsOptions,
  HmpOptions,
  PendingCalls,
  QmpClientEvents,
  QmpClientOptions,
  QmpConnectOptions,
  WaitForEventOptions,
} from './client.js';
export { QmpClient } from './client.js';
export type { GenerateTypesOptions } from './codegen.js';
export { generateQmpTypes } from './codegen.js';
export type { DisconnectError, RunState } from './connection.js';
export { RUN_STATE_TRANSITIONS } from './connection.js';
export type {
  MonitorProtocol,
  QmpErrorClass,
  QmpErrorCode,
  QmpTimeoutPhase,
  TextPosition,
  VirshFailure,
} from './errors.js';
export {
  HmpArgumentError,
  HmpOutputError,
  QmpAbortError,
  QmpArgumentError,
  QmpBusyError,
  QmpCommandError,
  QmpConnectError,
  QmpDisconnectedError,
  QmpError,
  QmpEventOverflowError,
  QmpNegotiationError,
  QmpOobError,
  QmpProtocolError,
  QmpTimeoutError,
  QmpVirshError,
} from './errors.js';
export type {
  EventMatcher,
  EventStream,
  EventStreamOptions,
  OverflowInfo,
  OverflowPolicy,
  QmpEvent,
  QmpTimestamp,
} from './events.js';
export type { QmpCommandMap, QmpEventMap, QmpOobCommand } from './generated/qemu-7.2.js';
export type { HmpClientEvents, HmpClientOptions, HmpConnectOptions } from './hmp/client.js';
export { HmpClient } from './hmp/client.js';
export type { Hmp } from './hmp/hmp.js';
export type { HmpValue } from './hmp/line.js';
export { hmpLine } from './hmp/line.js';
export { QmpHmp } from './hmp/over-qmp.js';
export type { InfoMigrate, InfoMigrateCapabilities, InfoStatus, InfoVersion } from './hmp/parsers.js';
export {
  parseInfoMigrate,
  parseInfoMigrateCapabilities,
  parseInfoStatus,
  parseInfoVersion,
} from './hmp/parsers.js';
export type { ExecuteArgs, MonitorEventStream, QmpMonitor } from './monitor.js';
export type { MonitorClientEvents } from './monitor-client.js';
export { REDACTED } from './redact.js';
export type * from './schema.js';
export { DEFAULT_COMMAND_TIMEOUTS, DEFAULT_TIMEOUT_MS } from './timeouts.js';
export type { MonitorEndpoint } from './transport.js';
export type * from './types.js';
export type { VirshBackoff, VirshLoopExit, VirshLoopOptions } from './virsh/loop.js';
export { VirshLoop } from './virsh/loop.js';
export type { VirshMonitorOptions } from './virsh/monitor.js';
export { parseVirshEventLine, VirshHmp, VirshQmp } from './virsh/monitor.js';
export type { VirshRunOptions, VirshTarget } from './virsh/run.js';
export { MAX_VIRSH_OUTPUT_BYTES, runVirsh } from './virsh/run.js';
