import { describe, expect, it } from 'vitest';
import {
  CUJU_MODE_VALUES,
  CUJU_TRANSACTION_STATE_VALUES,
  qmpSchema,
  RUN_STATE_VALUES,
  type SchemaInfo,
} from '../src/qmp-schema.js';
import {
  capabilitiesAlreadyNegotiated,
  capabilitiesNegotiationRequired,
  commandNotFound,
  errorReply,
  migrationBadUri,
  missingArgument,
  QMP_GREETING,
  qdictKeyOrder,
  qdictOrdered,
  qmpGreeting,
  qmpToJson,
} from '../src/qmp-texts.js';

const schema = qmpSchema();
const byName = new Map(schema.map((e) => [e.name, e]));
const BUILTINS = new Set(['str', 'int', 'number', 'bool', 'any', 'null']);

function get(name: string): SchemaInfo {
  const e = byName.get(name);
  if (!e) throw new Error(`no schema entry ${name}`);
  return e;
}

function object(name: string): Extract<SchemaInfo, { 'meta-type': 'object' }> {
  const e = get(name);
  if (e['meta-type'] !== 'object') throw new Error(`${name} is ${e['meta-type']}`);
  return e;
}

function enumValues(name: string): string[] {
  const e = get(name);
  if (e['meta-type'] !== 'enum') throw new Error(`${name} is ${e['meta-type']}`);
  return e.values;
}

function command(name: string): Extract<SchemaInfo, { 'meta-type': 'command' }> {
  const e = get(name);
  if (e['meta-type'] !== 'command') throw new Error(`${name} is ${e['meta-type']}`);
  return e;
}

function memberType(objectName: string, member: string): string {
  const m = object(objectName).members.find((x) => x.name === member);
  if (!m) throw new Error(`${objectName} has no member ${member}`);
  return m.type;
}

/** Every type name an entry refers to. */
function references(e: SchemaInfo): string[] {
  switch (e['meta-type']) {
    case 'command':
      return [e['arg-type'], e['ret-type']];
    case 'event':
      return [e['arg-type']];
    case 'array':
      return [e['element-type']];
    case 'object':
      return [...e.members.map((m) => m.type), ...(e.variants ?? []).map((v) => v.type)];
    case 'alternate':
      return e.members.map((m) => m.type);
    default:
      return [];
  }
}

describe('qmpSchema', () => {
  it('defines every name once', () => {
    expect(byName.size).toBe(schema.length);
  });

  it('defines every referenced type', () => {
    for (const e of schema) {
      for (const ref of references(e)) expect(byName.has(ref), `${e.name} -> ${ref}`).toBe(true);
    }
  });

  it('lists no type that nothing reaches (QEMU emits reachable types only)', () => {
    const reached = new Set<string>();
    const walk = (name: string): void => {
      if (reached.has(name)) return;
      reached.add(name);
      for (const ref of references(get(name))) walk(ref);
    };
    for (const e of schema) if (e['meta-type'] === 'command' || e['meta-type'] === 'event') walk(e.name);
    expect(schema.filter((e) => !reached.has(e.name)).map((e) => e.name)).toEqual([]);
  });

  it('has the commands and events cuju-sim implements, first and sorted by name', () => {
    const head = schema.filter((e) => e['meta-type'] === 'command' || e['meta-type'] === 'event');
    expect(schema.slice(0, head.length)).toEqual(head);
    expect(head.map((e) => e.name)).toEqual([
      'MIGRATION',
      'RESUME',
      'SHUTDOWN',
      'STOP',
      'cont',
      'cuju-adjust-epoch',
      'cuju-failover',
      'cuju-migrate-cancel',
      'human-monitor-command',
      'migrate',
      'migrate-set-capabilities',
      'qmp_capabilities',
      'query-commands',
      'query-migrate',
      'query-migrate-capabilities',
      'query-qmp-schema',
      'query-status',
      'query-version',
      'quit',
      'stop',
    ]);
  });

  it('has cuju-migrate-cancel only in the master build (qapi-schema.json@21f9f0b:4874)', () => {
    const commands = (list: SchemaInfo[]) =>
      list.filter((e) => e['meta-type'] === 'command').map((e) => e.name);
    expect(commands(qmpSchema(['cuju-failover', 'cuju-adjust-epoch']))).not.toContain('cuju-migrate-cancel');
    expect(commands(qmpSchema(['cuju-failover', 'cuju-adjust-epoch']))).toContain('cuju-failover');
    expect(commands(qmpSchema())).toContain('cuju-migrate-cancel');
  });

  it('masks type names as numbers in order of first use; builtins and arrays keep theirs', () => {
    const masked: number[] = [];
    for (const e of schema) {
      if (e['meta-type'] === 'builtin') expect(BUILTINS.has(e.name)).toBe(true);
      else if (e['meta-type'] === 'array') expect(e.name).toBe(`[${e['element-type']}]`);
      else if (e['meta-type'] === 'enum' || e['meta-type'] === 'object') masked.push(Number(e.name));
    }
    expect(masked).toEqual(masked.map((_, i) => i));
  });

  it('gives enums `values` (the 2.8 shape), never `members`', () => {
    const enums = schema.filter((e) => e['meta-type'] === 'enum');
    expect(enums.length).toBeGreaterThan(0);
    for (const e of enums) {
      expect(Object.keys(e).sort()).toEqual(['meta-type', 'name', 'values']);
    }
  });

  it('shows every integer type as int, and optional members with default null', () => {
    expect(object(command('cuju-adjust-epoch')['arg-type']).members).toEqual([
      { name: 'epoch', type: 'int' },
    ]);
    expect(object(command('human-monitor-command')['arg-type']).members).toEqual([
      { name: 'command-line', type: 'str' },
      { name: 'cpu-index', type: 'int', default: null },
    ]);
    expect(command('human-monitor-command')['ret-type']).toBe('str');
  });

  it("has Cuju's migrate with the optional `cuju` bool", () => {
    expect(object(command('migrate')['arg-type']).members).toEqual([
      { name: 'uri', type: 'str' },
      { name: 'blk', type: 'bool', default: null },
      { name: 'inc', type: 'bool', default: null },
      { name: 'detach', type: 'bool', default: null },
      { name: 'cuju', type: 'bool', default: null },
    ]);
  });

  it('has cuju-ft in MigrationCapability (reached through migrate-set-capabilities)', () => {
    const list = get(memberType(command('migrate-set-capabilities')['arg-type'], 'capabilities'));
    if (list['meta-type'] !== 'array') throw new Error('capabilities is not a list');
    const capability = enumValues(memberType(list['element-type'], 'capability'));
    expect(capability).toEqual([
      'xbzrle',
      'rdma-pin-all',
      'auto-converge',
      'zero-blocks',
      'compress',
      'events',
      'postcopy-ram',
      'x-colo',
      'cuju-ft',
    ]);
    expect(command('query-migrate-capabilities')['ret-type']).toBe(`[${list['element-type']}]`);
  });

  it('has colo and cuju in MigrationStatus, shared by query-migrate and the MIGRATION event', () => {
    const status = memberType(command('query-migrate')['ret-type'], 'status');
    expect(enumValues(status)).toEqual([
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
    ]);
    const migration = get('MIGRATION');
    if (migration['meta-type'] !== 'event') throw new Error('MIGRATION is not an event');
    expect(memberType(migration['arg-type'], 'status')).toBe(status);
  });

  it("has 2.8's MigrationInfo members", () => {
    expect(object(command('query-migrate')['ret-type']).members.map((m) => m.name)).toEqual([
      'status',
      'ram',
      'disk',
      'xbzrle-cache',
      'total-time',
      'expected-downtime',
      'downtime',
      'setup-time',
      'cpu-throttle-percentage',
      'error-desc',
    ]);
  });

  it("has 2.8's RunState in query-status", () => {
    expect(enumValues(memberType(command('query-status')['ret-type'], 'status'))).toEqual([
      ...RUN_STATE_VALUES,
    ]);
    expect(RUN_STATE_VALUES).toContain('colo');
  });

  it('uses the empty object for commands without data or returns, and for events without data', () => {
    const empty = command('stop')['arg-type'];
    expect(object(empty).members).toEqual([]);
    for (const name of ['cont', 'quit', 'cuju-failover', 'cuju-migrate-cancel', 'qmp_capabilities']) {
      expect(command(name)).toMatchObject({ 'arg-type': empty, 'ret-type': empty });
    }
    for (const name of ['STOP', 'RESUME', 'SHUTDOWN']) expect(get(name)).toMatchObject({ 'arg-type': empty });
  });

  it('describes itself: query-qmp-schema returns the SchemaInfo flat union', () => {
    const ret = get(command('query-qmp-schema')['ret-type']);
    if (ret['meta-type'] !== 'array') throw new Error('not a list');
    const info = object(ret['element-type']);
    expect(info.tag).toBe('meta-type');
    expect(info.variants?.map((v) => v.case)).toEqual([
      'builtin',
      'enum',
      'array',
      'object',
      'alternate',
      'command',
      'event',
    ]);
    expect(enumValues(memberType(info.name, 'meta-type'))).toEqual(info.variants?.map((v) => v.case));
  });

  it('leaves out CujuMode and CujuTransactionState: no command or event reaches them', () => {
    const enums = schema.filter((e) => e['meta-type'] === 'enum').map((e) => JSON.stringify(e.values));
    expect(enums).not.toContain(JSON.stringify(CUJU_MODE_VALUES));
    expect(enums).not.toContain(JSON.stringify(CUJU_TRANSACTION_STATE_VALUES));
    expect(CUJU_MODE_VALUES).toContain('trnasfer');
  });

  it('returns a fresh copy each call', () => {
    const a = qmpSchema();
    a.length = 0;
    expect(qmpSchema()).toEqual(schema);
  });
});

describe('qmp-texts', () => {
  it("greets like Cuju's 2.8.0, in QEMU key order", () => {
    expect(JSON.stringify(QMP_GREETING)).toBe(
      '{"QMP":{"version":{"qemu":{"micro":0,"minor":8,"major":2},"package":""},"capabilities":[]}}',
    );
    expect(JSON.stringify(qdictOrdered(qmpGreeting({ major: 3, minor: 0, micro: 0 })))).toBe(
      '{"QMP":{"version":{"qemu":{"micro":0,"minor":0,"major":3},"package":""},"capabilities":[]}}',
    );
    expect(qmpGreeting({ major: 2, minor: 8, micro: 0 })).toEqual({
      QMP: { version: { qemu: { major: 2, minor: 8, micro: 0 }, package: '' }, capabilities: [] },
    });
  });

  it('is not idempotent where keys share a bucket (minor/micro)', () => {
    expect(qdictKeyOrder(['micro', 'minor', 'major'])).toEqual(['minor', 'micro', 'major']);
  });

  // Orders seen in real QEMU 2.x traffic, from QEMU's insertion orders.
  it.each([
    [
      ['major', 'minor', 'micro'],
      ['micro', 'minor', 'major'],
    ],
    [
      ['running', 'singlestep', 'status'],
      ['status', 'singlestep', 'running'],
    ],
    [
      ['event', 'data', 'timestamp'],
      ['timestamp', 'event', 'data'],
    ],
    [
      ['seconds', 'microseconds'],
      ['seconds', 'microseconds'],
    ],
    [
      ['class', 'desc'],
      ['class', 'desc'],
    ],
    [
      ['return', 'id'],
      ['return', 'id'],
    ],
    [
      ['error', 'id'],
      ['id', 'error'],
    ],
    [
      ['capability', 'state'],
      ['state', 'capability'],
    ],
  ])('a QDict of %j iterates as %j', (keys, order) => {
    expect(qdictKeyOrder(keys)).toEqual(order);
  });

  it('reorders nested objects and keeps arrays', () => {
    const reply = qdictOrdered(errorReply(commandNotFound('foo'), 'x'));
    expect(JSON.stringify(reply)).toBe(
      '{"id":"x","error":{"class":"CommandNotFound","desc":"The command foo has not been found"}}',
    );
  });

  it('has the 2.8 texts', () => {
    expect(capabilitiesNegotiationRequired('query-status')).toEqual({
      class: 'CommandNotFound',
      desc: "Expecting capabilities negotiation with 'qmp_capabilities' before command 'query-status'",
    });
    expect(capabilitiesAlreadyNegotiated()).toEqual({
      class: 'CommandNotFound',
      desc: "Capabilities negotiation is already complete, command 'qmp_capabilities' ignored",
    });
    expect(missingArgument('uri', 'string').desc).toBe("Invalid parameter type for 'uri', expected: string");
    expect(migrationBadUri().desc).toBe("Parameter 'uri' expects a valid migration protocol");
  });

  it('writes JSON as qobject_to_json does', () => {
    expect(qmpToJson(qmpGreeting())).toBe(
      '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 8, "major": 2}, "package": ""}, "capabilities": []}}',
    );
    expect(qmpToJson({ event: 'STOP', timestamp: { seconds: 1, microseconds: 2 } })).toBe(
      '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}',
    );
    expect(qmpToJson({ return: {} })).toBe('{"return": {}}');
    expect(qmpToJson([])).toBe('[]');
    expect(qmpToJson({ a: undefined, b: null })).toBe('{"b": null}');
    expect(qmpToJson([0.5, 2, 1e-7, -1.25])).toBe('[0.5, 2, 0, -1.25]');
    expect(qmpToJson('a"b\\c\n\u0001é€😀/')).toBe('"a\\"b\\\\c\\n\\u0001\\u00E9\\u20AC\\uD83D\\uDE00/"');
  });
});
