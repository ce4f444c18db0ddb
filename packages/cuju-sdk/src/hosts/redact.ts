/**
 * Secrets out of what a host reports. A command line may carry a token (`curl -H
 * 'Authorization: Bearer ...'`, `git clone https://user:TOKEN@...`) and a failing command
 * often prints its arguments back on stderr; HostErrors keep both (message, `argv`,
 * `stderr`), and errors end up in logs. Each host therefore has a redaction function, made
 * from the secrets its owner names (`redact` in LocalHostOptions and SshHostOptions) plus
 * the credentials of URLs, which every text a HostError keeps passes through.
 */
import { REDACTED } from '@cuju/qmp';
import { CujuArgumentError } from '../errors.js';
import { kindOf } from '../validate.js';

/** A secret to hide: a string (every occurrence), or a pattern (every match). */
export type SecretPattern = string | RegExp;

/** Replaces the secrets in a text with `<redacted>` (@cuju/qmp's REDACTED: one mark for every package). */
export type Redact = (text: string) => string;

/**
 * The password of `scheme://user:PASSWORD@host` and the token of `http(s)://TOKEN@host`
 * (GitHub and GitLab take a token as the user name); `ssh://git@host` keeps its user.
 */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]*@/gi;
const HTTP_TOKEN = /(\bhttps?:\/\/)[^\s/:@]+@/gi;
/** The value of a QEMU secret object given on a command line: `-object secret,id=s0,data=VALUE`. */
const QEMU_SECRET_DATA = /(\bsecret,(?:[^\s,]*,)*?data=)[^\s,]*/gi;

/**
 * The redaction function for `patterns` (checked: an array of non-empty strings and of
 * RegExps that match something, refused with CujuArgumentError naming `field`). URL
 * credentials and the data of QEMU secret objects are always redacted.
 */
export function makeRedact(field: string, patterns: unknown): Redact {
  const secrets = checkSecretPatterns(field, patterns);
  return (text: string) => {
    let out = text
      .replace(URL_PASSWORD, `$1:${REDACTED}@`)
      .replace(HTTP_TOKEN, `$1${REDACTED}@`)
      .replace(QEMU_SECRET_DATA, `$1${REDACTED}`);
    for (const secret of secrets) {
      out = typeof secret === 'string' ? out.replaceAll(secret, REDACTED) : out.replace(secret, REDACTED);
    }
    return out;
  };
}

/** Every string and RegExp of `value`, each RegExp made global (so that every match goes). */
function checkSecretPatterns(field: string, value: unknown): Array<string | RegExp> {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new CujuArgumentError(field, `must be an array of strings and RegExps, got ${kindOf(value)}`);
  }
  return value.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof item === 'string') {
      if (item === '') throw new CujuArgumentError(at, 'must not be empty (it would match everywhere)');
      return item;
    }
    if (item instanceof RegExp) {
      const global = new RegExp(item.source, item.flags.includes('g') ? item.flags : `${item.flags}g`);
      // A pattern that matches the empty string would put <redacted> between every character.
      if (new RegExp(item.source, item.flags.replace(/[gy]/g, '')).test('')) {
        throw new CujuArgumentError(at, 'must not match the empty string');
      }
      return global;
    }
    throw new CujuArgumentError(at, `must be a string or a RegExp, got ${kindOf(item)}`);
  });
}
