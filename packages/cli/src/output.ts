/**
 * Where a command's output goes. With `--json` every record is one JSON object on one
 * line of stdout (`type` first), nothing else is written there, and human text is not
 * printed; without it, human text goes to stdout. Errors go to stderr as text always,
 * and with `--json` also as a `{"type":"error"}` line, so a machine reading stdout sees
 * why the command ended.
 */
import type { Writable } from 'node:stream';
import type { CliError } from './errors.js';

/** The streams a command writes to (the process's, or a test's). */
export interface CliStreams {
  stdout: Writable;
  stderr: Writable;
}

/** A command's output: human lines or JSON lines, never both on stdout. */
export class Output {
  readonly json: boolean;
  readonly streams: CliStreams;

  constructor(streams: CliStreams, json: boolean) {
    this.streams = streams;
    this.json = json;
  }

  /** One machine record (`--json` only): `{"type":TYPE,...fields}` on a line. */
  record(type: string, fields: Record<string, unknown> = {}): void {
    if (this.json) this.streams.stdout.write(`${JSON.stringify({ type, ...fields }, jsonSafe)}\n`);
  }

  /** One human line (not with `--json`). */
  line(text: string): void {
    if (!this.json) this.streams.stdout.write(`${text}\n`);
  }

  /** A human line on stderr, with or without `--json` (warnings, notes). */
  note(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }

  /** How a command's failure is reported: stderr always, a JSON line with `--json`. */
  error(err: CliError): void {
    this.record('error', {
      code: err.code,
      exitCode: err.exitCode,
      message: err.message,
      ...(err.path ? { path: err.path } : {}),
    });
    this.streams.stderr.write(`cuju: ${err.message}\n`);
  }
}

/** JSON.stringify replacer: bigints (QMP's large integers) as strings, Dates as ISO. */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
