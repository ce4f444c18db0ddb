import { describeValue, optionsObject } from './check.js';
import { QmpArgumentError } from './errors.js';
import {
  checkSchemaEntries,
  QmpSchema,
  type SchemaInfo,
  type SchemaInfoEnum,
  type SchemaInfoObject,
} from './schema.js';

/** `generateQmpTypes()` options. */
export interface GenerateTypesOptions {
  /** Where the schema came from, written into the header (binary and version). */
  source: string;
  /** Module that exports `QmpInt` (default '../int.js'). */
  typesModule?: string;
}

const JSON_TYPE_TS: Record<string, string> = {
  string: 'string',
  int: 'QmpInt',
  number: 'number',
  boolean: 'boolean',
  null: 'null',
  value: 'unknown',
  object: 'Record<string, unknown>',
  array: 'unknown[]',
};

const IDENT = /^[A-Za-z_$][\w$]*$/;
const quoteKey = (name: string) => (IDENT.test(name) ? name : JSON.stringify(name));
const deprecated = (features?: string[]) => (features?.includes('deprecated') ? '/** @deprecated */ ' : '');

/**
 * Turns a binary's `query-qmp-schema` into TypeScript: a `QmpCommandMap` (args and
 * return type per command), a `QmpEventMap` (data per event) and `QmpOobCommand`.
 * Enums stay open (`'a' | 'b' | (string & {})`) so a newer QEMU never breaks a caller,
 * integers are `QmpInt` (number, or bigint beyond 2^53), and `deprecated` features
 * become @deprecated tags. Output is deterministic for a given schema.
 */
export function generateQmpTypes(entries: readonly SchemaInfo[], options: GenerateTypesOptions): string {
  checkSchemaEntries(entries, 'entries');
  const opts = optionsObject(options, 'options');
  if (typeof opts.source !== 'string') {
    throw new QmpArgumentError('options.source', `must be a string, got ${describeValue(opts.source)}`);
  }
  if (opts.typesModule !== undefined && typeof opts.typesModule !== 'string') {
    throw new QmpArgumentError(
      'options.typesModule',
      `must be a string, got ${describeValue(opts.typesModule)}`,
    );
  }
  const schema = new QmpSchema(entries);
  const names = new Map<string, string>();
  const used = new Set<string>();
  const identFor = (typeName: string): string => {
    let id = names.get(typeName);
    if (!id) {
      id = `T_${typeName.replace(/[^\w]/g, '_')}`;
      while (used.has(id)) id += '_';
      names.set(typeName, id);
      used.add(id);
    }
    return id;
  };
  const isEmptyObject = (typeName: string): boolean => {
    const info = schema.type(typeName);
    return info?.['meta-type'] === 'object' && info.members.length === 0 && !info.variants;
  };
  const ref = (typeName: string): string => {
    const info = schema.type(typeName);
    if (info?.['meta-type'] === 'builtin') return JSON_TYPE_TS[info['json-type']] ?? 'unknown';
    if (!info) return 'unknown';
    return identFor(typeName);
  };

  const typeLines: string[] = [];
  const types = entries.filter(
    (e) => e['meta-type'] !== 'command' && e['meta-type'] !== 'event' && e['meta-type'] !== 'builtin',
  );
  for (const info of [...types].sort((a, b) => a.name.localeCompare(b.name))) {
    typeLines.push(`export type ${identFor(info.name)} = ${typeBody(info)};`);
  }

  function typeBody(info: SchemaInfo): string {
    switch (info['meta-type']) {
      case 'enum': {
        const values = QmpSchema.enumValues(info as SchemaInfoEnum).map((v) => JSON.stringify(v));
        return [...values, '(string & {})'].join(' | ');
      }
      case 'array':
        return `Array<${ref(info['element-type'])}>`;
      case 'alternate':
        return info.members.map((m) => ref(m.type)).join(' | ') || 'unknown';
      case 'object':
        return objectBody(info);
      default:
        return 'unknown';
    }
  }

  function objectBody(info: SchemaInfoObject): string {
    const members = info.members.map(
      (m) => `${deprecated(m.features)}${quoteKey(m.name)}${'default' in m ? '?' : ''}: ${ref(m.type)}`,
    );
    const base = members.length ? `{ ${members.join('; ')} }` : 'Record<string, never>';
    if (!info.tag || !info.variants?.length) return base;
    const tag = quoteKey(info.tag);
    const variants = info.variants.map((v) => `({ ${tag}: ${JSON.stringify(v.case)} } & ${ref(v.type)})`);
    const head = members.length
      ? `{ ${members.filter((_, i) => info.members[i]?.name !== info.tag).join('; ')} }`
      : '{}';
    return `${head} & (${variants.join(' | ')})`;
  }

  const commandLines: string[] = [];
  const oob: string[] = [];
  for (const name of schema.commandNames.sort()) {
    const cmd = schema.command(name)!;
    if (cmd['allow-oob']) oob.push(JSON.stringify(name));
    const args = isEmptyObject(cmd['arg-type']) ? 'Record<string, never>' : ref(cmd['arg-type']);
    const returns = isEmptyObject(cmd['ret-type']) ? 'Record<string, never>' : ref(cmd['ret-type']);
    commandLines.push(
      `  ${deprecated(cmd.features)}${JSON.stringify(name)}: { args: ${args}; returns: ${returns} };`,
    );
  }
  const eventLines: string[] = [];
  for (const name of schema.eventNames.sort()) {
    const ev = schema.event(name)!;
    const data = isEmptyObject(ev['arg-type']) ? 'undefined' : ref(ev['arg-type']);
    eventLines.push(`  ${deprecated(ev.features)}${JSON.stringify(name)}: ${data};`);
  }

  return [
    `// Generated by \`npm run gen:qmp-types\` from the live query-qmp-schema of ${options.source}.`,
    '// Do not edit by hand: regenerate instead. Type names (T_n) are masked by QEMU and differ',
    '// between builds; only command and event names are stable.',
    '/* eslint-disable */',
    `import type { QmpInt } from '${options.typesModule ?? '../int.js'}';`,
    '',
    `export const QMP_SCHEMA_SOURCE = ${JSON.stringify(options.source)};`,
    '',
    ...typeLines,
    '',
    '/** Every command this binary has: its arguments and what it returns. */',
    'export interface QmpCommandMap {',
    ...commandLines,
    '}',
    '',
    '/** Every event this binary can emit and its data (undefined when it carries none). */',
    'export interface QmpEventMap {',
    ...eventLines,
    '}',
    '',
    '/** Commands the schema marks allow-oob: the only ones that may go through exec-oob. */',
    `export type QmpOobCommand = ${oob.length ? oob.join(' | ') : 'never'};`,
    '',
  ].join('\n');
}
