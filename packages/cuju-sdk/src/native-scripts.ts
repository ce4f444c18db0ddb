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

/** Where the scripts are: `dir` when given, else next to the bundle or in the repository. */
export function nativeScriptsDir(dir?: string): string {
  const candidates =
    dir !== undefined
      ? [dir]
      : [
          fileURLToPath(new URL('./native/', import.meta.url)), // dist/index.js -> dist/native
          fileURLToPath(new URL('../../../native/', import.meta.url)), // src/*.ts -> native
        ];
  const found = candidates.find((c) => NATIVE_FILES.every((f) => existsSync(join(c, f))));
  if (found === undefined) {
    throw new CujuArgumentError(
      'scriptsDir',
      `does not hold the native scripts (${NATIVE_FILES.join(', ')}); looked in ${candidates.join(', ')}`,
    );
  }
  return found;
}

export function readNativeScripts(dir: string): { file: NativeFile; content: string }[] {
  return NATIVE_FILES.map((file) => ({ file, content: readFileSync(join(dir, file), 'utf8') }));
}
