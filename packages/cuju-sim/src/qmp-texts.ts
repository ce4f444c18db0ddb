/**
 * QMP error classes and texts, the greeting, and the wire form of replies, as QEMU 2.8
 * produces them. Sources (read with the public code index):
 * - monitor.c (QEMU 2.8.1, 0x88888888/qemu-2.8.1 @102352e): invalid_qmp_mode(),
 *   qmp_check_input_obj(), handle_qmp_command(), get_qmp_greeting().
 * - qapi/qmp-dispatch.c (same tree): "The command %s has not been found", disabled command.
 * - include/qapi/qmp/qerror.h (QERR_* texts; 2.x copies, stable across 2.x).
 * - qapi/qmp-input-visitor.c (the 2.8-era version: QSLIST stack, separate check_struct).
 * - qobject/json-parser.c (the 2.5–2.8 GQueue version): parse_error() texts.
 * Items marked UNCONFIRMED were written from memory of QEMU 2.8, not read.
 */

/** QapiErrorClass (qapi/common.json, 2.8). cuju-sim uses the first two. */
export type QmpErrorClass =
  | 'GenericError'
  | 'CommandNotFound'
  | 'DeviceEncrypted'
  | 'DeviceNotActive'
  | 'DeviceNotFound'
  | 'KVMMissingCap';

export interface QmpErrorBody {
  class: QmpErrorClass;
  desc: string;
}

const generic = (desc: string): QmpErrorBody => ({ class: 'GenericError', desc });

// ------------------------------------------------------------ dispatch (qmp-dispatch.c, monitor.c)

/** do_qmp_dispatch(): an unknown command name (after negotiation). */
export const commandNotFound = (name: string): QmpErrorBody => ({
  class: 'CommandNotFound',
  desc: `The command ${name} has not been found`,
});

/** do_qmp_dispatch(): a command unregistered with qmp_disable_command(). */
export const commandDisabled = (name: string): QmpErrorBody =>
  generic(`The command ${name} has been disabled for this instance`);

/**
 * invalid_qmp_mode(): any command but qmp_capabilities before negotiation, *including
 * unknown names* (this check runs before the command lookup). The reply carries the id.
 */
export const capabilitiesNegotiationRequired = (name: string): QmpErrorBody => ({
  class: 'CommandNotFound',
  desc: `Expecting capabilities negotiation with 'qmp_capabilities' before command '${name}'`,
});

/** invalid_qmp_mode(): qmp_capabilities again after negotiation. */
export const capabilitiesAlreadyNegotiated = (name = 'qmp_capabilities'): QmpErrorBody => ({
  class: 'CommandNotFound',
  desc: `Capabilities negotiation is already complete, command '${name}' ignored`,
});

// ------------------------------------------------------------ request shape (monitor.c qmp_check_input_obj)
// These are reported *before* handle_qmp_command() reads "id": their replies have no id.

/** QERR_QMP_BAD_INPUT_OBJECT: no "execute" ("execute"), or a non-object request. */
export const badInputObject = (expected: string): QmpErrorBody =>
  generic(`Expected '${expected}' in QMP input`);

/** QERR_QMP_BAD_INPUT_OBJECT_MEMBER: ("execute", "string") or ("arguments", "object"). */
export const badInputObjectMember = (member: string, expected: string): QmpErrorBody =>
  generic(`QMP input object member '${member}' expects '${expected}'`);

/**
 * QERR_QMP_EXTRA_MEMBER: a request key other than execute/arguments/id, and also (via the
 * strict input visitor's check_struct) an unknown key inside "arguments". 2.8 has no
 * "Parameter '%s' is unexpected" (that text arrived with 2.9's qobject-input-visitor).
 */
export const extraMember = (member: string): QmpErrorBody =>
  generic(`QMP input object member '${member}' is unexpected`);

// ------------------------------------------------------------ JSON (json-parser.c, handle_qmp_command)

/**
 * QERR_JSON_PARSING. handle_qmp_command() uses it when the parser returned nothing
 * without an error: a lexical error (the streamer hands the parser no tokens), or valid
 * JSON that is not an object (`[1]`, `"x"`, `1`).
 */
export const JSON_SYNTAX_ERROR = 'Invalid JSON syntax';

/** parse_error() messages (json-parser.c); the last one set wins ("Missing value in dict" over "expecting value"). */
export const JSON_PARSE_MESSAGES = [
  'premature EOI',
  'key is not a string in object',
  'missing : in object pair',
  'Missing value in dict',
  'expected separator in dict',
  'expected separator in list',
  'expecting value',
  'invalid hex escape sequence in string',
  'invalid escape sequence in string',
] as const;
export type JsonParseMessage = (typeof JSON_PARSE_MESSAGES)[number];

/** A JSON syntax error found by the parser: "JSON parse error, <message>". */
export const jsonParseError = (message: JsonParseMessage | `invalid keyword '${string}'`): QmpErrorBody =>
  generic(`JSON parse error, ${message}`);

// ------------------------------------------------------------ arguments (qmp-input-visitor.c, qerror.h)

/** What the 2.8 input visitor names as the expected type. */
export type VisitorExpected = 'integer' | 'boolean' | 'string' | 'number' | 'QDict' | 'list' | 'null';

/** QERR_INVALID_PARAMETER_TYPE. */
export const invalidParameterType = (name: string, expected: VisitorExpected): QmpErrorBody =>
  generic(`Invalid parameter type for '${name}', expected: ${expected}`);

/**
 * A *missing mandatory* argument in 2.8: qmp_input_get_object() returns NULL without an
 * error and the type visitor then reports the type error, e.g. `migrate` without uri is
 * "Invalid parameter type for 'uri', expected: string". (2.9 changed this to
 * "Parameter 'uri' is missing".) Enums are visited as strings, structs as 'QDict'.
 */
export const missingArgument = (name: string, expected: VisitorExpected): QmpErrorBody =>
  invalidParameterType(name, expected);

/** QERR_MISSING_PARAMETER: raised by hand in some handlers (and for alternates), not for plain missing members. */
export const missingParameter = (name: string): QmpErrorBody => generic(`Parameter '${name}' is missing`);

/** QERR_INVALID_PARAMETER: e.g. an unknown MigrationCapability name (also from HMP migrate_set_capability). */
export const invalidParameter = (name: string): QmpErrorBody => generic(`Invalid parameter '${name}'`);

/** QERR_INVALID_PARAMETER_VALUE: "Parameter '%s' expects %s". */
export const invalidParameterValue = (name: string, expects: string): QmpErrorBody =>
  generic(`Parameter '${name}' expects ${expects}`);

/**
 * An integer outside a uintN member's range, e.g. cuju-adjust-epoch's uint32 epoch given
 * 4294967296 or -1: visit_type_uintN() says "Parameter 'epoch' expects uint32_t".
 * UNCONFIRMED (qapi/qapi-visit-core.c 2.8, from memory).
 */
export const uintOutOfRange = (name: string, bits: 8 | 16 | 32): QmpErrorBody =>
  invalidParameterValue(name, `uint${bits}_t`);

// ------------------------------------------------------------ migration (migration.c, reference §2.2)

/** QERR_MIGRATION_ACTIVE: migrate / migrate-set-capabilities while a migration runs (or colo). */
export const MIGRATION_ACTIVE = "There's a migration process in progress";
export const migrationActive = (): QmpErrorBody => generic(MIGRATION_ACTIVE);

/** qmp_migrate() on a VM started with -incoming that has not finished receiving. */
export const MIGRATION_INCOMING = 'Guest is waiting for an incoming migration';
export const migrationIncoming = (): QmpErrorBody => generic(MIGRATION_INCOMING);

/** qmp_migrate() with a URI whose protocol is not tcp/unix/exec/fd/rdma. */
export const migrationBadUri = (): QmpErrorBody => invalidParameterValue('uri', 'a valid migration protocol');

/** migrate_caps_check() when cuju is not compiled in; unreachable in Cuju (cuju_supported() is true). */
export const CUJU_NOT_SUPPORTED =
  'CUJU is not currently supported, please configure with --enable-cuju option in order to support CUJU feature';

/**
 * error_report() on an HMP monitor prints the bare message and a newline (no
 * "qemu-system-x86_64:" prefix while a monitor command runs), e.g. hmp_migrate errors.
 */
export const hmpErrorReport = (err: QmpErrorBody): string => `${err.desc}\n`;

// ------------------------------------------------------------ replies

export type QmpId = unknown;

/** handle_qmp_command(): `{"error": ...}` plus the request's id when it had been read. */
export function errorReply(err: QmpErrorBody, id?: QmpId): Record<string, unknown> {
  return id === undefined ? { error: err } : { error: err, id };
}

export interface QmpVersionTriple {
  major: number;
  minor: number;
  micro: number;
}

/**
 * get_qmp_greeting(): the query-version reply under "QMP", and `capabilities: []`
 * (2.8 has no QMP capabilities; "oob" arrived in 2.12). Keys are in QEMU's *insertion*
 * order (schema order), ready for qmpToJson(); QMP_GREETING is the wire-ordered copy.
 */
export function qmpGreeting(
  version: QmpVersionTriple = { major: 2, minor: 8, micro: 0 },
  pkg = '',
): Record<string, unknown> {
  const { major, minor, micro } = version;
  return { QMP: { version: { qemu: { major, minor, micro }, package: pkg }, capabilities: [] } };
}

// ------------------------------------------------------------ wire form (qobject/qdict.c, qobject/qjson.c)
// UNCONFIRMED as code (from memory of QEMU 2.8), but it reproduces every key order seen in
// real 2.x traffic: {"micro","minor","major"}, {"status","singlestep","running"},
// {"timestamp","event","data"}, {"return","id"}, {"id","error"}, {"state","capability"}.

/** tdb_hash() in qobject/qdict.c: 32-bit unsigned arithmetic over the key's bytes. */
function tdbHash(key: string): number {
  const bytes = new TextEncoder().encode(key);
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  bytes.forEach((c, i) => {
    value = (value + ((c << ((i * 5) % 24)) >>> 0)) >>> 0;
  });
  return (Math.imul(1103515243, value) + 12345) >>> 0;
}

/** QDICT_BUCKET_MAX. */
const QDICT_BUCKETS = 512;

/**
 * The order in which a QDict holding these keys (inserted in this order) iterates:
 * bucket `tdb_hash(key) % 512` ascending, and within a bucket the last inserted first.
 * Insertion order matters: "minor" and "micro" share a bucket, and QEMU inserting
 * major, minor, micro is why the greeting reads micro, minor, major.
 */
export function qdictKeyOrder(keys: readonly string[]): string[] {
  const buckets = new Map<number, string[]>();
  for (const key of keys) {
    const bucket = tdbHash(key) % QDICT_BUCKETS;
    buckets.set(bucket, [key, ...(buckets.get(bucket) ?? [])]);
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, ks]) => ks);
}

/**
 * A deep copy whose plain objects enumerate their keys as QEMU would emit them (for
 * JSON.stringify). Give it objects in QEMU's insertion order, once: it is not idempotent
 * when keys share a bucket. qmpToJson() does this itself; do not feed it the result.
 */
export function qdictOrdered<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => qdictOrdered(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of qdictKeyOrder(Object.keys(src))) out[key] = qdictOrdered(src[key]);
  return out as T;
}

/** to_json()'s string escaping: \" \\ \b \f \n \r \t, other controls and non-ASCII as \uXXXX (upper-case hex). */
function quote(str: string): string {
  let out = '"';
  for (const ch of str) {
    const cp = ch.codePointAt(0) ?? 0;
    const named = NAMED_ESCAPES[ch];
    if (named !== undefined) out += named;
    else if (cp > 0xffff) {
      const hi = 0xd800 + ((cp - 0x10000) >> 10);
      const lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);
      out += `\\u${hex4(hi)}\\u${hex4(lo)}`;
    } else if (cp < 0x20 || cp >= 0x7f) out += `\\u${hex4(cp)}`;
    else out += ch;
  }
  return `${out}"`;
}

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');

/** QInt prints as an integer; QFloat as "%f" with trailing zeros (and a bare '.') removed. */
function number(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

/**
 * qobject_to_json() (compact form, as the QMP monitor writes it): ", " and ": "
 * separators, keys in QDict order, QEMU's string escaping. The monitor adds "\n" (then
 * "\r\n" on the wire). Objects must be in QEMU's insertion order (schema member
 * order), as qmpGreeting() and errorReply() build them. UNCONFIRMED as code (from memory
 * of qobject/qjson.c, 2.8).
 */
export function qmpToJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return number(value);
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return `[${value.map((v) => qmpToJson(v)).join(', ')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = qdictKeyOrder(Object.keys(obj).filter((k) => obj[k] !== undefined));
    return `{${keys.map((k) => `${quote(k)}: ${qmpToJson(obj[k])}`).join(', ')}}`;
  }
  throw new TypeError(`qmpToJson: cannot encode ${typeof value}`);
}

// ------------------------------------------------------------ the names monitor-qmp.ts imports

/** One QMP reply body (before the id is added). */
export type QmpReply = { return: unknown } | { error: QmpErrorBody };

export const qmpError = (cls: QmpErrorClass, desc: string): QmpReply => ({ error: { class: cls, desc } });

/** The 2.8.0 greeting (Cuju's VERSION) with keys in wire order, for JSON.stringify (not for qmpToJson). */
export const QMP_GREETING: Readonly<Record<string, unknown>> = qdictOrdered(qmpGreeting());

/** The desc texts by situation; each names where QEMU 2.8 uses it. */
export const TEXT = {
  /** Unparsable JSON, and (in 2.8) also valid JSON that is not an object. */
  invalidJson: JSON_SYNTAX_ERROR,
  /** qmp_check_input_obj()'s non-object case: unreachable in 2.8 (handle_qmp_command answers invalidJson first). */
  expectedObject: badInputObject('object').desc,
  /** No "execute" key. */
  executeExpected: badInputObject('execute').desc,
  /** "execute" present but not a string. */
  executeNotString: badInputObjectMember('execute', 'string').desc,
  /** "arguments" present but not an object. */
  argumentsObject: badInputObjectMember('arguments', 'object').desc,
  /** A request key other than execute/arguments/id (reply without id: it is checked before the id is read). */
  memberUnexpected: (key: string): string => extraMember(key).desc,
  /** Class CommandNotFound. */
  negotiationFirst: (name: string): string => capabilitiesNegotiationRequired(name).desc,
  /** Class CommandNotFound. */
  negotiationDone: (name = 'qmp_capabilities'): string => capabilitiesAlreadyNegotiated(name).desc,
  /** Class CommandNotFound: an unknown command after negotiation. */
  commandNotFound: (name: string): string => commandNotFound(name).desc,
  migrationActive: MIGRATION_ACTIVE,
  migrationIncoming: MIGRATION_INCOMING,
  migrationBadUri: migrationBadUri().desc,
  invalidParameter: (name: string): string => invalidParameter(name).desc,
  invalidParameterType: (name: string, expected: VisitorExpected): string =>
    invalidParameterType(name, expected).desc,
} as const;
