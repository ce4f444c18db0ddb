/**
 * SshHost against a real OpenSSH sshd on loopback, started per test with fresh keys.
 * Every test leaves nothing behind: no sshd (listener or connection process), no VM,
 * no socket; afterEach checks.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { format, inspect } from 'node:util';
import fc from 'fast-check';
import { Client } from 'ssh2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CujuArgumentError,
  CujuError,
  type CujuErrorCode,
  FtPair,
  HostError,
  HostKeyError,
  SshHost,
  type SshHostOptions,
  type VmProcess,
  waitForLine,
} from '../src/index.js';
import { hostContract, recorder } from './helpers/host-contract.js';
import {
  alive,
  killQuietly,
  processesMentioning,
  readUntil,
  requireSshd,
  type Sshd,
  sleepers,
  startSshd,
} from './helpers/sshd.js';

const hasSshd = requireSshd();

const CUJU_SIM = join(import.meta.dirname, '../../cuju-sim/bin/cuju-sim.mjs');
const SIM = [process.execPath, CUJU_SIM];
const BANNER = "QEMU 2.8.0 monitor - type 'help' for more information"; // Cuju's VERSION (cuju-sim follows it)

const daemons: Sshd[] = [];
const hosts: SshHost[] = [];
const vms: VmProcess[] = [];
const sockets: Duplex[] = [];
const dirs: string[] = [];

// Cleans up everything, then fails the test if anything had been left behind.
afterEach(async () => {
  vi.restoreAllMocks();
  const leftovers: string[] = [];
  const settled = async (condition: () => boolean, what: string) => {
    if (!(await until(condition))) leftovers.push(what);
  };
  for (const s of sockets.splice(0)) s.destroy();
  // VMs first, through SSH while it is up; a VM outlives its connection, so fall back to
  // killing it from here (same machine) when its host has gone.
  for (const vm of vms.splice(0)) {
    if (vm.running) await vm.kill('SIGKILL').catch(() => killQuietly(vm.pid));
    await vm.exited.catch(() => killQuietly(vm.pid));
    await settled(() => !alive(vm.pid), `VM ${vm.pid}`);
    killQuietly(vm.pid);
  }
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  for (const d of daemons.splice(0)) {
    // Closing the client ends its connection process on the server: none may linger.
    await settled(() => d.children().length === 0, `sshd ${d.pid}'s connection processes ${d.children()}`);
    await d.stop();
    if (alive(d.pid) || existsSync(d.dir)) leftovers.push(`sshd ${d.pid} or ${d.dir}`);
  }
  for (const dir of dirs.splice(0)) {
    // No wrapper, follower (tail, its watcher) or command that was given the directory.
    await settled(() => processesMentioning(dir).length === 0, `processes using ${dir}`);
    for (const pid of processesMentioning(dir)) killQuietly(pid);
    rmSync(dir, { recursive: true, force: true });
  }
  expect(leftovers).toEqual([]);
});

/** Whether the condition came true within `ms`. */
async function until(condition: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Waits for the condition, or throws naming what did not happen. */
async function waitUntil(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  if (!(await until(condition, ms))) throw new Error(`timed out waiting for ${what}`);
}

async function sshd(): Promise<Sshd> {
  const d = await startSshd();
  daemons.push(d);
  return d;
}

function options(d: Sshd, extra: Partial<SshHostOptions> = {}): SshHostOptions {
  return {
    host: d.host,
    port: d.port,
    username: d.username,
    privateKey: d.userKey,
    hostKey: { knownHostsPath: d.knownHostsPath },
    ...extra,
  };
}

async function connect(d: Sshd, extra: Partial<SshHostOptions> = {}): Promise<SshHost> {
  const h = await SshHost.connect(options(d, extra));
  hosts.push(h);
  return h;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ssh-'));
  dirs.push(dir);
  return dir;
}

/** The typed error a promise rejects with (a HostError, or a CujuArgumentError for bad input). */
async function refusal(promise: Promise<unknown>): Promise<CujuError> {
  try {
    const value = await promise;
    if (value instanceof SshHost) hosts.push(value);
  } catch (err) {
    if (err instanceof CujuError) return err;
    throw err;
  }
  throw new Error('expected a CujuError, but the promise resolved');
}

async function codeOf(promise: Promise<unknown>): Promise<CujuErrorCode> {
  return (await refusal(promise)).code;
}

/** A process's command name (`sshd`, `sh`, ...), or '' once it has gone. */
function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** A process's process group id, or undefined once it has gone. */
function groupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 5 (pgrp) follows the ")" that ends the command name.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

function simArgs(dir: string): string[] {
  return [
    ...SIM,
    '-chardev',
    `socket,id=mon,path=${dir}/m.sock,server,nowait`,
    '-mon',
    'chardev=mon,mode=readline',
  ];
}

describe.runIf(hasSshd)('SshHost against a real sshd', () => {
  describe('secrets', () => {
    /** Every way an object can be shown: util.inspect (deep, hidden too), JSON.stringify, console.log's format. */
    const shownForms = (value: unknown) => [
      inspect(value, { depth: Infinity, showHidden: true }),
      JSON.stringify(value) ?? '',
      format(value),
      format('%o', value),
    ];

    /** A passphrase-protected key that the server accepts, and a line of its private half. */
    function lockedKey(d: Sshd): { privateKey: string; passphrase: string; keyLine: string } {
      const passphrase = `pass-${randomBytes(8).toString('hex')}`;
      const path = join(d.dir, 'lockedkey');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'locked', '-f', path]);
      appendFileSync(join(d.dir, 'authorized_keys'), readFileSync(`${path}.pub`));
      const privateKey = readFileSync(path, 'utf8');
      return { privateKey, passphrase, keyLine: privateKey.split('\n')[2]! };
    }

    it('shows neither the private key nor its passphrase: SshHost, its errors, an FtPair over it', async () => {
      const d = await sshd();
      const { privateKey, passphrase, keyLine } = lockedKey(d);
      expect(keyLine).toMatch(/^[A-Za-z0-9+/=]{60,}$/);
      const h = await connect(d, { privateKey, passphrase });
      expect((await h.run(['echo', 'ok'])).stdout).toBe('ok\n');
      for (const shown of shownForms(h)) {
        expect(shown).not.toContain(keyLine);
        expect(shown).not.toContain(passphrase);
      }
      expect(format(h)).toContain(h.name);

      // A pair over this host, with a QEMU secret on the VM's command line.
      const secretData = `data-${randomBytes(8).toString('hex')}`;
      const pair = new FtPair({
        build: 'master',
        primary: h,
        backup: h,
        vm: { monitorPath: '/tmp/vm1.monitor', extraArgs: ['-object', `secret,id=s0,data=${secretData}`] },
        binary: { path: '/usr/bin/qemu-system-x86_64' },
      });
      for (const shown of shownForms(pair)) {
        for (const secret of [keyLine, passphrase, secretData]) expect(shown).not.toContain(secret);
      }
      expect(format(pair)).toBe("FtPair { state: 'idle' }");

      // The connection's errors: a wrong passphrase, a key the server does not know.
      const wrong = await refusal(SshHost.connect(options(d, { privateKey, passphrase: 'wrong' })));
      expect(wrong).toBeInstanceOf(CujuArgumentError);
      expect((wrong as CujuArgumentError).field).toBe('privateKey');
      const stranger = await refusal(SshHost.connect(options(d, { privateKey: d.strangerKey })));
      expect(stranger.code).toBe('HOST_AUTH_FAILED');
      const strangerLine = d.strangerKey.split('\n')[2]!;
      for (const err of [wrong, stranger]) {
        for (const shown of shownForms(err)) {
          for (const secret of [keyLine, passphrase, strangerLine]) expect(shown).not.toContain(secret);
        }
      }
    });

    it('redacts its passphrase from errors, should a command print it', async () => {
      const d = await sshd();
      const { privateKey, passphrase } = lockedKey(d);
      const h = await connect(d, { privateKey, passphrase });
      const err = await refusal(h.run(['sh', '-c', 'echo "$0" >&2; exit 1', passphrase], { check: true }));
      expect(err.message).not.toContain(passphrase);
      expect(err.message).toContain('<redacted>');
    });

    it('refuses an ssh-agent socket path the kernel would read differently, before connecting', async () => {
      const d = await sshd();
      const connectSpy = vi.spyOn(Client.prototype, 'connect');
      for (const agent of [`/tmp/${'a'.repeat(103)}`, '/tmp/agent\0/x']) {
        const err = await refusal(SshHost.connect(options(d, { privateKey: undefined, agent })));
        expect(err).toBeInstanceOf(CujuArgumentError);
        expect((err as CujuArgumentError).field).toBe('agent');
      }
      expect(connectSpy).not.toHaveBeenCalled();
    });
  });

  describe('host key and authentication', () => {
    it('connects with a matching known_hosts line and reports the verified fingerprint', async () => {
      const d = await sshd();
      const h = await connect(d);
      expect(h.name).toBe(`ssh:${d.username}@${d.host}:${d.port}`);
      expect(h.address).toBe(d.host);
      expect(h.hostKeyFingerprint).toBe(d.hostFingerprint);
      expect(h.connected).toBe(true);
    });

    it('connects with the right pinned fingerprint', async () => {
      const d = await sshd();
      const h = await connect(d, { hostKey: { sha256: d.hostFingerprint } });
      expect((await h.run(['echo', 'ok'])).stdout).toBe('ok\n');
    });

    it('refuses a wrong pinned fingerprint before authenticating', async () => {
      const d = await sshd();
      const wrong = `SHA256:${'A'.repeat(43)}`;
      const err = await refusal(SshHost.connect(options(d, { hostKey: { sha256: wrong } })));
      expect(err).toBeInstanceOf(HostKeyError);
      expect(err.code).toBe('HOST_KEY_CHANGED');
      expect((err as HostKeyError).fingerprint).toBe(d.hostFingerprint);
      expect(err.message).toContain(wrong);
      // The server never saw an authentication attempt.
      await new Promise((r) => setTimeout(r, 100));
      expect(d.log()).not.toMatch(/Accepted|publickey|Failed/);
    });

    it('refuses a key other than the one in known_hosts (changed)', async () => {
      const d = await sshd();
      const other = readFileSync(join(d.dir, 'userkey.pub'), 'utf8').split(' ')[1];
      writeFileSync(d.knownHostsPath, `[${d.host}]:${d.port} ssh-ed25519 ${other}\n`);
      const err = await refusal(SshHost.connect(options(d)));
      expect(err.code).toBe('HOST_KEY_CHANGED');
      expect(err.message).toMatch(/someone may be intercepting/);
      expect(d.log()).not.toMatch(/Accepted/);
    });

    it('refuses a host that known_hosts does not name, or a missing known_hosts (unknown)', async () => {
      const d = await sshd();
      const blob = d.hostPublicKey.split(' ')[1];
      writeFileSync(
        d.knownHostsPath,
        `[${d.host}]:${d.port + 1} ssh-ed25519 ${blob}\n${d.host} ssh-ed25519 ${blob}\n`,
      );
      const err = await refusal(SshHost.connect(options(d)));
      expect(err.code).toBe('HOST_KEY_UNKNOWN');
      expect((err as HostKeyError).knownHostsLine).toBe(`[${d.host}]:${d.port} ssh-ed25519 ${blob}`);
      expect(err.message).toContain(d.hostFingerprint);
      const missing = await refusal(
        SshHost.connect(options(d, { hostKey: { knownHostsPath: join(d.dir, 'no-such-file') } })),
      );
      expect(missing.code).toBe('HOST_KEY_UNKNOWN');
      expect(missing.message).toMatch(/does not exist/);
    });

    it('accepts a hashed known_hosts entry', async () => {
      const d = await sshd();
      execFileSync('ssh-keygen', ['-H', '-f', d.knownHostsPath], { stdio: 'ignore' });
      expect(readFileSync(d.knownHostsPath, 'utf8')).toMatch(/^\|1\|/);
      await connect(d);
    });

    it('has no accept-any default: a missing hostKey is refused', async () => {
      const d = await sshd();
      const { hostKey: _, ...rest } = options(d);
      const err = await refusal(SshHost.connect(rest as unknown as SshHostOptions));
      expect(err.code).toBe('CUJU_INVALID_ARGUMENT');
      expect(err.message).toMatch(/no accept-any/);
    });

    it('reports a key that is not authorized as AUTH_FAILED', async () => {
      const d = await sshd();
      const err = await refusal(SshHost.connect(options(d, { privateKey: d.strangerKey })));
      expect(err.code).toBe('HOST_AUTH_FAILED');
      expect(err.message).toMatch(/authorized_keys/);
    });

    it('reports a closed port as CONNECT_FAILED', async () => {
      const d = await sshd();
      expect(await codeOf(SshHost.connect(options(d, { port: 1 })))).toBe('HOST_CONNECT_FAILED');
    });

    it('refuses injection in the connection fields before connecting', async () => {
      const d = await sshd();
      const connectSpy = vi.spyOn(Client.prototype, 'connect');
      expect(await codeOf(SshHost.connect(options(d, { username: 'root\nx' })))).toBe(
        'CUJU_INVALID_ARGUMENT',
      );
      expect(await codeOf(SshHost.connect(options(d, { host: '127.0.0.2 -oProxyCommand=x' })))).toBe(
        'CUJU_INVALID_ARGUMENT',
      );
      expect(
        await codeOf(SshHost.connect(options(d, { hostKey: { knownHostsPath: `${d.knownHostsPath}\0x` } }))),
      ).toBe('CUJU_INVALID_ARGUMENT');
      expect(await codeOf(SshHost.connect(options(d, { hostKey: { sha256: 'SHA256:short' } })))).toBe(
        'CUJU_INVALID_ARGUMENT',
      );
      expect(connectSpy).not.toHaveBeenCalled();
    });
  });

  describe('run', () => {
    it('passes every argv element verbatim: an injection attempt is printed, not run', async () => {
      const d = await sshd();
      const h = await connect(d);
      const dir = tempDir();
      const attempt = `a'; touch ${dir}/pwned; '`;
      const r = await h.run(['printf', '%s\n', attempt, `$(touch ${dir}/pwned2)`, `\`touch ${dir}/pwned3\``]);
      expect(r).toEqual({
        code: 0,
        stdout: `${attempt}\n$(touch ${dir}/pwned2)\n\`touch ${dir}/pwned3\`\n`,
        stderr: '',
      });
      for (const f of ['pwned', 'pwned2', 'pwned3']) expect(existsSync(join(dir, f))).toBe(false);
    });

    it('round-trips arbitrary strings through the login shell', async () => {
      const d = await sshd();
      const h = await connect(d);
      const text = fc.string({ unit: 'binary', minLength: 1 }).map((s) => s.replaceAll('\0', '') || 'x');
      const special = fc.constantFrom(
        "'",
        '"',
        '\\',
        '$(id)',
        '`id`',
        ';',
        '\n',
        ' ',
        '*',
        '~',
        '$HOME',
        '&&',
        '|',
      );
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(text, special), { minLength: 1, maxLength: 4 }), async (args) => {
          const r = await h.run(['printf', '%s\\0', ...args]);
          expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
        }),
        { numRuns: 25 },
      );
      // 25 SSH sessions, each through the user's login shell and its startup files: a
      // deadline for a loaded machine, not a speed requirement.
    }, 300_000);

    it('returns exit codes and signals, runs in cwd, checks on request', async () => {
      const d = await sshd();
      const h = await connect(d);
      expect(await h.run(['sh', '-c', 'echo e >&2; exit 4'])).toEqual({ code: 4, stdout: '', stderr: 'e\n' });
      expect(await h.run(['sh', '-c', 'kill -KILL $$'])).toMatchObject({ code: 137, signal: 'SIGKILL' });
      const dir = tempDir();
      expect((await h.run(['pwd'], { cwd: dir })).stdout).toBe(`${dir}\n`);
      expect(await codeOf(h.run(['pwd'], { cwd: join(dir, 'nope') }))).toBe('HOST_COMMAND_FAILED');
      expect(await codeOf(h.run(['false'], { check: true }))).toBe('HOST_COMMAND_FAILED');
    });

    it('names a missing binary, and a missing sudo', async () => {
      const d = await sshd();
      const h = await connect(d);
      const err = await refusal(h.run(['cuju-no-such-binary', '-x']));
      expect(err.code).toBe('HOST_BINARY_MISSING');
      expect(err.message).toContain("'cuju-no-such-binary' was not found");
      const absolute = await refusal(h.run(['/no/such/cuju']));
      expect(absolute.code).toBe('HOST_BINARY_MISSING');
      const hasSudo = (await h.run(['sh', '-c', 'command -v sudo'])).code === 0;
      if (!hasSudo) {
        const sudo = await refusal(h.run(['true'], { sudo: true }));
        expect(sudo.code).toBe('HOST_BINARY_MISSING');
        expect(sudo.message).toContain("'sudo' was not found");
      }
    });

    it('kills a remote command and its children at its timeout, and on abort', async () => {
      const d = await sshd();
      const h = await connect(d);
      // The command and its background child sleep for a duration no other test uses, so
      // that their processes can be found by it. run() settles once the remote session has
      // ended: whatever of them started by then must be gone, however early the deadline
      // or the abort came (before the remote shell even started, on a loaded machine).
      const [timedOut, aborted] = sleepers(2);
      const err = await refusal(h.run(['sh', '-c', timedOut!.script], { timeoutMs: 500 }));
      expect(err.code).toBe('HOST_TIMEOUT');
      await waitUntil(() => timedOut!.running().length === 0, 'the timed-out command and its child to end');

      const ac = new AbortController();
      const pending = h.run(['sh', '-c', aborted!.script], { signal: ac.signal });
      ac.abort();
      expect(await codeOf(pending)).toBe('HOST_ABORTED');
      await waitUntil(() => aborted!.running().length === 0, 'the aborted command and its child to end');
    });

    it("finds its pid after a chatty login shell's output, keeps that output out of the result, still kills", async () => {
      // A ~/.bashrc that prints, as a motd or a version manager's warning does.
      const d = await startSshd({ homeFiles: { '.bashrc': 'echo "welcome to the lab" >&2\n' } });
      daemons.push(d);
      const h = await connect(d);
      expect(await h.run(['sh', '-c', 'echo out; echo err >&2'])).toEqual({
        code: 0,
        stdout: 'out\n',
        stderr: 'err\n',
      });
      const dir = tempDir();
      const ac = new AbortController();
      const pidFile = join(dir, 'abort.pid');
      const running = h.run(
        [
          'sh',
          '-c',
          'echo $$ > "$0/abort.pid.tmp"; mv "$0/abort.pid.tmp" "$0/abort.pid"; exec sleep 30',
          dir,
        ],
        { signal: ac.signal },
      );
      await waitUntil(() => existsSync(pidFile), 'the remote shell to write its pid', 30_000);
      ac.abort();
      expect(await codeOf(running)).toBe('HOST_ABORTED');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      await waitUntil(() => !alive(pid), `remote process ${pid} to end`, 30_000);
    });

    it('refuses NUL bytes and line breaks in every string field with nothing sent', async () => {
      const d = await sshd();
      const h = await connect(d);
      const dir = tempDir();
      const exec = vi.spyOn(Client.prototype, 'exec');
      const forward = vi.spyOn(Client.prototype, 'openssh_forwardOutStreamLocal');
      const refused: Array<Promise<unknown>> = [
        h.run(['printf', 'a\0b']),
        h.run(['a\0; touch /tmp/x']),
        h.run([]),
        h.run(['true'], { cwd: `${dir}\ntouch ${dir}/pwned` }),
        h.spawnVm(['true'], { logPath: `${dir}/log\ntouch ${dir}/pwned` }),
        h.spawnVm(['true'], { logPath: `${dir}/log\0x` }),
        h.spawnVm(['tr\0ue'], { logPath: `${dir}/log` }),
        h.spawnVm(['true'], { logPath: `${dir}/log`, cwd: `${dir}\r` }),
        h.connectMonitor(`${dir}/m.sock\nx`),
        h.connectMonitor(`${dir}/m.sock\0`),
        h.connectMonitor(''),
      ];
      for (const p of refused) expect(await codeOf(p)).toBe('CUJU_INVALID_ARGUMENT');
      expect(exec).not.toHaveBeenCalled();
      expect(forward).not.toHaveBeenCalled();
      expect(existsSync(join(dir, 'pwned'))).toBe(false);
    });
  });

  describe('what every host does', () => {
    hostContract(async (hostOptions) => {
      const d = await sshd();
      return { host: await connect(d, hostOptions), dir: tempDir() };
    });
  });

  describe('run with onLine', () => {
    it("never delivers the pid marker, only the command's own lines", async () => {
      const d = await sshd();
      const h = await connect(d);
      // Only the marker is held back: the command's own first stderr line, even one that
      // looks like it, is delivered; and a command with no stderr delivers none.
      const own = recorder();
      expect(await h.run(['sh', '-c', 'echo cuju-pid:42 >&2'], { onLine: own.onLine })).toEqual({
        code: 0,
        stdout: '',
        stderr: 'cuju-pid:42\n',
      });
      expect(own.seen).toEqual([['cuju-pid:42', 'stderr']]);
      const quiet = recorder();
      await h.run(['true'], { onLine: quiet.onLine });
      expect(quiet.seen).toEqual([]);
      const lines = recorder();
      await h.run(['sh', '-c', 'echo out; echo err >&2'], { onLine: lines.onLine });
      expect(lines.seen.sort()).toEqual([
        ['err', 'stderr'],
        ['out', 'stdout'],
      ]);
    });
  });

  describe('writeFile', () => {
    it("takes a relative path from the login user's home", async () => {
      const d = await sshd();
      const h = await connect(d);
      // sshd starts the session in the login user's home directory (the test sshd gives
      // the session another $HOME, to keep this machine's dotfiles out of it).
      const home = (await h.run(['pwd'])).stdout.trim();
      const name = `cuju-write-test-${process.pid}`;
      try {
        await h.writeFile(name, 'in home');
        expect(readFileSync(join(home, name), 'utf8')).toBe('in home');
      } finally {
        rmSync(join(home, name), { force: true });
      }
    });

    it('refuses bad paths, modes and contents with nothing sent', async () => {
      const d = await sshd();
      const h = await connect(d);
      const dir = tempDir();
      const exec = vi.spyOn(Client.prototype, 'exec');
      for (const path of [`${dir}/a\ntouch ${dir}/pwned`, `${dir}/a\rb`, `${dir}/a\0b`, `${dir}/`, '']) {
        expect(await codeOf(h.writeFile(path, 'x'))).toBe('CUJU_INVALID_ARGUMENT');
      }
      for (const mode of [-1, 0o10000, 1.5]) {
        expect(await codeOf(h.writeFile(join(dir, 'f'), 'x', { mode }))).toBe('CUJU_INVALID_ARGUMENT');
      }
      expect(await codeOf(h.writeFile(join(dir, 'f'), 42 as unknown as string))).toBe(
        'CUJU_INVALID_ARGUMENT',
      );
      expect(exec).not.toHaveBeenCalled();
      expect(readdirSync(dir)).toEqual([]);
    });

    it('names a missing sudo', async () => {
      const d = await sshd();
      const h = await connect(d);
      const hasSudo = (await h.run(['sh', '-c', 'command -v sudo'])).code === 0;
      const dir = tempDir();
      const done = await h.writeFile(join(dir, 'f'), 'x', { sudo: true }).catch((err: unknown) => err);
      if (!hasSudo) {
        expect(done).toBeInstanceOf(HostError);
        expect((done as HostError).code).toBe('HOST_BINARY_MISSING');
        expect((done as HostError).message).toContain("'sudo' was not found");
        expect(readdirSync(dir)).toEqual([]);
      } else if (done instanceof HostError) expect(done.code).toBe('HOST_SUDO_DENIED');
      else expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('x');
    });

    it('reports a closed connection as DISCONNECTED', async () => {
      const d = await sshd();
      const h = await connect(d);
      await h.close();
      expect(await codeOf(h.writeFile(join(tempDir(), 'f'), 'x'))).toBe('HOST_DISCONNECTED');
    });

    it('reports a connection lost mid-transfer, and never puts the part that arrived in place', async () => {
      const d = await sshd();
      const h = await connect(d);
      const dir = tempDir();
      const path = join(dir, 'big');
      const pending = h.writeFile(path, randomBytes(64 << 20));
      pending.catch(() => {});
      // Freeze the remote writer (the login shell, then the script and its cat: one process
      // group) before it can have read 64 MB, then cut the connection under it.
      let group: number | undefined;
      await waitUntil(() => {
        group = processesMentioning(path)
          .map(groupOf)
          .find((g) => g !== undefined);
        return group !== undefined;
      }, 'the remote writer to start');
      process.kill(-group!, 'SIGSTOP');
      try {
        for (const pid of d.children()) if (commOf(pid).startsWith('sshd')) killQuietly(pid);
        expect(await codeOf(pending)).toBe('HOST_DISCONNECTED');
      } finally {
        process.kill(-group!, 'SIGCONT');
      }
      // The script sees EOF before 64 MB: it removes its temporary file and exits.
      await waitUntil(() => processesMentioning(path).length === 0, 'the remote writer to end');
      expect(readdirSync(dir)).toEqual([]);
      await h.closed;
    });
  });

  describe('spawnVm and connectMonitor with cuju-sim', () => {
    it('follows a process that exits at once and reports its exit', async () => {
      const d = await sshd();
      const h = await connect(d);
      const dir = tempDir();
      const vm = await h.spawnVm([...SIM, '--help'], { logPath: join(dir, 'help.log') });
      vms.push(vm);
      const lines: string[] = [];
      vm.onLine((l) => lines.push(l));
      expect(await vm.exited).toMatchObject({ code: 0, signal: null, diedAt: expect.any(Number) });
      expect(lines[0]).toMatch(/^cuju-sim: a stand-in/);
      expect(lines.join('\n')).toBe(readFileSync(join(dir, 'help.log'), 'utf8').trimEnd());
      // Only the log stays: the wrapper's pid and exit files are removed once read.
      expect(existsSync(join(dir, 'help.log.pid')) || existsSync(join(dir, 'help.log.exit'))).toBe(false);
    });

    it('starts a VM detached, follows its log, reaches its monitor over stream-local forwarding', async () => {
      const d = await sshd();
      const h = await connect(d);
      const dir = tempDir();
      writeFileSync(join(dir, 'vm.log'), 'an earlier run\n');
      const vm = await h.spawnVm(simArgs(dir), { logPath: 'vm.log', cwd: dir });
      vms.push(vm);
      expect(vm.logPath).toBe(join(dir, 'vm.log'));
      expect(vm.running).toBe(true);
      expect(await waitForLine(vm, 'VM init finished', { timeoutMs: 20_000 })).toBe('VM init finished');

      const mon = await h.connectMonitor(join(dir, 'm.sock'));
      sockets.push(mon);
      expect(await readUntil(mon, '(qemu) ')).toContain(BANNER);
      mon.write('info status\n');
      expect(await readUntil(mon, 'VM status')).toMatch(/VM status: running/);
      mon.destroy();

      await vm.kill('SIGTERM');
      expect(await vm.exited).toMatchObject({ code: 0, signal: null, diedAt: expect.any(Number) });
      const lines: string[] = [];
      vm.onLine((l) => lines.push(l));
      expect(lines).toEqual(['VM init finished', 'qemu-system-x86_64: terminating on signal 15']);
      expect(existsSync(join(dir, 'm.sock'))).toBe(false);
    });

    it('reports death by SIGKILL as a signal', async () => {
      const d = await sshd();
      const h = await connect(d);
      const vm = await h.spawnVm(simArgs(tempDir()), { logPath: join(tempDir(), 'vm.log') });
      vms.push(vm);
      await waitForLine(vm, 'VM init finished', { timeoutMs: 20_000 });
      await vm.kill('SIGKILL');
      expect(await vm.exited).toMatchObject({ code: null, signal: 'SIGKILL', diedAt: expect.any(Number) });
    });

    it('keeps the VM running when the connection closes; a new connection can stop it', async () => {
      const d = await sshd();
      const h = await connect(d);
      const dir = tempDir();
      const vm = await h.spawnVm(simArgs(dir), { logPath: join(dir, 'vm.log') });
      vms.push(vm);
      await waitForLine(vm, 'VM init finished', { timeoutMs: 20_000 });
      await h.close();
      expect(h.connected).toBe(false);
      // The follower (tail and its watcher) ends with the connection; the VM does not.
      await waitUntil(() => processesMentioning(`${dir}/vm.log`).length === 1, 'only the wrapper to remain');
      const err = await refusal(vm.exited);
      expect(err.code).toBe('HOST_DISCONNECTED');
      expect(vm.running).toBe(false);
      expect(await codeOf(h.run(['true']))).toBe('HOST_DISCONNECTED');
      expect(alive(vm.pid)).toBe(true);

      const again = await connect(d);
      const mon = await again.connectMonitor(join(dir, 'm.sock'));
      sockets.push(mon);
      expect(await readUntil(mon, '(qemu) ')).toContain(BANNER);
      mon.destroy();
      await again.run(['kill', '-KILL', String(vm.pid)], { check: true });
      await waitUntil(() => !alive(vm.pid), 'the VM to end');
    });

    it('reports a lost connection to run and to VM handles', async () => {
      const d = await sshd();
      const h = await connect(d, { keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
      const dir = tempDir();
      const vm = await h.spawnVm(simArgs(dir), { logPath: join(dir, 'vm.log') });
      vms.push(vm);
      await waitForLine(vm, 'VM init finished', { timeoutMs: 20_000 });
      const pending = h.run(['sleep', '30']);
      for (const pid of d.children()) killQuietly(pid); // the server side of the connection dies
      expect(await codeOf(pending)).toBe('HOST_DISCONNECTED');
      expect(await codeOf(vm.exited)).toBe('HOST_DISCONNECTED');
      await h.closed;
      expect(h.connected).toBe(false);
    });

    it('notices a server that stopped answering through keepalives', async () => {
      const d = await sshd();
      const h = await connect(d, { keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
      const pending = h.run(['sleep', '30']);
      await new Promise((r) => setTimeout(r, 200));
      const frozen = d.children();
      for (const pid of frozen) killQuietly(pid, 'SIGSTOP'); // alive, but silent
      const err = await refusal(pending);
      expect(err.code).toBe('HOST_DISCONNECTED');
      expect(h.connected).toBe(false);
      expect(String((err.cause as Error | undefined)?.message)).toMatch(/Keepalive/i);
      for (const pid of frozen) killQuietly(pid, 'SIGKILL');
    });

    it('names a missing binary before starting anything', async () => {
      const d = await sshd();
      const h = await connect(d);
      const dir = tempDir();
      const err = await refusal(h.spawnVm(['cuju-no-such-binary'], { logPath: join(dir, 'vm.log') }));
      expect(err.code).toBe('HOST_BINARY_MISSING');
      expect(err.message).toContain("'cuju-no-such-binary'");
      expect(existsSync(join(dir, 'vm.log'))).toBe(false);
      expect(await codeOf(h.spawnVm(['true'], { logPath: join(dir, 'no/such/dir/vm.log') }))).toBe(
        'HOST_COMMAND_FAILED',
      );
    });

    it('reports a monitor socket that is not there as CONNECT_FAILED', async () => {
      const d = await sshd();
      const h = await connect(d);
      const err = await refusal(h.connectMonitor(join(tempDir(), 'nothing.sock')));
      expect(err.code).toBe('HOST_CONNECT_FAILED');
      expect(h.connected).toBe(true);
    });
  });
});
