/**
 * Opening an ssh2 connection for SshHost: option checks, the host key check (before any
 * authentication: ssh2 calls `hostVerifier` during key exchange), and ssh2's errors
 * turned into HostErrors that say what to do.
 */
import { readFile } from 'node:fs/promises';
import { Client, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import {
  HostArgumentError,
  HostAuthError,
  HostConnectError,
  type HostError,
  HostKeyError,
  HostTimeoutError,
} from './errors.js';
import {
  checkKnownHosts,
  knownHostsLine,
  knownHostsName,
  normalizeFingerprint,
  parseKnownHosts,
  preferredAlgorithms,
  sha256Fingerprint,
} from './hostkey.js';
import { assertPath } from './quote.js';

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
  /** An OpenSSH private key (file contents, not a path). */
  privateKey?: string | Buffer;
  passphrase?: string | Buffer;
  /** Path of an ssh-agent socket (e.g. process.env.SSH_AUTH_SOCK). */
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
}

export interface OpenedConnection {
  client: Client;
  /** The verified host key's `SHA256:` fingerprint. */
  fingerprint: string;
}

/** Connects, verifies the host key, authenticates; rejects with a typed HostError. */
export async function openConnection(options: SshHostOptions, name: string): Promise<OpenedConnection> {
  const port = options.port ?? 22;
  checkOptions(options, port);
  const check = await hostKeyCheck(options.hostKey, options.host, port, name);
  const readyTimeout = options.readyTimeoutMs ?? 20_000;
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
    readyTimeout,
    keepaliveInterval: options.keepaliveIntervalMs ?? 5_000,
    keepaliveCountMax: options.keepaliveCountMax ?? 3,
    ...(check.algorithms ? { algorithms: { serverHostKey: check.algorithms } } : {}),
  };

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: HostError) => {
      if (settled) return;
      settled = true;
      if (err) {
        client.destroy();
        reject(err);
      } else resolve();
    };
    client.once('ready', () => settle());
    client.on('error', (err: Error & { level?: string; code?: string }) =>
      settle(keyError ?? connectError(err, options, port, readyTimeout, name)),
    );
    client.once('close', () =>
      settle(
        keyError ??
          new HostConnectError(`the server closed the connection during the handshake`, { host: name }),
      ),
    );
    try {
      client.connect(config);
    } catch (err) {
      // ssh2 checks the private key synchronously: nothing has been sent yet.
      settle(
        new HostArgumentError(
          `cannot use the private key (${(err as Error).message}): give the key's contents (not its path), and its passphrase if it is encrypted`,
          { host: name, cause: err },
        ),
      );
    }
  });
  return { client, fingerprint };
}

/**
 * Refuses, before connecting, strings that no host or user name contains: whitespace and
 * control characters (a newline smuggled into a name would reach logs and known_hosts
 * look-ups), a comma in a host (known_hosts separates names with commas), a leading `-`.
 */
function checkOptions(options: SshHostOptions, port: number): void {
  if (!isToken(options.host, ',')) {
    throw new HostArgumentError(`host ${JSON.stringify(options.host)} is not a host name or address`);
  }
  if (!isToken(options.username) || options.username.startsWith('-')) {
    throw new HostArgumentError(`username ${JSON.stringify(options.username)} is not a user name`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new HostArgumentError(`port ${port} is not a TCP port`);
  }
  if (options.privateKey === undefined && options.agent === undefined) {
    throw new HostArgumentError('give privateKey (the key contents) or agent (an ssh-agent socket path)');
  }
  if (options.agent !== undefined) assertPath(options.agent, 'agent');
  if (options.address !== undefined && !isToken(options.address)) {
    throw new HostArgumentError(`address ${JSON.stringify(options.address)} is not a host name or address`);
  }
}

/** A non-empty string without whitespace, control characters or any of `forbidden`. */
function isToken(value: unknown, forbidden = ''): value is string {
  if (typeof value !== 'string' || value === '') return false;
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (code <= 0x20 || code === 0x7f || /\s/u.test(ch) || forbidden.includes(ch)) return false;
  }
  return true;
}

interface PreparedCheck {
  verify(keyBlob: Buffer): HostKeyError | undefined;
  algorithms?: ServerHostKeyAlgorithm[];
}

async function hostKeyCheck(
  policy: HostKeyCheck,
  host: string,
  port: number,
  name: string,
): Promise<PreparedCheck> {
  if (policy && 'sha256' in policy && typeof policy.sha256 === 'string') {
    const pinned = normalizeFingerprint(policy.sha256);
    if (!pinned) {
      throw new HostArgumentError(
        `hostKey.sha256 ${JSON.stringify(policy.sha256)} is not a fingerprint: give it as ssh-keygen -lf prints it (SHA256:...)`,
        { host: name },
      );
    }
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
  if (policy && 'knownHostsPath' in policy && typeof policy.knownHostsPath === 'string') {
    const path = policy.knownHostsPath;
    assertPath(path, 'hostKey.knownHostsPath');
    let text = '';
    let missing = false;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new HostArgumentError(`cannot read known_hosts file ${path}: ${(err as Error).message}`, {
          host: name,
          cause: err,
        });
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
  throw new HostArgumentError(
    'hostKey is required: { knownHostsPath } or { sha256: "SHA256:..." } (there is no accept-any option)',
    { host: name },
  );
}

function connectError(
  err: Error & { level?: string; code?: string },
  options: SshHostOptions,
  port: number,
  readyTimeout: number,
  name: string,
): HostError {
  const ctx = { host: name, cause: err };
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
