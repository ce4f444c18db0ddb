export * from './errors.js';
export { LineSplitter, waitForLine } from './follow.js';
export type {
  Host,
  RunOptions,
  RunResult,
  SpawnOptions,
  VmExit,
  VmProcess,
  WriteFileOptions,
} from './host.js';
export { sha256Fingerprint } from './hostkey.js';
export { LocalHost, type LocalHostOptions } from './local.js';
export { shellJoin, shellQuote } from './quote.js';
export { type HostKeyCheck, SshHost, type SshHostOptions } from './ssh.js';
