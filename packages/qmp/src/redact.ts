/**
 * Secrets never reach traces or error objects. Arguments are copied with every value
 * that carries a secret replaced by REDACTED:
 * - members whose name says so (password, passphrase, secret, token, key-secret, ...),
 * - `data` of `object-add` for secret objects (qom-type secret, secret_keyring),
 * - the tail of HMP lines that set passwords or create secrets, wherever a line is shown
 *   (human-monitor-command arguments, HMP client errors): set_password, expire_password,
 *   change vnc password|passwd, block_passwd (QEMU 2.8), and any object_add that mentions
 *   a secret object (positional, key=value or JSON form).
 */
export const REDACTED = '<redacted>';

const SECRET_MEMBER = /pass(word|wd|phrase)?$|secret$|^token$|private-?key|^iv$/i;
const SECRET_QOM_TYPES = new Set(['secret', 'secret_keyring']);
const SECRET_HMP = /^\s*(set_password|expire_password|change\s+vnc\s+passw(?:or)?d|block_passwd)\b/i;
const OBJECT_ADD = /^\s*object_add\b/i;

/** True for a member or argument name that carries a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_MEMBER.test(name);
}

/** An HMP command line as it may be shown: the command word kept, a secret-bearing tail replaced. */
export function redactHmpLine(line: string): string {
  const match =
    SECRET_HMP.exec(line) ?? (OBJECT_ADD.test(line) && /secret/i.test(line) ? OBJECT_ADD.exec(line) : null);
  return match ? `${match[0].trim()} ${REDACTED}` : line;
}

/** A command's arguments with secret-bearing values replaced by `<redacted>`, for traces and errors. */
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
  const shown = redactHmpLine(line);
  return shown === line ? args : { ...args, 'command-line': shown };
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
