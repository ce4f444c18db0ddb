/**
 * The native/ scripts prepareHost() uploads. The published package carries them in
 * dist/native (copied at build time, tsup.config.ts); from the source tree they are the
 * repository's native/ directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CujuArgumentError } from './errors.js';

/** Every file a script needs on the host, as paths relative to the scripts' directory. */
export const NATIVE_FILES = [
  'lib/common.sh',
  'build-cuju.sh',
  'build-kvm.sh',
  'reinsmodkvm.sh',
  'host-prep.sh',
] as const;

export type NativeFile = (typeof NATIVE_FILES)[number];

/**
 * Where the scripts are: `dir` when given, else next to the bundle (dist/native) or, when
 * running from the sources, the repository's native/. The first of those that exists must
 * hold every script: a broken build is reported, not papered over with another copy.
 */
export function nativeScriptsDir(dir?: string): string {
  const candidates =
    dir !== undefined
      ? [dir]
      : [
          fileURLToPath(new URL('./native/', import.meta.url)), // dist/index.js -> dist/native
          fileURLToPath(new URL('../../../native/', import.meta.url)), // src/*.ts -> native
        ];
  const found = candidates.find((c) => existsSync(c));
  const missing =
    found === undefined ? [...NATIVE_FILES] : NATIVE_FILES.filter((f) => !existsSync(join(found, f)));
  if (found === undefined || missing.length > 0) {
    throw new CujuArgumentError(
      'scriptsDir',
      `does not hold the native scripts: ${missing.join(', ')} missing from ${found ?? candidates.join(' or ')}`,
    );
  }
  return found;
}

export function readNativeScripts(dir: string): { file: NativeFile; content: string }[] {
  return NATIVE_FILES.map((file) => ({ file, content: readFileSync(join(dir, file), 'utf8') }));
}
