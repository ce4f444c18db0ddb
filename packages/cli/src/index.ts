/**
 * @cuju/cli as a library: the `cuju` program (`run(argv)`), its exit codes and its
 * error. The executable is `cuju` (this package's bin); importing this module starts
 * nothing.
 *
 * @packageDocumentation
 */
export { CliError, type CliErrorCode, EXIT_CODES, type ExitCode } from './errors.js';
export type { CliStreams } from './output.js';
export { run } from './program.js';
