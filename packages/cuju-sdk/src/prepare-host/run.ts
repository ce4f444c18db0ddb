/**
 * prepareHost(): builds Cuju and prepares an FT host by uploading native/*.sh to it and
 * running them, every selected step as a dry run first (so a missing package or a wrong
 * kernel on the last step is found before the first build starts), then for real, each
 * output line reported as a progress event.
 */
import { posix } from 'node:path';
import { CujuArgumentError } from '../errors.js';
import { checkHost } from '../hosts/args.js';
import { HostError } from '../hosts/errors.js';
import type { Host, RunResult } from '../hosts/host.js';
import { nativeScriptsDir, readNativeScripts } from '../native-scripts.js';
import { checkAbortSignal, checkFunction } from '../validate.js';
import { PrepareHostError } from './error.js';
import type { PrepareHostOptions, PrepareHostResult, PreparePhase, PrepareProgress } from './options.js';
import { checkEnv, type PlannedStep, planSteps } from './plan.js';

/**
 * Uploads the native scripts to `host` and runs the selected steps: all dry runs, then all
 * real runs, in the order host-prep (its NFS mount may bring the tree), build-cuju,
 * build-kvm, reinsmodkvm. A tree that a clone or the NFS mount will bring is only warned
 * about in the dry runs. Rejects with CujuArgumentError for bad options (nothing sent) or a
 * source directory that is missing and that nothing will bring; PrepareHostError when a
 * step fails, its script or the host under it (`partial`: what was done before); a
 * HostError when the host fails before any step (connecting, uploading).
 *
 * Everything it reports (progress events, plans, the error's stderr) passes through the
 * host's `redact` (LocalHostOptions.redact, SshHostOptions.redact), so that a token in
 * `env` or in a clone URL does not reach a log.
 */
export async function prepareHost(host: Host, options: PrepareHostOptions): Promise<PrepareHostResult> {
  checkHost('host', host);
  const planned = planSteps(options);
  const env = checkEnv(options.env);
  if (options.onProgress !== undefined) checkFunction('onProgress', options.onProgress);
  if (options.signal !== undefined) checkAbortSignal('signal', options.signal);
  const redact = (text: string): string => host.redact?.(text) ?? text;
  const scripts = readNativeScripts(nativeScriptsDir(options.scriptsDir));
  const emit = (event: PrepareProgress) => {
    try {
      options.onProgress?.(event);
    } catch {
      // A listener's bug must not stop a half-built host.
    }
  };
  const result: PrepareHostResult = {
    host: host.name,
    scriptsDir: undefined,
    plans: {},
    done: [],
    patchesApplied: [],
  };

  // A tree that neither a clone nor the NFS mount will bring must be there already.
  if (
    planned.some((p) => p.needsTree) &&
    options.clone === undefined &&
    options.hostPrep?.nfs === undefined &&
    (await host.run(['test', '-d', options.source!], { signal: options.signal })).code !== 0
  ) {
    throw new CujuArgumentError(
      'source',
      `is not a directory on ${host.name}: give clone (to clone it there) or hostPrep.nfs (to mount it)`,
    );
  }

  const dir = (
    await host.run(['mktemp', '-d', '/tmp/cuju-native.XXXXXX'], { check: true, signal: options.signal })
  ).stdout.trim();
  result.scriptsDir = dir;
  /** What was done so far, for an error: the scripts' directory only if it stays. */
  const partial = (): PrepareHostResult => ({
    ...result,
    plans: { ...result.plans },
    done: [...result.done],
    patchesApplied: [...result.patchesApplied],
    scriptsDir: options.keepScripts ? dir : undefined,
  });
  try {
    await host.run(['mkdir', '-p', '--', posix.join(dir, 'lib')], { check: true, signal: options.signal });
    for (const { file, content } of scripts) {
      await host.writeFile(posix.join(dir, file), content, { mode: 0o755 });
    }
    emit({ type: 'uploaded', dir, files: scripts.map((s) => s.file) });

    const run = async (p: PlannedStep, phase: PreparePhase) => {
      const argv = [
        ...env,
        'bash',
        posix.join(dir, p.script),
        ...p.args,
        ...(phase === 'dry-run' ? ['--dry-run'] : []),
      ];
      emit({ type: 'step-start', step: p.step, phase, argv: argv.map(redact) });
      const started = performance.now();
      let failedWith = '';
      let r: RunResult;
      try {
        r = await host.run(argv, {
          sudo: p.sudo,
          signal: options.signal,
          onLine: (line, stream) => {
            emit({ type: 'output', step: p.step, phase, stream, line: redact(line) });
            if (phase !== 'run' || stream !== 'stderr') return;
            // build-kvm.sh names the error, runs patch, and says `applied` only once it worked.
            failedWith = PATCH_FAILED.exec(line)?.[1] ?? failedWith;
            const applied = PATCH_APPLIED.exec(line)?.[1];
            if (applied !== undefined) {
              result.patchesApplied.push(applied);
              emit({ type: 'patch-applied', step: 'build-kvm', patch: applied, error: failedWith });
            }
          },
        });
      } catch (err) {
        if (!(err instanceof HostError)) throw err;
        throw new PrepareHostError({ host: host.name, step: p.step, phase, partial: partial(), cause: err });
      }
      if (r.code !== 0) {
        throw new PrepareHostError({
          host: host.name,
          step: p.step,
          phase,
          partial: partial(),
          exit: { code: r.code, stderr: redact(r.stderr) },
        });
      }
      emit({ type: 'step-end', step: p.step, phase, durationMs: performance.now() - started });
      return lines(r.stdout).map(redact);
    };

    for (const p of planned) result.plans[p.step] = await run(p, 'dry-run');
    if (options.dryRunOnly) return result;

    for (const p of planned) {
      const out = await run(p, 'run');
      result.done.push(p.step);
      if (p.step === 'build-cuju') result.qemuBinary = out.at(-1);
      if (p.step === 'build-kvm') result.kvmModules = out;
      if (p.step === 'reinsmodkvm') result.loadedModules = out;
    }
    return result;
  } finally {
    if (!options.keepScripts) {
      await host.run(['rm', '-rf', '--', dir]).catch(() => {});
      result.scriptsDir = undefined;
    }
  }
}

/** build-kvm.sh's lines around a patch: the error it matched, then the patch once applied. */
const PATCH_FAILED = /^build-kvm\.sh: make failed with "(.+)": applying patch\/\S+$/;
const PATCH_APPLIED = /^build-kvm\.sh: applied (patch\/\S+); building again$/;

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}
