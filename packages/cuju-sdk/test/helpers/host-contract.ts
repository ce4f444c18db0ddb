/**
 * What every Host does the same way, LocalHost or SshHost: streamed output (`run` with
 * `onLine`), `writeFile`, the Unix socket paths `connectMonitor` accepts, and secrets kept
 * out of errors. Each test file calls hostContract() with how to get a host (with the
 * options it is given) and a scratch directory on it; host-specific behaviour stays in
 * that file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  CujuArgumentError,
  CujuError,
  type CujuErrorCode,
  type Host,
  HostCommandError,
  type SecretPattern,
} from '../../src/index.js';
import { readUntil } from './sshd.js';

export interface ContractSetup {
  host: Host;
  /** An empty directory, on the host and readable from here (same machine). */
  dir: string;
}

/** The host options a contract test needs (both hosts take them). */
export interface ContractHostOptions {
  redact?: SecretPattern[];
}

type Seen = Array<[string, 'stdout' | 'stderr']>;

/** An onLine listener recording what it is given. */
export function recorder(): { seen: Seen; onLine: (line: string, stream: 'stdout' | 'stderr') => void } {
  const seen: Seen = [];
  return { seen, onLine: (line, stream) => void seen.push([line, stream]) };
}

export const linesOf = (seen: Seen, stream: 'stdout' | 'stderr') =>
  seen.filter(([, s]) => s === stream).map(([l]) => l);

async function codeOf(p: Promise<unknown>): Promise<CujuErrorCode | 'resolved'> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    if (err instanceof CujuError) return err.code;
    throw err;
  }
}

async function rejection(p: Promise<unknown>): Promise<CujuError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CujuError)) throw new Error(`expected a CujuError, got ${String(err)}`);
  return err;
}

/** Every way an error can be shown: its message, util.inspect (deep, hidden too), JSON, its copies. */
function shownForms(err: CujuError): string[] {
  const copies = err instanceof HostCommandError ? [err.argv.join(' '), err.stderr] : [];
  return [err.message, inspect(err, { depth: Infinity, showHidden: true }), JSON.stringify(err), ...copies];
}

/** A Unix socket server at `path` that greets and counts its connections; close it when done. */
function listenAt(path: string): Promise<{ server: Server; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.end(`hello from ${path}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve({ server, connections: () => count }));
  });
}

export function hostContract(setup: (options?: ContractHostOptions) => Promise<ContractSetup>): void {
  describe('connectMonitor and Unix socket paths', () => {
    it('connects to a socket path of 107 bytes, and refuses 108 naming the path and nothing is tried', async () => {
      const { host, dir } = await setup();
      const longest = join(dir, 'm'.repeat(107 - dir.length - 1));
      expect(Buffer.byteLength(longest)).toBe(107);
      const listener = await listenAt(longest);
      try {
        const socket = await host.connectMonitor(longest);
        expect(await readUntil(socket, '\n')).toBe(`hello from ${longest}\n`);
        socket.destroy();
        const refused = await rejection(host.connectMonitor(`${longest}x`));
        expect(refused).toBeInstanceOf(CujuArgumentError);
        expect((refused as CujuArgumentError).field).toBe('path');
        expect(refused.message).toBe(
          'path must be at most 107 bytes (a Unix socket path: sun_path holds 108 with its terminating NUL), got 108 bytes',
        );
        // Multi-byte characters count as the kernel counts them: in bytes.
        const wide = join(dir, 'é'.repeat(Math.ceil((108 - dir.length) / 2)));
        expect(await codeOf(host.connectMonitor(wide))).toBe('CUJU_INVALID_ARGUMENT');
        expect(listener.connections()).toBe(1);
      } finally {
        listener.server.close();
      }
    });

    it('refuses a NUL in a socket path: the kernel would connect to the part before it', async () => {
      const { host, dir } = await setup();
      const prefix = join(dir, 'a');
      const listener = await listenAt(prefix);
      try {
        for (const path of [`${prefix}\0/vm1.monitor`, `\0${prefix}`, `${prefix}\n`, '']) {
          const refused = await rejection(host.connectMonitor(path));
          expect(refused).toBeInstanceOf(CujuArgumentError);
          expect((refused as CujuArgumentError).field).toBe('path');
        }
        expect(listener.connections()).toBe(0);
      } finally {
        listener.server.close();
      }
    });
  });

  describe('secrets', () => {
    it('keeps the secrets it was given, and URL credentials, out of its errors', async () => {
      const token = `tok-${randomBytes(8).toString('hex')}`;
      const { host } = await setup({ redact: [token, /pw-[0-9a-f]{8}/] });
      const url = 'https://cuju:hunter2@example.invalid/Cuju.git';
      // The command prints its arguments back on stderr, as failing tools often do.
      const failed = await rejection(
        host.run(['sh', '-c', 'echo "cannot use $*" >&2; exit 3', 'sh', token, url, 'pw-0badcafe'], {
          check: true,
        }),
      );
      expect(failed).toBeInstanceOf(HostCommandError);
      for (const shown of shownForms(failed)) {
        for (const secret of [token, 'hunter2', 'pw-0badcafe']) expect(shown).not.toContain(secret);
      }
      // What is not secret stays, so that the error still says what happened.
      const command = failed as HostCommandError;
      expect(command.argv).toEqual([
        'sh',
        '-c',
        'echo "cannot use $*" >&2; exit 3',
        'sh',
        '<redacted>',
        'https://cuju:<redacted>@example.invalid/Cuju.git',
        '<redacted>',
      ]);
      expect(command.stderr).toBe(
        'cannot use <redacted> https://cuju:<redacted>@example.invalid/Cuju.git <redacted>\n',
      );
      expect(command.message).toContain('exited with 3: cannot use <redacted>');

      // A deadline's message names the command line too.
      const timedOut = await rejection(host.run(['sh', '-c', 'exec sleep 30', token], { timeoutMs: 300 }));
      expect(timedOut.code).toBe('HOST_TIMEOUT');
      for (const shown of shownForms(timedOut)) expect(shown).not.toContain(token);
      expect(timedOut.message).toContain('<redacted>');

      // The host redacts for code that reports what it ran (prepareHost), and shows no secret itself.
      expect(host.redact?.(`--token ${token} ${url}`)).toBe(
        '--token <redacted> https://cuju:<redacted>@example.invalid/Cuju.git',
      );
      expect(inspect(host, { depth: Infinity, showHidden: true })).not.toContain(token);
      expect(JSON.stringify(host)).not.toContain(token);
    });
  });

  describe('run with onLine', () => {
    it('delivers stdout and stderr lines in order, the last partial ones too; the result is unchanged', async () => {
      const { host } = await setup();
      const argv = [
        'sh',
        '-c',
        'echo a; echo b >&2; printf "c\\r\\nd"; sleep 0.05; echo e >&2; printf f >&2',
      ];
      const { seen, onLine } = recorder();
      const r = await host.run(argv, { onLine });
      expect(linesOf(seen, 'stdout')).toEqual(['a', 'c', 'd']);
      expect(linesOf(seen, 'stderr')).toEqual(['b', 'e', 'f']);
      expect(r).toEqual({ code: 0, stdout: 'a\nc\r\nd', stderr: 'b\ne\nf' });
      expect(await host.run(argv)).toEqual(r);
    });

    it('delivers a UTF-8 character split across writes whole', async () => {
      const { host } = await setup();
      const { seen, onLine } = recorder();
      const script =
        "printf '\\303'; sleep 0.1; printf '\\251\\n'; printf '\\303' >&2; sleep 0.1; printf '\\251' >&2";
      const r = await host.run(['sh', '-c', script], { onLine });
      expect(seen.sort()).toEqual([
        ['é', 'stderr'],
        ['é', 'stdout'],
      ]);
      expect(r).toMatchObject({ stdout: 'é\n', stderr: 'é' });
    });

    it('keeps going when the listener throws or rejects', async () => {
      const { host } = await setup();
      const given: string[] = [];
      const r = await host.run(['sh', '-c', 'echo 1; echo 2; echo 3 >&2'], {
        onLine: (line) => {
          given.push(line);
          throw new Error(`listener failed on ${line}`);
        },
      });
      expect(r).toEqual({ code: 0, stdout: '1\n2\n', stderr: '3\n' });
      expect(given.sort()).toEqual(['1', '2', '3']);
      const rejected = await host.run(['echo', 'x'], {
        onLine: async () => {
          throw new Error('rejected');
        },
      });
      expect(rejected.stdout).toBe('x\n');
    });

    it('works with cwd, and delivers the lines before a timeout rejects', async () => {
      const { host, dir } = await setup();
      const { seen, onLine } = recorder();
      const err = await rejection(
        host.run(['sh', '-c', 'pwd; printf started; exec sleep 30'], { cwd: dir, timeoutMs: 500, onLine }),
      );
      expect(err.code).toBe('HOST_TIMEOUT');
      expect(seen).toEqual([
        [dir, 'stdout'],
        ['started', 'stdout'],
      ]);
    });
  });

  describe('writeFile', () => {
    const cat = async (host: Host, path: string) => (await host.run(['cat', path], { check: true })).stdout;
    const modeOf = async (host: Host, path: string) =>
      (await host.run(['stat', '-c', '%a', path], { check: true })).stdout.trim();

    it('writes text (0644 by default), any bytes, NUL included, and an empty file', async () => {
      const { host, dir } = await setup();
      await host.writeFile(join(dir, 'a.txt'), 'héllo\nwörld');
      expect(await cat(host, join(dir, 'a.txt'))).toBe('héllo\nwörld');
      expect(await modeOf(host, join(dir, 'a.txt'))).toBe('644');

      const bytes = Buffer.concat([
        Buffer.from([0, 0, 0]),
        Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        Buffer.from([0]),
      ]);
      await host.writeFile(join(dir, 'bin'), bytes);
      const b64 = (await host.run(['base64', '-w0', join(dir, 'bin')], { check: true })).stdout;
      expect(Buffer.from(b64, 'base64').equals(bytes)).toBe(true);
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 2, 100);
      await host.writeFile(join(dir, 'view'), view);
      expect(readFileSync(join(dir, 'view')).equals(Buffer.from(view))).toBe(true);

      await host.writeFile(join(dir, 'empty'), '');
      expect(readFileSync(join(dir, 'empty'))).toHaveLength(0);
      expect(readdirSync(dir).sort()).toEqual(['a.txt', 'bin', 'empty', 'view']); // no temporary file
    });

    it('applies the mode exactly, and replaces an existing file with a new one entirely', async () => {
      const { host, dir } = await setup();
      const path = join(dir, 'conf');
      await host.writeFile(path, 'a long first version\n'.repeat(100), { mode: 0o600 });
      expect(await modeOf(host, path)).toBe('600');
      const inode = (await host.run(['stat', '-c', '%i', path])).stdout;
      await host.writeFile(path, '#!/bin/sh\necho hi\n', { mode: 0o775 });
      expect(await cat(host, path)).toBe('#!/bin/sh\necho hi\n');
      expect(await modeOf(host, path)).toBe('775');
      expect((await host.run([path])).stdout).toBe('hi\n');
      expect((await host.run(['stat', '-c', '%i', path])).stdout).not.toBe(inode); // renamed over
      expect(readdirSync(dir)).toEqual(['conf']);
    });

    it('round-trips 4 MB', async () => {
      const { host, dir } = await setup();
      const bytes = randomBytes(4 << 20);
      await host.writeFile(join(dir, 'big'), bytes);
      const sum = (await host.run(['sha256sum', join(dir, 'big')], { check: true })).stdout.split(' ')[0];
      expect(sum).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(readdirSync(dir)).toEqual(['big']);
    });

    it('fails naming the path when its directory is missing, or it is a directory', async () => {
      const { host, dir } = await setup();
      const path = join(dir, 'no/such/dir/f');
      // 4 MB that is never read: the write still ends cleanly.
      const err = await rejection(host.writeFile(path, randomBytes(4 << 20)));
      expect(err.code).toBe('HOST_COMMAND_FAILED');
      expect(err.message).toContain(path);
      expect(err.message).toMatch(/does not exist/);
      mkdirSync(join(dir, 'sub'));
      const isDir = await rejection(host.writeFile(join(dir, 'sub'), 'x'));
      expect(isDir.code).toBe('HOST_COMMAND_FAILED');
      expect(isDir.message).toMatch(/is a directory/);
      expect(readdirSync(dir)).toEqual(['sub']);
      expect(readdirSync(join(dir, 'sub'))).toEqual([]);
      expect((await host.run(['echo', 'still here'])).stdout).toBe('still here\n');
    });

    it('refuses bad paths, modes and contents before writing anything', async () => {
      const { host, dir } = await setup();
      for (const path of [`${dir}/a\ntouch ${dir}/pwned`, `${dir}/a\rb`, `${dir}/a\0b`, `${dir}/`, '']) {
        expect(await codeOf(host.writeFile(path, 'x'))).toBe('CUJU_INVALID_ARGUMENT');
      }
      for (const mode of [-1, 0o10000, 1.5, Number.NaN]) {
        expect(await codeOf(host.writeFile(join(dir, 'f'), 'x', { mode }))).toBe('CUJU_INVALID_ARGUMENT');
      }
      expect(await codeOf(host.writeFile(join(dir, 'f'), 42 as unknown as string))).toBe(
        'CUJU_INVALID_ARGUMENT',
      );
      expect(readdirSync(dir)).toEqual([]);
    });
  });
}
