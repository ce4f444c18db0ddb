/**
 * The `query-qmp-schema` reply of cuju-sim: the QAPI entities cuju-sim implements,
 * written in qapi-schema.json's own notation, run through QEMU 2.8's
 * scripts/qapi-introspect.py algorithm (re-implemented below).
 *
 * Sources: Cuju's additions from qapi-schema.json @0a5c5fd/@050cabd (reference §3);
 * the upstream 2.8 definitions (RunState, MigrationInfo, ..., qapi/introspect.json) and
 * the introspection algorithm are from memory of QEMU 2.8: UNCONFIRMED in detail, though
 * they agree with everything the reference states (e.g. MigrationInfo's member list).
 *
 * QEMU's rules that shape the output:
 * - Commands and events are emitted first, sorted by name; then every type they reach,
 *   in order of first use. Types no command or event reaches are NOT emitted. Cuju's
 *   CujuMode and CujuTransactionState enums are referenced by nothing (reference §3), so
 *   a real Cuju binary does not list them, and neither does qmpSchema(); they are
 *   exported below as data only.
 * - Type names other than builtins are masked as "0", "1", ... in order of first use;
 *   arrays are named "[elem]". The numbers depend on the whole schema, so cuju-sim's
 *   (smaller) schema numbers its types differently from a real binary.
 * - Every integer type (uint32 included) is shown as the builtin 'int'.
 * - Enums carry `values` (2.8; `members` came in 5.2); optional members have `default: null`.
 * - A command without data or returns uses the empty object type for arg-type/ret-type.
 */

export type JsonType = 'string' | 'number' | 'int' | 'boolean' | 'null' | 'object' | 'array' | 'value';

export interface SchemaInfoObjectMember {
  name: string;
  type: string;
  default?: null;
}

export interface SchemaInfoObjectVariant {
  case: string;
  type: string;
}

export type SchemaInfo =
  | { name: string; 'meta-type': 'builtin'; 'json-type': JsonType }
  | { name: string; 'meta-type': 'enum'; values: string[] }
  | { name: string; 'meta-type': 'array'; 'element-type': string }
  | {
      name: string;
      'meta-type': 'object';
      members: SchemaInfoObjectMember[];
      tag?: string;
      variants?: SchemaInfoObjectVariant[];
    }
  | { name: string; 'meta-type': 'alternate'; members: { type: string }[] }
  | { name: string; 'meta-type': 'command'; 'arg-type': string; 'ret-type': string }
  | { name: string; 'meta-type': 'event'; 'arg-type': string };

// ------------------------------------------------------------ the QAPI source, in .json notation

/** A type reference: a type name, or `[name]` for a list. */
type TypeRef = string | readonly [string];
/** Members as in the .json: key `'*name'` is optional. Key order is member order. */
type Members = Readonly<Record<string, TypeRef>>;

type Entity =
  | { enum: string; data: readonly string[] }
  | { struct: string; data: Members }
  | { union: string; base: Members; discriminator: string; data: Readonly<Record<string, string>> }
  | { command: string; data?: Members; returns?: TypeRef }
  | { event: string; data?: Members };

/** RunState, QEMU 2.8 (colo is new in 2.8). */
export const RUN_STATE_VALUES = [
  'debug',
  'inmigrate',
  'internal-error',
  'io-error',
  'paused',
  'postmigrate',
  'prelaunch',
  'finish-migrate',
  'restore-vm',
  'running',
  'save-vm',
  'shutdown',
  'suspended',
  'watchdog',
  'guest-panicked',
  'colo',
] as const;

/** MigrationStatus: upstream 2.8 + Cuju's `cuju` (qapi-schema.json @0a5c5fd). */
export const MIGRATION_STATUS_VALUES = [
  'none',
  'setup',
  'cancelling',
  'cancelled',
  'active',
  'postcopy-active',
  'completed',
  'failed',
  'colo',
  'cuju',
] as const;

/** MigrationCapability: upstream 2.8 + Cuju's `cuju-ft`. */
export const MIGRATION_CAPABILITY_VALUES = [
  'xbzrle',
  'rdma-pin-all',
  'auto-converge',
  'zero-blocks',
  'compress',
  'events',
  'postcopy-ram',
  'x-colo',
  'cuju-ft',
] as const;

/** Cuju's CujuMode (index = C CUJU_FT_MODE + 1); 'trnasfer' is Cuju's spelling. Unreachable: not in qmpSchema(). */
export const CUJU_MODE_VALUES = [
  'error',
  'off',
  'init',
  'pre-run',
  'iter',
  'atomic',
  'recv',
  'handover',
  'speculative',
  'flush-output',
  'trnasfer',
  'snapshot',
  'run',
] as const;

/** Cuju's CujuTransactionState (its own order, not the C enum's). Unreachable: not in qmpSchema(). */
export const CUJU_TRANSACTION_STATE_VALUES = [
  'nack',
  'init',
  'begin',
  'continue',
  'commit',
  'commit1',
  'ack',
  'ack1',
  'cancel',
  'nocopy',
  'atomic',
  'dev-header',
  'dev-states',
] as const;

const SCHEMA: readonly Entity[] = [
  // qapi-schema.json: negotiation, version, commands, status
  { command: 'qmp_capabilities' },
  { struct: 'VersionTriple', data: { major: 'int', minor: 'int', micro: 'int' } },
  { struct: 'VersionInfo', data: { qemu: 'VersionTriple', package: 'str' } },
  { command: 'query-version', returns: 'VersionInfo' },
  { struct: 'CommandInfo', data: { name: 'str' } },
  { command: 'query-commands', returns: ['CommandInfo'] },
  { enum: 'RunState', data: RUN_STATE_VALUES },
  { struct: 'StatusInfo', data: { running: 'bool', singlestep: 'bool', status: 'RunState' } },
  { command: 'query-status', returns: 'StatusInfo' },
  { command: 'stop' },
  { command: 'cont' },
  { command: 'quit' },
  { command: 'human-monitor-command', data: { 'command-line': 'str', '*cpu-index': 'int' }, returns: 'str' },
  // migration
  {
    struct: 'MigrationStats',
    data: {
      transferred: 'int',
      remaining: 'int',
      total: 'int',
      duplicate: 'int',
      skipped: 'int',
      normal: 'int',
      'normal-bytes': 'int',
      'dirty-pages-rate': 'int',
      mbps: 'number',
      'dirty-sync-count': 'int',
      'postcopy-requests': 'int',
    },
  },
  {
    struct: 'XBZRLECacheStats',
    data: {
      'cache-size': 'int',
      bytes: 'int',
      pages: 'int',
      'cache-miss': 'int',
      'cache-miss-rate': 'number',
      overflow: 'int',
    },
  },
  { enum: 'MigrationStatus', data: MIGRATION_STATUS_VALUES },
  {
    struct: 'MigrationInfo',
    data: {
      '*status': 'MigrationStatus',
      '*ram': 'MigrationStats',
      '*disk': 'MigrationStats',
      '*xbzrle-cache': 'XBZRLECacheStats',
      '*total-time': 'int',
      '*expected-downtime': 'int',
      '*downtime': 'int',
      '*setup-time': 'int',
      '*cpu-throttle-percentage': 'int',
      '*error-desc': 'str',
    },
  },
  { command: 'query-migrate', returns: 'MigrationInfo' },
  { enum: 'MigrationCapability', data: MIGRATION_CAPABILITY_VALUES },
  { struct: 'MigrationCapabilityStatus', data: { capability: 'MigrationCapability', state: 'bool' } },
  { command: 'migrate-set-capabilities', data: { capabilities: ['MigrationCapabilityStatus'] } },
  { command: 'query-migrate-capabilities', returns: ['MigrationCapabilityStatus'] },
  {
    command: 'migrate',
    data: { uri: 'str', '*blk': 'bool', '*inc': 'bool', '*detach': 'bool', '*cuju': 'bool' },
  },
  // Cuju (qapi-schema.json@21f9f0b:4844-4874; groupft and blk-server lack cuju-migrate-cancel)
  { command: 'cuju-failover' },
  { command: 'cuju-adjust-epoch', data: { epoch: 'uint32' } },
  { command: 'cuju-migrate-cancel' },
  { enum: 'CujuMode', data: CUJU_MODE_VALUES },
  { enum: 'CujuTransactionState', data: CUJU_TRANSACTION_STATE_VALUES },
  // qapi/event.json (2.8: SHUTDOWN has no data yet)
  { event: 'SHUTDOWN' },
  { event: 'STOP' },
  { event: 'RESUME' },
  { event: 'MIGRATION', data: { status: 'MigrationStatus' } },
  // qapi/introspect.json
  { command: 'query-qmp-schema', returns: ['SchemaInfo'] },
  {
    enum: 'SchemaMetaType',
    data: ['builtin', 'enum', 'array', 'object', 'alternate', 'command', 'event'],
  },
  {
    union: 'SchemaInfo',
    base: { name: 'str', 'meta-type': 'SchemaMetaType' },
    discriminator: 'meta-type',
    data: {
      builtin: 'SchemaInfoBuiltin',
      enum: 'SchemaInfoEnum',
      array: 'SchemaInfoArray',
      object: 'SchemaInfoObject',
      alternate: 'SchemaInfoAlternate',
      command: 'SchemaInfoCommand',
      event: 'SchemaInfoEvent',
    },
  },
  { struct: 'SchemaInfoBuiltin', data: { 'json-type': 'JSONType' } },
  { enum: 'JSONType', data: ['string', 'number', 'int', 'boolean', 'null', 'object', 'array', 'value'] },
  { struct: 'SchemaInfoEnum', data: { values: ['str'] } },
  { struct: 'SchemaInfoArray', data: { 'element-type': 'str' } },
  {
    struct: 'SchemaInfoObject',
    data: {
      members: ['SchemaInfoObjectMember'],
      '*tag': 'str',
      '*variants': ['SchemaInfoObjectVariant'],
    },
  },
  { struct: 'SchemaInfoObjectMember', data: { name: 'str', type: 'str', '*default': 'any' } },
  { struct: 'SchemaInfoObjectVariant', data: { case: 'str', type: 'str' } },
  { struct: 'SchemaInfoAlternate', data: { members: ['SchemaInfoAlternateMember'] } },
  { struct: 'SchemaInfoAlternateMember', data: { type: 'str' } },
  { struct: 'SchemaInfoCommand', data: { 'arg-type': 'str', 'ret-type': 'str' } },
  { struct: 'SchemaInfoEvent', data: { 'arg-type': 'str' } },
];

// ------------------------------------------------------------ the schema model (qapi.py, reduced)

/** Builtin types and their JSON type; every integer type maps to 'int'. */
const BUILTINS: Readonly<Record<string, JsonType>> = {
  str: 'string',
  number: 'number',
  bool: 'boolean',
  any: 'value',
  int: 'int',
  int8: 'int',
  int16: 'int',
  int32: 'int',
  int64: 'int',
  uint8: 'int',
  uint16: 'int',
  uint32: 'int',
  uint64: 'int',
  size: 'int',
};

interface Member {
  name: string;
  type: Type;
  optional: boolean;
}

type Type =
  | { kind: 'builtin'; name: string; jsonType: JsonType }
  | { kind: 'enum'; name: string; values: readonly string[] }
  | { kind: 'array'; name: string; element: Type }
  | {
      kind: 'object';
      name: string;
      members: Member[];
      tag?: string;
      variants?: { case: string; type: Type }[];
    };

interface Command {
  name: string;
  arg: Type;
  ret: Type;
}
interface Event {
  name: string;
  arg: Type;
}

class Model {
  private readonly types = new Map<string, Type>();
  readonly empty: Type = { kind: 'object', name: ':empty', members: [] };
  readonly commands: Command[] = [];
  readonly events: Event[] = [];

  constructor(entities: readonly Entity[]) {
    for (const [name, jsonType] of Object.entries(BUILTINS))
      this.types.set(name, { kind: 'builtin', name, jsonType });
    // Named types first so that references resolve regardless of order (QAPI allows that).
    const pending: Array<() => void> = [];
    for (const e of entities) {
      if ('enum' in e) this.types.set(e.enum, { kind: 'enum', name: e.enum, values: e.data });
      else if ('struct' in e) this.declareObject(e.struct, () => this.members(e.data), pending);
      else if ('union' in e) this.declareUnion(e, pending);
    }
    for (const fill of pending) fill();
    for (const e of entities) {
      if ('command' in e) {
        this.commands.push({
          name: e.command,
          arg: e.data ? this.implicit(`q_obj_${e.command}-arg`, e.data) : this.empty,
          ret: e.returns === undefined ? this.empty : this.resolve(e.returns),
        });
      } else if ('event' in e) {
        this.events.push({
          name: e.event,
          arg: e.data ? this.implicit(`q_obj_${e.event}-arg`, e.data) : this.empty,
        });
      }
    }
  }

  private declareObject(name: string, members: () => Member[], pending: Array<() => void>): void {
    const obj: Type = { kind: 'object', name, members: [] };
    this.types.set(name, obj);
    pending.push(() => {
      obj.members = members();
    });
  }

  private declareUnion(e: Extract<Entity, { union: string }>, pending: Array<() => void>): void {
    const obj: Type = { kind: 'object', name: e.union, members: [], tag: e.discriminator, variants: [] };
    this.types.set(e.union, obj);
    pending.push(() => {
      obj.members = this.members(e.base);
      obj.variants = Object.entries(e.data).map(([c, t]) => ({ case: c, type: this.resolve(t) }));
    });
  }

  private implicit(name: string, data: Members): Type {
    return { kind: 'object', name, members: this.members(data) };
  }

  private members(data: Members): Member[] {
    return Object.entries(data).map(([key, ref]) => {
      const optional = key.startsWith('*');
      return { name: optional ? key.slice(1) : key, type: this.resolve(ref), optional };
    });
  }

  resolve(ref: TypeRef): Type {
    if (typeof ref !== 'string') {
      const element = this.resolve(ref[0]);
      return this.arrayOf(element);
    }
    const t = this.types.get(ref);
    if (!t) throw new Error(`qmp-schema: unknown type ${ref}`);
    return t;
  }

  private readonly arrays = new Map<Type, Type>();

  /** QAPI creates one array type per element type ("strList", "CommandInfoList"). */
  arrayOf(element: Type): Type {
    let a = this.arrays.get(element);
    if (!a) {
      a = { kind: 'array', name: `${element.name}List`, element };
      this.arrays.set(element, a);
    }
    return a;
  }

  intType(): Type {
    return this.resolve('int');
  }
}

const jsonTypeOf = (t: Type): JsonType =>
  t.kind === 'builtin' ? t.jsonType : t.kind === 'enum' ? 'string' : t.kind === 'array' ? 'array' : 'object';

// ------------------------------------------------------------ qapi-introspect.py (2.8)

function introspect(model: Model): SchemaInfo[] {
  const used: Type[] = [];
  const names = new Map<string, string>();
  const mask = (name: string): string => {
    let n = names.get(name);
    if (n === undefined) {
      n = String(names.size);
      names.set(name, n);
    }
    return n;
  };
  const useType = (original: Type): string => {
    let t = original;
    if (jsonTypeOf(t) === 'int') t = model.intType();
    else if (t.kind === 'array' && jsonTypeOf(t.element) === 'int') t = model.arrayOf(model.intType());
    if (!used.includes(t)) used.push(t);
    if (t.kind === 'builtin') return t.name;
    if (t.kind === 'array') return `[${useType(t.element)}]`;
    return mask(t.name);
  };
  const out: SchemaInfo[] = [];

  // First pass: commands and events, sorted by name as Python's sorted() would.
  const entries = [
    ...model.commands.map((c) => ({ name: c.name, visit: () => visitCommand(c) })),
    ...model.events.map((e) => ({ name: e.name, visit: () => visitEvent(e) })),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  function visitCommand(c: Command): void {
    const arg = useType(c.arg);
    const ret = useType(c.ret);
    out.push({ name: c.name, 'meta-type': 'command', 'arg-type': arg, 'ret-type': ret });
  }
  function visitEvent(e: Event): void {
    out.push({ name: e.name, 'meta-type': 'event', 'arg-type': useType(e.arg) });
  }
  function visitType(t: Type): void {
    switch (t.kind) {
      case 'builtin':
        out.push({ name: t.name, 'meta-type': 'builtin', 'json-type': t.jsonType });
        return;
      case 'enum':
        out.push({ name: mask(t.name), 'meta-type': 'enum', values: [...t.values] });
        return;
      case 'array': {
        const element = useType(t.element);
        out.push({ name: `[${element}]`, 'meta-type': 'array', 'element-type': element });
        return;
      }
      case 'object': {
        const members = t.members.map((m): SchemaInfoObjectMember => {
          const type = useType(m.type);
          return m.optional ? { name: m.name, type, default: null } : { name: m.name, type };
        });
        const info: SchemaInfo = { name: '', 'meta-type': 'object', members };
        if (t.tag !== undefined && t.variants) {
          info.tag = t.tag;
          info.variants = t.variants.map((v) => ({ case: v.case, type: useType(v.type) }));
        }
        info.name = mask(t.name);
        out.push(info);
        return;
      }
    }
  }

  for (const e of entries) e.visit();
  // visit_end(): the work list grows while it is walked, like the Python loop.
  for (let i = 0; i < used.length; i++) {
    const t = used[i];
    if (t) visitType(t);
  }
  return out;
}

/**
 * The `query-qmp-schema` return value (a fresh copy on every call), with the Cuju
 * commands of one build (`cuju-migrate-cancel` is in qapi-schema.json@21f9f0b:4874 only).
 */
export function qmpSchema(
  cujuCommands: readonly string[] = ['cuju-failover', 'cuju-adjust-epoch', 'cuju-migrate-cancel'],
): SchemaInfo[] {
  const entities = SCHEMA.filter(
    (e) => !('command' in e && e.command.startsWith('cuju-')) || cujuCommands.includes(e.command),
  );
  return introspect(new Model(entities));
}
