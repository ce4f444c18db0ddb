import { describeValue, isRecord } from './check.js';
import { QmpArgumentError } from './errors.js';

/**
 * `query-qmp-schema` as QEMU returns it (docs/devel/qapi-code-gen.rst, "Client JSON
 * Protocol introspection"). Type names other than builtins are masked per build, so only
 * command and event names are stable.
 */
export interface SchemaInfoBase {
  name: string;
  'meta-type': string;
  features?: string[];
}
export interface SchemaInfoBuiltin extends SchemaInfoBase {
  'meta-type': 'builtin';
  'json-type': 'string' | 'number' | 'int' | 'boolean' | 'null' | 'object' | 'array' | 'value';
}
export interface SchemaInfoEnum extends SchemaInfoBase {
  'meta-type': 'enum';
  /** Older QEMU lists values here... */
  values?: string[];
  /** ...newer QEMU here (both are accepted). */
  members?: { name: string; features?: string[] }[];
}
export interface SchemaInfoArray extends SchemaInfoBase {
  'meta-type': 'array';
  'element-type': string;
}
/** One member of an object type in `query-qmp-schema`: its name, type and features. */
export interface SchemaInfoObjectMember {
  name: string;
  type: string;
  default?: null;
  features?: string[];
}
export interface SchemaInfoObject extends SchemaInfoBase {
  'meta-type': 'object';
  members: SchemaInfoObjectMember[];
  tag?: string;
  variants?: { case: string; type: string }[];
}
export interface SchemaInfoAlternate extends SchemaInfoBase {
  'meta-type': 'alternate';
  members: { type: string }[];
}
export interface SchemaInfoCommand extends SchemaInfoBase {
  'meta-type': 'command';
  'arg-type': string;
  'ret-type': string;
  'allow-oob'?: boolean;
}
export interface SchemaInfoEvent extends SchemaInfoBase {
  'meta-type': 'event';
  'arg-type': string;
}
/** One entry of `query-qmp-schema`, by its `meta-type`. */
export type SchemaInfo =
  | SchemaInfoBuiltin
  | SchemaInfoEnum
  | SchemaInfoArray
  | SchemaInfoObject
  | SchemaInfoAlternate
  | SchemaInfoCommand
  | SchemaInfoEvent;

/** A binary's live schema with the look-ups a client needs. */
export class QmpSchema {
  readonly entries: readonly SchemaInfo[];
  private readonly byName = new Map<string, SchemaInfo>();
  private readonly commands = new Map<string, SchemaInfoCommand>();
  private readonly events = new Map<string, SchemaInfoEvent>();

  constructor(entries: readonly SchemaInfo[]) {
    this.entries = entries;
    for (const entry of entries) {
      // Commands and events share no namespace with types, so keep them apart.
      if (entry['meta-type'] === 'command') this.commands.set(entry.name, entry as SchemaInfoCommand);
      else if (entry['meta-type'] === 'event') this.events.set(entry.name, entry as SchemaInfoEvent);
      else this.byName.set(entry.name, entry);
    }
  }

  /** The names of every command in the schema. */
  get commandNames(): string[] {
    return [...this.commands.keys()];
  }

  /** The names of every event in the schema. */
  get eventNames(): string[] {
    return [...this.events.keys()];
  }

  /** Whether the schema has this command. */
  hasCommand(name: string): boolean {
    return this.commands.has(name);
  }

  /** Whether the schema has this event. */
  hasEvent(name: string): boolean {
    return this.events.has(name);
  }

  /** The schema's entry for a command, if it has one. */
  command(name: string): SchemaInfoCommand | undefined {
    return this.commands.get(name);
  }

  /** The schema's entry for an event, if it has one. */
  event(name: string): SchemaInfoEvent | undefined {
    return this.events.get(name);
  }

  /** The schema's entry for a type name, if it has one. */
  type(name: string): SchemaInfo | undefined {
    return this.byName.get(name);
  }

  /** True when the command may be sent with exec-oob (`allow-oob` in introspection). */
  allowsOob(name: string): boolean {
    return this.commands.get(name)?.['allow-oob'] === true;
  }

  /** Enum values, from either introspection shape. */
  static enumValues(info: SchemaInfoEnum): string[] {
    return info.members ? info.members.map((m) => m.name) : (info.values ?? []);
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';
const arrayOf = (v: unknown, item: (x: unknown) => boolean) => Array.isArray(v) && v.every(item);
const hasStrings =
  (...keys: string[]) =>
  (x: unknown) =>
    isRecord(x) && keys.every((k) => isString(x[k]));

/** What each meta-type must carry for the type generator to read it. */
const SHAPES: Record<string, (e: Record<string, unknown>) => boolean> = {
  builtin: (e) => isString(e['json-type']),
  enum: (e) =>
    (e.values === undefined || arrayOf(e.values, isString)) &&
    (e.members === undefined || arrayOf(e.members, hasStrings('name'))) &&
    (e.values !== undefined || e.members !== undefined),
  array: (e) => isString(e['element-type']),
  object: (e) =>
    arrayOf(e.members, hasStrings('name', 'type')) &&
    (e.tag === undefined || isString(e.tag)) &&
    (e.variants === undefined || arrayOf(e.variants, hasStrings('case', 'type'))),
  alternate: (e) => arrayOf(e.members, hasStrings('type')),
  command: (e) => isString(e['arg-type']) && isString(e['ret-type']),
  event: (e) => isString(e['arg-type']),
};

/** Checks `query-qmp-schema` entries handed in by a caller; throws QmpArgumentError naming the first bad one. */
export function checkSchemaEntries(entries: unknown, field: string): readonly SchemaInfo[] {
  if (!Array.isArray(entries)) {
    throw new QmpArgumentError(
      field,
      `must be an array of query-qmp-schema entries, got ${describeValue(entries)}`,
    );
  }
  entries.forEach((e, i) => {
    const metaType = isRecord(e) ? e['meta-type'] : undefined;
    const shape = isString(metaType) ? SHAPES[metaType] : undefined;
    if (!isRecord(e) || !isString(e.name) || !shape?.(e)) {
      throw new QmpArgumentError(
        `${field}[${i}]`,
        `is not a query-qmp-schema entry this generator knows (name, meta-type and its members), got ${describeValue(e)}`,
      );
    }
  });
  return entries as SchemaInfo[];
}
