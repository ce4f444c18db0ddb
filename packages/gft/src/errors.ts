/**
 * The package's one error root, GftError, with a code per kind: a spec that breaks a rule
 * (GroupSpecError, every problem with its path), a run that failed or was cancelled at a
 * step (GroupRunError), and a group record that cannot be used (GroupRecordError).
 */

/** Every code a GftError carries. */
export type GftErrorCode =
  | 'GFT_SPEC_INVALID'
  | 'GFT_STEP_FAILED'
  | 'GFT_ABORTED'
  | 'GFT_RECORD_INVALID'
  | 'GFT_STATE'
  | 'GFT_NO_SPARES'
  | 'GFT_HOST_FAILED';

/** The root of this package's errors: `code` says which kind. */
export class GftError extends Error {
  readonly code: GftErrorCode;
  constructor(code: GftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem of a group spec: where (`members[2].mac`), which rule, and what is wrong. */
export interface GroupSpecProblem {
  /** The field, written as in the spec: `members[2].mac`, `options.build`; `` for the whole spec. */
  path: string;
  /** The rule broken: a zod issue code (`invalid_type`, `invalid_format`, ...) or one of the group rules (`unique-mac`, `ids`, ...). */
  rule: string;
  message: string;
}

/** A group spec that cannot be used: `problems` lists every one found, each with its path and rule. */
export class GroupSpecError extends GftError {
  readonly problems: readonly GroupSpecProblem[];
  constructor(problems: readonly GroupSpecProblem[]) {
    const lines = problems.map((p) => `  ${p.path || '(spec)'}: ${p.message} [${p.rule}]`);
    super('GFT_SPEC_INVALID', `the group spec has ${problems.length} problem(s):\n${lines.join('\n')}`);
    this.problems = problems;
  }
}

/** Where a run stopped: the step (its id, phase, host and line) and, when Cuju printed one, the stdout line that explains it. */
export interface GroupRunFailure {
  /** The step's id (`launch-backup-2`, `add-host-1`, `gft-init`, ...), or undefined before any step. */
  stepId: string | undefined;
  phase: string | undefined;
  /** The Cuju stdout line that says why (`qmp_gft_leader_init error connect to 127.0.0.2:5002.`). */
  marker: string | undefined;
  /** Which VM printed the marker or died (`member 1 primary`). */
  vm: string | undefined;
}

/** A run that failed (GFT_STEP_FAILED) or was cancelled (GFT_ABORTED): everything it started has been stopped. */
export class GroupRunError extends GftError {
  readonly failure: GroupRunFailure;
  constructor(
    code: 'GFT_STEP_FAILED' | 'GFT_ABORTED',
    message: string,
    failure: GroupRunFailure,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.failure = failure;
  }
}
