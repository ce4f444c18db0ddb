/**
 * Secrets never reach traces or error objects. Arguments are copied with every value
 * that carries a secret replaced by REDACTED:
 * - members whose name says so (password, passphrase, secret, token, key-secret, ...),
 * - `data` of `object-add` for secret objects (qom-type secret, secret_keyring),
 * - the tail of HMP lines that set passwords or create secrets, sent through
 *   human-monitor-command (set_password, change vnc password, object_add secret,...).
 */
export const REDACTED = '<redacted>';

const SECRET_MEMBER = /pass(word|wd|phrase)?$|secret$|^token$|private-?key|^iv$/i;
const SECRET_QOM_TYPES = new Set(['secret', 'secret_keyring']);
const SECRET_HMP =
  /^\s*(set_password|expire_password|change\s+vnc\s+password|object_add\s+(secret|secret_keyring)\b)/i;

export function redactArguments(command: string, args: unknown): unknown {
  if (args === undefined || args === null || typeof args !== 'object') return args;
  if (command === 'human-monitor-command') return redactHmpCommand(args as Record<string, unknown>);
  const secretObject =
    command === 'object-add' && SECRET_QOM_TYPES.has(String((args as { 'qom-type'?: unknown })['qom-type']));
  return redactValue(args, secretObject);
}

function redactHmpCommand(args: Record<string, unknown>): unknown {
  const line = args['command-line'];
  if (typeof line !== 'string') return redactValue(args, false);
  const match = SECRET_HMP.exec(line);
  if (!match) return args;
  return { ...args, 'command-line': `${match[0]} ${REDACTED}` };
}

function redactValue(value: unknown, secretObject: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => redactValue(v, false));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_MEMBER.test(key) || (secretObject && key === 'data')) out[key] = REDACTED;
    else out[key] = redactValue(v, false);
  }
  return out;
}
