/**
 * Host key checking as OpenSSH does it, for ssh2's `hostVerifier`: the SHA256
 * fingerprint (`ssh-keygen -lf`), and known_hosts lookup with plain, `[host]:port`,
 * wildcard, negated and hashed (`|1|salt|hash`) host patterns, and `@revoked` lines.
 * There is deliberately no way to accept an unknown key.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ServerHostKeyAlgorithm } from 'ssh2';

/** `SHA256:` + unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -lf` prints it. */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Accepts `SHA256:xxx` with or without base64 padding; undefined when it is not one. */
export function normalizeFingerprint(pinned: string): string | undefined {
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(pinned.trim());
  return m ? `SHA256:${m[1]}` : undefined;
}

/** The key type named inside an SSH public key blob (`ssh-ed25519`, ...). */
function keyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The line to add to known_hosts for this key. */
export function knownHostsLine(host: string, port: number, keyBlob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyType(keyBlob)} ${keyBlob.toString('base64')}`;
}

interface KnownHostsEntry {
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string;
  type: string;
  key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostsEntry['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as typeof marker;
    const [patterns, type, key] = fields;
    if (!patterns || !type || !key) continue;
    entries.push({ marker, patterns, type, key: Buffer.from(key, 'base64') });
  }
  return entries;
}

/** Whether a known_hosts host field (comma-separated patterns) names this host. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatch(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (!globMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false; // a matching negation excludes the host whatever else matches
    matched = true;
  }
  return matched;
}

function hashedMatch(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${re}$`).test(name);
}

export type KnownHostsVerdict = 'match' | 'changed' | 'unknown' | 'revoked';

/**
 * The verdict for a key presented by host:port: `revoked` when an @revoked line lists
 * the key, `match` when a line for the host has it, `changed` when lines for the host
 * exist but none has it, `unknown` when no line names the host.
 */
export function checkKnownHosts(
  entries: readonly KnownHostsEntry[],
  host: string,
  port: number,
  keyBlob: Buffer,
): KnownHostsVerdict {
  const name = knownHostsName(host, port);
  if (entries.some((e) => e.marker === '@revoked' && e.key.equals(keyBlob))) return 'revoked';
  const forHost = entries.filter((e) => e.marker === '' && patternsMatch(e.patterns, name));
  if (forHost.length === 0) return 'unknown';
  return forHost.some((e) => e.key.equals(keyBlob)) ? 'match' : 'changed';
}

const RSA_ALGORITHMS: ServerHostKeyAlgorithm[] = ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const SUPPORTED: readonly string[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-dss',
];

/**
 * The host key algorithms to offer when known_hosts has keys for the host: only those
 * types, as OpenSSH prefers them, so that a server that also has a key of another type
 * does not present that one and look "changed". Undefined: no preference (ssh2's default).
 */
export function preferredAlgorithms(
  entries: readonly KnownHostsEntry[],
  host: string,
  port: number,
): ServerHostKeyAlgorithm[] | undefined {
  const name = knownHostsName(host, port);
  const algorithms = new Set<ServerHostKeyAlgorithm>();
  for (const e of entries) {
    if (e.marker !== '' || !patternsMatch(e.patterns, name)) continue;
    if (e.type === 'ssh-rsa') for (const a of RSA_ALGORITHMS) algorithms.add(a);
    else if (SUPPORTED.includes(e.type)) algorithms.add(e.type as ServerHostKeyAlgorithm);
  }
  return algorithms.size > 0 ? [...algorithms] : undefined;
}
