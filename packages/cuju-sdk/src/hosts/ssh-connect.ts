/**
 * Opening an ssh2 connection for SshHost: option checks, the host key check (before any
 * authentication: ssh2 calls `hostVerifier` during key exchange), and ssh2's errors
 * turned into HostErrors that say what to do.
 */
import { readFile } from 'node:fs/promises';
import { Client, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import { CujuArgumentError } from '../errors.js';
import {
  checkIntegerIn,
  checkObject,
  checkPort,
  checkText,
  checkTimeoutMs,
  checkUnixSocketPath,
  kindOf,
} from '../validate.js';
import { checkHostPath, checkName } from './args.js';
import { HostAuthError, HostConnectError, type HostError, HostKeyError, HostTimeoutError } from './errors.js';
import {
  checkKnownHosts,
  knownHostsLine,
  knownHostsName,
  normalizeFingerprint,
  parseKnownHosts,
  preferredAlgorithms,
  sha256Fingerprint,
} from './hostkey.js';
import { makeRedact, type Redact, type SecretPattern } from './redact.js';

/**
 * How the server's host key is checked. There is no "accept any" choice: an unknown key
 * is always refused, with the line to add once its fingerprint has been verified.
 */
export type HostKeyCheck =
  /** An OpenSSH known_hosts file (`host`, `[host]:port`, hashed and wildcard entries). */
  | { knownHostsPath: string }
  /** A pinned fingerprint as `ssh-keygen -lf` prints it: `SHA256:` + 43 base64 characters. */
  | { sha256: string };

/** `SshHost.connect()` options: where, who, the key, and how the host key is checked. */
export interface SshHostOptions {
  host: string;
  /** Default 22. */
  port?: number;
  username: string;
  /** An OpenSSH private key (file contents, not a path). Kept by the connection only, never shown. */
  privateKey?: string | Buffer;
  passphrase?: string | Buffer;
  /** Path of an ssh-agent socket (e.g. process.env.SSH_AUTH_SOCK); at most 107 bytes. */
  agent?: string;
  hostKey: HostKeyCheck;
  /** SSH-level keepalive interval (default 5000 ms; 0 turns keepalives off). */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as lost (default 3). */
  keepaliveCountMax?: number;
  /** Deadline for connecting, key exchange and authentication (default 20000 ms). */
  readyTimeoutMs?: number;
  /** The address other hosts use to reach this one (default: `host`). */
  address?: string;
  /**
   * Secrets to keep out of this host's errors (strings, or RegExps for every match): the
   * messages, and the `argv` and `stderr` copies errors keep, show `<redacted>` instead.
   * The passphrase and credentials in URLs (`https://user:TOKEN@...`) are always redacted.
   */
  redact?: readonly SecretPattern[];
}

/** The options, checked, with their defaults. */
export interface CheckedSshOptions {
  host: string;
  port: number;
  username: string;
  privateKey: string | Buffer | undefined;
  passphrase: string | Buffer | undefined;
  agent: string | undefined;
  hostKey: { knownHostsPath: string } | { sha256: string };
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  readyTimeoutMs: number;
  address: string;
  redact: Redact;
}

export interface OpenedConnection {
  client: Client;
  /** The verified host key's `SHA256:` fingerprint. */
  fingerprint: string;
}

/**
 * Every field of SshHostOptions checked before anything is sent, refused with
 * CujuArgumentError naming it: strings that no host or user name contains (whitespace,
 * control characters, a leading `-`; a comma in a host, as known_hosts separates names
 * with commas), and a host key policy (there is no accept-any choice).
 */
export function checkSshOptions(options: unknown): CheckedSshOptions {
  const o = checkObject('options', options);
  const host = checkName('host', o.host, 'a host name or address', ',');
  const username = checkName('username', o.username, 'a user name');
  const port = o.port === undefined ? 22 : checkPort('port', o.port);
  const privateKey = optionalKeyText('privateKey', o.privateKey);
  const passphrase = optionalKeyText('passphrase', o.passphrase);
  const agent = o.agent === undefined ? undefined : checkUnixSocketPath('agent', o.agent);
  if (privateKey === undefined && agent === undefined) {
    throw new CujuArgumentError(
      'privateKey',
      'or agent is required: the key contents, or an ssh-agent socket path',
    );
  }
  // The key material is a secret of this host too, should a command ever print it.
  const own = [passphrase, privateKey].flatMap((v) => (v === undefined || v.length === 0 ? [] : [String(v)]));
  const given = o.redact === undefined ? [] : o.redact;
  return {
    host,
    port,
    username,
    privateKey,
    passphrase,
    agent,
    hostKey: checkHostKeyPolicy(o.hostKey),
    keepaliveIntervalMs:
      o.keepaliveIntervalMs === undefined
        ? 5_000
        : checkTimeoutMs('keepaliveIntervalMs', o.keepaliveIntervalMs),
    keepaliveCountMax:
      o.keepaliveCountMax === undefined
        ? 3
        : checkIntegerIn('keepaliveCountMax', o.keepaliveCountMax, 1, 1_000),
    readyTimeoutMs:
      o.readyTimeoutMs === undefined
        ? 20_000
        : checkIntegerIn('readyTimeoutMs', o.readyTimeoutMs, 1, 2 ** 31 - 1),
    address: o.address === undefined ? host : checkName('address', o.address, 'a host name or address'),
    redact: makeRedact('redact', Array.isArray(given) ? [...given, ...own] : given),
  };
}

/** Key material: a string or bytes, never echoed. */
function optionalKeyText(field: string, value: unknown): string | Buffer | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new CujuArgumentError(field, `must be a string or a Buffer, got ${kindOf(value)}`);
}

function checkHostKeyPolicy(value: unknown): CheckedSshOptions['hostKey'] {
  const noDefault =
    'is required: { knownHostsPath } or { sha256: "SHA256:..." } (there is no accept-any option)';
  if (value === undefined) throw new CujuArgumentError('hostKey', noDefault);
  const policy = checkObject('hostKey', value);
  if (policy.sha256 !== undefined) {
    const pinned = normalizeFingerprint(checkText('hostKey.sha256', policy.sha256));
    if (!pinned) {
      throw new CujuArgumentError(
        'hostKey.sha256',
        'is not a fingerprint: give it as ssh-keygen -lf prints it (SHA256: and 43 base64 characters)',
      );
    }
    return { sha256: pinned };
  }
  if (policy.knownHostsPath !== undefined) {
    return { knownHostsPath: checkHostPath('hostKey.knownHostsPath', policy.knownHostsPath) };
  }
  throw new CujuArgumentError('hostKey', noDefault);
}

/** Connects, verifies the host key, authenticates; rejects with a typed HostError. */
export async function openConnection(options: CheckedSshOptions, name: string): Promise<OpenedConnection> {
  const { port, redact } = options;
  const check = await hostKeyCheck(options.hostKey, options.host, port, name);
  const client = new Client();
  let keyError: HostKeyError | undefined;
  let fingerprint = '';
  const hostVerifier = (key: Buffer): boolean => {
    fingerprint = sha256Fingerprint(key);
    keyError = check.verify(key);
    return keyError === undefined;
  };
  const config: ConnectConfig = {
    host: options.host,
    port,
    username: options.username,
    privateKey: options.privateKey,
    passphrase: options.passphrase,
    agent: options.agent,
    hostVerifier,
    readyTimeout: options.readyTimeoutMs,
    keepaliveInterval: options.keepaliveIntervalMs,
    keepaliveCountMax: options.keepaliveCountMax,
    ...(check.algorithms ? { algorithms: { serverHostKey: check.algorithms } } : {}),
  };

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) {
        client.destroy();
        reject(err);
      } else resolve();
    };
    client.once('ready', () => settle());
    client.on('error', (err: Error & { level?: string; code?: string }) =>
      settle(keyError ?? connectError(err, options, name)),
    );
    client.once('close', () =>
      settle(
        keyError ??
          new HostConnectError('the server closed the connection during the handshake', {
            host: name,
            redact,
          }),
      ),
    );
    try {
      client.connect(config);
    } catch (err) {
      // ssh2 checks the private key synchronously: nothing has been sent yet. Only its
      // message (which names no key material) is kept, not the error object.
      settle(
        new CujuArgumentError(
          'privateKey',
          `cannot be used (${redact((err as Error).message)}): give the key's contents (not its path), and ` +
            'its passphrase if it is encrypted',
        ),
      );
    }
  });
  return { client, fingerprint };
}

interface PreparedCheck {
  verify(keyBlob: Buffer): HostKeyError | undefined;
  algorithms?: ServerHostKeyAlgorithm[];
}

async function hostKeyCheck(
  policy: CheckedSshOptions['hostKey'],
  host: string,
  port: number,
  name: string,
): Promise<PreparedCheck> {
  if ('sha256' in policy) {
    const pinned = policy.sha256;
    return {
      verify(keyBlob) {
        const actual = sha256Fingerprint(keyBlob);
        if (actual === pinned) return undefined;
        return new HostKeyError(
          'HOST_KEY_CHANGED',
          `the server presented host key ${actual}, not the pinned ${pinned}: if the host was reinstalled, verify ` +
            'the new fingerprint out of band and pin it; otherwise someone may be intercepting the connection',
          { fingerprint: actual, knownHostsLine: knownHostsLine(host, port, keyBlob) },
          { host: name },
        );
      },
    };
  }
  const path = policy.knownHostsPath;
  let text = '';
  let missing = false;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CujuArgumentError(
        'hostKey.knownHostsPath',
        `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
    missing = true;
  }
  const entries = parseKnownHosts(text);
  const hostName = knownHostsName(host, port);
  return {
    algorithms: preferredAlgorithms(entries, host, port),
    verify(keyBlob) {
      const verdict = checkKnownHosts(entries, host, port, keyBlob);
      if (verdict === 'match') return undefined;
      const fingerprint = sha256Fingerprint(keyBlob);
      const line = knownHostsLine(host, port, keyBlob);
      const facts = { fingerprint, knownHostsLine: line };
      if (verdict === 'unknown') {
        return new HostKeyError(
          'HOST_KEY_UNKNOWN',
          `${hostName} is not in ${path}${missing ? ' (the file does not exist)' : ''}: verify its host key ` +
            `fingerprint ${fingerprint} out of band (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the host), ` +
            `then add the line "${line}" to ${path} or pin { sha256: '${fingerprint}' }`,
          facts,
          { host: name },
        );
      }
      return new HostKeyError(
        'HOST_KEY_CHANGED',
        verdict === 'revoked'
          ? `the server presented host key ${fingerprint}, which ${path} marks @revoked: refusing to connect`
          : `the host key of ${hostName} differs from the one in ${path} (the server presented ${fingerprint}): ` +
              'someone may be intercepting the connection; if the host was reinstalled, verify the new key out of ' +
              `band and replace its line (ssh-keygen -R '${hostName}' -f ${path})`,
        facts,
        { host: name },
      );
    },
  };
}

function connectError(
  err: Error & { level?: string; code?: string },
  options: CheckedSshOptions,
  name: string,
): HostError {
  const { port, readyTimeoutMs: readyTimeout } = options;
  const ctx = { host: name, cause: err, redact: options.redact };
  switch (err.level) {
    case 'client-authentication':
      return new HostAuthError(
        `user ${options.username} could not authenticate (${err.message}): check the user name, and that the ` +
          `public key of the given private key (or of the agent's keys) is in ~${options.username}/.ssh/authorized_keys on the host`,
        ctx,
      );
    case 'client-timeout':
      return new HostTimeoutError(
        `no SSH session within ${readyTimeout} ms (${err.message}): check that ${options.host}:${port} is a reachable SSH server`,
        ctx,
      );
    case 'client-socket':
    case 'client-dns':
      return new HostConnectError(
        `cannot reach ${options.host}:${port} (${err.code ?? err.message}): check the address and port, and that sshd runs there`,
        ctx,
      );
    default:
      return new HostConnectError(
        `the SSH handshake with ${options.host}:${port} failed: ${err.message}`,
        ctx,
      );
  }
}
