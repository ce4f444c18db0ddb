// TypeDoc options for @cuju/qmp within the root's `npm run docs` (typedoc.config.mjs).
import { readFileSync } from 'node:fs';

// The QMP schema's anonymous types (T_123 ...) are generated into src/generated/qemu-7.2.ts
// and reached only through QmpCommandMap and QmpEventMap; they are not exported by name on
// purpose (QEMU's own schema documentation describes them).
const generated = readFileSync(new URL('./src/generated/qemu-7.2.ts', import.meta.url), 'utf8');
const maps = generated.slice(generated.indexOf('export interface QmpCommandMap'));
const schemaTypes = [...new Set([...maps.matchAll(/\bT_\w+/g)].map((m) => m[0]))];

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  entryPoints: ['src/index.ts'],
  intentionallyNotExported: schemaTypes,
};
