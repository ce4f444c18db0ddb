#!/usr/bin/env node
/**
 * The `cuju` executable: runs the program and exits with its status once stdout is
 * flushed (a detached pair or a closed monitor leaves nothing that should keep it alive,
 * and a piped reader must get every line first).
 */
import { run } from './program.js';

function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

run(process.argv.slice(2)).then(exit, (err: unknown) => {
  process.stderr.write(
    `cuju: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  exit(1);
});
