export type {
  EventsOptions,
  HmpOptions,
  QmpClientEvents,
  QmpClientOptions,
  QmpConnectOptions,
  WaitForEventOptions,
} from './client.js';
export { QmpClient } from './client.js';
export type { GenerateTypesOptions } from './codegen.js';
export { generateQmpTypes } from './codegen.js';
export type { QmpErrorClass, QmpErrorCode, QmpTimeoutPhase } from './errors.js';
export {
  HmpArgumentError,
  HmpOutputError,
  QmpAbortError,
  QmpBusyError,
  QmpCommandError,
  QmpConnectError,
  QmpDisconnectedError,
  QmpError,
  QmpEventOverflowError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
export type {
  EventMatcher,
  EventStreamOptions,
  OverflowInfo,
  OverflowPolicy,
  QmpEvent,
  QmpTimestamp,
} from './events.js';
export { EventStream } from './events.js';
export { LineSplitter } from './framing.js';
export type { QmpCommandMap, QmpEventMap, QmpOobCommand } from './generated/qemu-7.2.js';
export type { HmpClientOptions, HmpConnectOptions } from './hmp/client.js';
export { HmpClient } from './hmp/client.js';
export type { Hmp } from './hmp/hmp.js';
export type { HmpValue } from './hmp/line.js';
export { assertHmpCommandLine, hmpLine } from './hmp/line.js';
export { QmpHmp } from './hmp/over-qmp.js';
export type { InfoMigrate, InfoMigrateCapabilities, InfoStatus, InfoVersion } from './hmp/parsers.js';
export {
  parseInfoMigrate,
  parseInfoMigrateCapabilities,
  parseInfoStatus,
  parseInfoVersion,
} from './hmp/parsers.js';
export { parseQmpJson, stringifyQmpJson } from './json.js';
export { REDACTED, redactArguments } from './redact.js';
export type * from './schema.js';
export { QmpSchema } from './schema.js';
export { DEFAULT_COMMAND_TIMEOUTS, DEFAULT_TIMEOUT_MS } from './timeouts.js';
export type { MonitorEndpoint } from './transport.js';
export { describeEndpoint } from './transport.js';
export type * from './types.js';
