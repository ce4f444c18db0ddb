/**
 * npm run gen:qmp-types -- --qemu qemu-system-x86_64 [--out packages/qmp/src/generated/qemu-X.Y.ts]
 *
 * Starts the given binary, reads its live query-qmp-schema and writes the command and
 * event map. The checked-in file is for Debian's QEMU 7.2; a test fails when it no
 * longer matches the binary on the machine.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QmpClient } from '../src/client.js';
import { generateQmpTypes } from '../src/codegen.js';
import type { SchemaInfo } from '../src/schema.js';
import { startQemu } from './qemu-process.js';

export interface LiveSchema {
  entries: SchemaInfo[];
  version: string;
  source: string;
}

/** Reads the schema of a binary by starting it with `-M none`. */
export async function readLiveSchema(binary: string): Promise<LiveSchema> {
  const qemu = await startQemu({ binary });
  try {
    const client = await QmpClient.connect({ path: qemu.qmpPath });
    const schema = await client.schema();
    const { major, minor } = client.greeting.version.qemu;
    await client.close();
    const version = `${major}.${minor}`;
    return { entries: [...schema.entries], version, source: `QEMU ${version} (${binaryName(binary)})` };
  } finally {
    await qemu.stop();
  }
}

function binaryName(binary: string): string {
  return binary.split('/').pop() ?? binary;
}

export function generatedPath(version: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'generated', `qemu-${version}.ts`);
}

async function main(argv: string[]): Promise<void> {
  let binary = 'qemu-system-x86_64';
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--qemu') binary = argv[++i] ?? '';
    else if (arg === '--out') out = argv[++i];
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run gen:qmp-types -- --qemu BINARY [--out FILE]');
      return;
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  if (!binary) throw new Error('--qemu needs a binary name or path');
  const live = await readLiveSchema(binary);
  const file = resolve(out ?? generatedPath(live.version));
  writeFileSync(file, generateQmpTypes(live.entries, { source: live.source }));
  const commands = live.entries.filter((e) => e['meta-type'] === 'command').length;
  const events = live.entries.filter((e) => e['meta-type'] === 'event').length;
  console.log(`${relative(process.cwd(), file)}: ${commands} commands, ${events} events from ${live.source}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`gen:qmp-types: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
