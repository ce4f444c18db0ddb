/**
 * What every command action gets: its output (human or `--json`), the interrupt signal,
 * and whether it may draw a live display.
 */
import type { Output } from './output.js';

/** A running command's surroundings. */
export interface CommandContext {
  out: Output;
  /** Aborted by Ctrl-C / SIGTERM: pass it to every library call. */
  signal: AbortSignal;
}

/** Options every command has. */
export interface CommonOptions {
  json?: boolean;
}
