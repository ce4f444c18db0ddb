import { type ChildProcess, spawn } from 'node:child_process';
import { checkNonEmptyString, checkSignal, describeValue, isRecord, optionsObject } from '../check.js';
import { withDeadline } from '../deadline.js';
import {
  ms,
  QmpAbortError,
  QmpArgumentError,
  QmpConnectError,
  QmpProtocolError,
  QmpTimeoutError,
  QmpVirshError,
  type VirshFailure,
} from '../errors.js';

/**
 * Which libvirt to talk to and with which virsh: `uri` is a libvirt connection URI
 * (`qemu:///system`, `qemu+ssh://root@host/system`,
 * `qemu+unix:///session?socket=/run/lv/libvirt-sock`), `virsh` the program (default
 * `virsh` on PATH).
 */
export interface VirshTarget {
  uri: string;
  virsh?: string;
}

/** Deadline, cancellation and a name for errors, for one virsh run. */
export interface VirshRunOptions {
  /** Kill virsh and reject with QmpTimeoutError (phase 'reply') after this long; Infinity: never. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** What the run is for, in the timeout message (`'query-status' on dom1`). Default: the virsh command. */
  subject?: string;
}

/** Output past this is not a monitor reply any more: virsh is killed and the call fails. */
export const MAX_VIRSH_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Checks a VirshTarget, naming the bad field under `field`. */
export function checkVirshTarget(value: unknown, field: string): Required<VirshTarget> {
  if (!isRecord(value)) throw new QmpArgumentError(field, `must be an object, got ${describeValue(value)}`);
  const uri = checkNonEmptyString(value.uri, `${field}.uri`);
  if (/[\0\n\r]/.test(uri)) {
    throw new QmpArgumentError(`${field}.uri`, 'must not contain NUL or line breaks');
  }
  const virsh = value.virsh === undefined ? 'virsh' : checkNonEmptyString(value.virsh, `${field}.virsh`);
  return { uri, virsh };
}

/** Reads a virsh message for the class of failure (virsh runs with LC_ALL=C, so the text is English). */
export function classifyVirshStderr(stderr: string): VirshFailure {
  if (/failed to get domain|Domain not found|domain .* not found/i.test(stderr)) return 'no-domain';
  if (/metadata not found/i.test(stderr)) return 'no-metadata';
  return 'failed';
}

/** virsh's own words for "libvirt cannot be reached". */
const CANNOT_CONNECT = /failed to connect to the hypervisor/i;

/**
 * The environment of every virsh child: the caller's, with messages in English (they are
 * classified by their words) and no interactive editor or pager.
 */
function virshEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', LANG: 'C', VIRSH_DEFAULT_CONNECT_URI: '' };
}

/**
 * Spawns `virsh -q -c URI ARGS...` (no shell: each argument reaches virsh as it is).
 * Used by the one-shot runner and by VirshLoop.
 */
export function spawnVirsh(target: Required<VirshTarget>, args: readonly string[]): ChildProcess {
  return spawn(target.virsh, ['-q', '-c', target.uri, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: virshEnv(),
  });
}

/**
 * Runs one virsh command and resolves with its standard output. It rejects with
 * QmpConnectError when libvirt cannot be reached, QmpVirshError for any other failure,
 * QmpTimeoutError or QmpAbortError when the deadline or the signal ends the wait. A run
 * that is given up is killed, and the promise settles only once the child is gone, so no
 * virsh outlives the call.
 */
export function runVirsh(
  target: VirshTarget,
  args: readonly string[],
  options: VirshRunOptions,
): Promise<string> {
  let checked: Required<VirshTarget>;
  try {
    checked = checkVirshTarget(target, 'target');
    if (!Array.isArray(args) || args.length === 0 || !args.every((a) => typeof a === 'string')) {
      throw new QmpArgumentError('args', `must be a non-empty array of strings, got ${describeValue(args)}`);
    }
    const bad = args.findIndex((a) => a.includes('\0'));
    if (bad !== -1) throw new QmpArgumentError(`args[${bad}]`, 'contains a NUL character');
    optionsObject(options, 'options');
    checkSignal(options.signal, 'options.signal');
  } catch (err) {
    return Promise.reject(err);
  }
  const command = args[0]!;
  const subject = options.subject ?? command;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const run = withDeadline<string>(
    {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      timeoutError: () =>
        new QmpTimeoutError(
          'reply',
          options.timeoutMs,
          subject,
          `virsh ${subject} (${checked.uri}) took longer than ${ms(options.timeoutMs)}; it was killed`,
        ),
      abortError: (reason) => new QmpAbortError(`virsh ${subject}`, reason),
      onGiveUp: () => child?.kill('SIGKILL'),
    },
    (settler) => {
      const c = spawnVirsh(checked, args);
      child = c;
      // A virsh that could not be spawned emits 'error' and maybe never 'close'.
      exited = new Promise((resolve) => {
        c.once('close', () => resolve());
        c.once('error', () => resolve());
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_VIRSH_OUTPUT_BYTES) {
          c.kill('SIGKILL');
          settler.reject(
            new QmpProtocolError(
              `virsh ${subject} (${checked.uri}) wrote more than ${MAX_VIRSH_OUTPUT_BYTES} bytes; it was killed`,
            ),
          );
          return;
        }
        into.push(chunk);
      };
      c.stdout?.on('data', collect(out));
      c.stderr?.on('data', collect(err));
      c.once('error', (cause) => {
        settler.reject(
          new QmpVirshError({
            command,
            exitCode: null,
            stderr: cause.message,
            failure: 'spawn',
            uri: checked.uri,
            cause,
          }),
        );
      });
      c.once('close', (code) => {
        const stderr = Buffer.concat(err).toString('utf8');
        if (code === 0) {
          settler.resolve(Buffer.concat(out).toString('utf8'));
          return;
        }
        if (CANNOT_CONNECT.test(stderr)) {
          settler.reject(new QmpConnectError(`libvirt ${checked.uri}`, new Error(stderr.trim()), 'QMP'));
          return;
        }
        settler.reject(
          new QmpVirshError({
            command,
            exitCode: code,
            stderr,
            failure: classifyVirshStderr(stderr),
            uri: checked.uri,
          }),
        );
      });
    },
  );
  // Settle only after the child has exited: a caller that awaits the call sees no virsh left.
  return run.then(
    (value) => exited.then(() => value),
    (error: unknown) => exited.then(() => Promise.reject(error)),
  );
}
