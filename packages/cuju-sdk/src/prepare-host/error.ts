/**
 * The error prepareHost() rejects with when a step does not succeed.
 */
import { CujuError } from '../errors.js';
import type { PrepareHostResult, PreparePhase, PrepareStep } from './options.js';

/**
 * Why a step stopped: the script's exit status 3 (`prerequisites`), 2 (`usage`) or any
 * other (`failed`), or `host`: the host itself failed while the step ran (the connection
 * was lost, the run was aborted or timed out, sudo refused); `cause` is that HostError.
 */
export type PrepareFailureReason = 'prerequisites' | 'usage' | 'failed' | 'host';

/**
 * A step of prepareHost() did not succeed. `phase` says whether it was the dry run (then
 * nothing of that step, nor of any later step, ran for real) or the real run. `partial`
 * holds what was done before: plans, built binary, loaded modules. Its texts (the
 * message, `stderr`, the plans) have passed through the host's `redact`.
 */
export class PrepareHostError extends CujuError {
  readonly host: string;
  readonly step: PrepareStep;
  readonly phase: PreparePhase;
  readonly reason: PrepareFailureReason;
  /** The script's exit status; undefined when the host failed (`reason: 'host'`). */
  readonly exitCode: number | undefined;
  /** The script's whole stderr (progress, the build's output, its error); '' for `host`. */
  readonly stderr: string;
  readonly partial: PrepareHostResult;

  constructor(facts: {
    host: string;
    step: PrepareStep;
    phase: PreparePhase;
    partial: PrepareHostResult;
    /** The script ran to its end and exited with this (not 0). */
    exit?: { code: number; stderr: string };
    /** Or the host failed under it. */
    cause?: Error;
  }) {
    const code = facts.exit?.code;
    const reason: PrepareFailureReason =
      code === undefined ? 'host' : code === 3 ? 'prerequisites' : code === 2 ? 'usage' : 'failed';
    const what = facts.phase === 'dry-run' ? `${facts.step} (dry run)` : facts.step;
    const why =
      facts.exit === undefined
        ? `stopped: ${facts.cause?.message ?? 'the host failed'}`
        : summary(reason, facts.exit.code, facts.exit.stderr);
    super(
      'CUJU_PREPARE_HOST_FAILED',
      `${facts.host}: ${what} ${why}`,
      facts.cause === undefined ? undefined : { cause: facts.cause },
    );
    this.host = facts.host;
    this.step = facts.step;
    this.phase = facts.phase;
    this.reason = reason;
    this.exitCode = code;
    this.stderr = facts.exit?.stderr ?? '';
    this.partial = facts.partial;
  }
}

/** The part of a script's stderr that says why it stopped, in one line. */
function summary(reason: PrepareFailureReason, exitCode: number, stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  if (reason === 'prerequisites') {
    const items = lines.filter((l) => l.startsWith('  - ')).map((l) => l.slice(4));
    return `refused, missing prerequisites: ${items.join('; ') || '(none listed)'}`;
  }
  // The scripts prefix their own messages with their name; the last one says why.
  const own = lines.filter((l) => /^[\w.-]+\.sh: /.test(l) && !l.endsWith("--help'"));
  const last = own.at(-1) ?? lines.at(-1) ?? 'no output';
  return `${reason === 'usage' ? 'was called wrongly' : 'failed'} (exit ${exitCode}): ${last.replace(/^[\w.-]+\.sh: (error: )?/, '')}`;
}
