import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LineSplitter, waitForLine } from '../src/hosts/follow.js';
import type { VmProcess } from '../src/hosts/host.js';
import {
  checkKnownHosts,
  normalizeFingerprint,
  parseKnownHosts,
  patternsMatch,
  preferredAlgorithms,
  sha256Fingerprint,
} from '../src/hosts/hostkey.js';
import { LocalHost } from '../src/hosts/local.js';
import { remoteCommand, shellJoin, shellQuote } from '../src/hosts/quote.js';
import { WRITE_FILE } from '../src/hosts/remote-scripts.js';
import { CujuArgumentError, CujuError, type CujuErrorCode, HostError } from '../src/index.js';
import { hostContract } from './helpers/host-contract.js';
import { alive, killQuietly, processesMentioning, readUntil, sleepers } from './helpers/sshd.js';

/** Whether sudo is installed: each sudo test checks the behaviour for that answer. */
const hasSudo = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v sudo'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const CUJU_SIM = join(import.meta.dirname, '../../cuju-sim/bin/cuju-sim.mjs');
const SIM = [process.execPath, CUJU_SIM];
/** cuju-sim with a readline monitor on DIR/m.sock (without a monitor it would exit at once). */
function simArgs(dir: string): string[] {
  return [
    ...SIM,
    '-chardev',
    `socket,id=mon,path=${dir}/m.sock,server,nowait`,
    '-mon',
    'chardev=mon,mode=readline',
  ];
}

const BANNER = "QEMU 2.8.0 monitor - type 'help' for more information"; // Cuju's VERSION (cuju-sim follows it)

const dirs: string[] = [];
const vms: VmProcess[] = [];
const sockets: Duplex[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-hosts-'));
  dirs.push(dir);
  return dir;
}

// Cleans up everything, then fails the test if anything had been left behind.
afterEach(async () => {
  const leftovers: string[] = [];
  for (const s of sockets.splice(0)) s.destroy();
  for (const vm of vms.splice(0)) {
    if (vm.running) await vm.kill('SIGKILL').catch(() => killQuietly(vm.pid));
    await vm.exited.catch(() => {});
    if (alive(vm.pid)) leftovers.push(`VM ${vm.pid}`);
    killQuietly(vm.pid);
  }
  for (const dir of dirs.splice(0)) {
    for (const pid of processesMentioning(dir)) {
      leftovers.push(`process ${pid} using ${dir}`);
      killQuietly(pid);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  expect(leftovers).toEqual([]);
});

async function codeOf(promise: Promise<unknown>): Promise<CujuErrorCode> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CujuError) return err.code;
    throw err;
  }
  throw new Error('expected a CujuError, but the promise resolved');
}

function rejection(promise: Promise<unknown>): Promise<CujuError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => {
      if (!(err instanceof CujuError)) throw err;
      return err;
    },
  );
}

/** Strings the shell would love to interpret, mixed into arbitrary text. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary' }).map((s) => s.replaceAll('\0', '')),
  fc.constantFrom(
    "'",
    '"',
    '\\',
    '$(id)',
    '`id`',
    '; rm -rf /tmp/x',
    '\n',
    ' ',
    '*',
    '~',
    '$HOME',
    "'\\''",
    '-n',
    '!',
  ),
  fc
    .array(
      fc.constantFrom("'", '"', '\\', '$', '`', ';', '\n', ' ', '&', '|', '>', '<', '(', ')', 'a', 'é', '\t'),
    )
    .map((a) => a.join('')),
);

function shellArgs(shell: string, command: string): string[] {
  const out = execFileSync(shell, ['-c', command], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('shell quoting', () => {
  it('quotes single quotes the POSIX way', () => {
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
    expect(shellJoin(['a b', '$x'])).toBe("'a b' '$x'");
  });

  it.each(['sh', 'bash'])('every string round-trips through %s -c as one argument', (shell) => {
    fc.assert(
      fc.property(fc.array(nasty, { minLength: 1, maxLength: 5 }), (args) => {
        expect(shellArgs(shell, `printf '%s\\0' ${shellJoin(args)}`)).toEqual(args);
      }),
      { numRuns: 150 },
    );
  });

  it('builds the SSH command with exec, sudo -n and cwd, every caller string quoted', () => {
    expect(remoteCommand(['cuju', "a'b"], { sudo: true, cwd: '/x y' })).toBe(
      "cd -- '/x y' && exec sudo -n -- 'cuju' 'a'\\''b' </dev/null",
    );
    fc.assert(
      fc.property(fc.array(nasty, { minLength: 1, maxLength: 4 }), (args) => {
        expect(shellArgs('sh', remoteCommand(['printf', '%s\\0', ...args]))).toEqual(args);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses NUL bytes, empty argv and line breaks in paths', () => {
    expect(() => shellQuote('a\0b')).toThrow(CujuArgumentError);
    expect(() => remoteCommand([])).toThrow(/non-empty/);
    expect(() => remoteCommand(['ls'], { cwd: '/tmp\nrm -rf /' })).toThrow(/line break/);
  });
});

describe('host keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-hostkey-'));
  const keyPath = join(dir, 'k');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
  const pub = readFileSync(`${keyPath}.pub`, 'utf8').trim();
  const [type, b64] = pub.split(' ') as [string, string];
  const blob = Buffer.from(b64, 'base64');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${keyPath}2`]);
  const other = readFileSync(`${keyPath}2.pub`, 'utf8').trim().split(' ')[1]!;
  const keygenFingerprint = execFileSync('ssh-keygen', ['-lf', `${keyPath}.pub`], { encoding: 'utf8' }).split(
    ' ',
  )[1];
  rmSync(dir, { recursive: true, force: true });

  it('computes the fingerprint ssh-keygen -lf prints', () => {
    expect(sha256Fingerprint(blob)).toBe(keygenFingerprint);
    expect(normalizeFingerprint(`${keygenFingerprint}=`)).toBe(keygenFingerprint);
    expect(normalizeFingerprint('MD5:aa:bb')).toBeUndefined();
  });

  it('matches plain, [host]:port, wildcard, negated and hashed names', () => {
    expect(patternsMatch('a.example,10.0.0.2', '10.0.0.2')).toBe(true);
    expect(patternsMatch('[10.0.0.2]:2222', '[10.0.0.2]:2222')).toBe(true);
    expect(patternsMatch('10.0.0.2', '[10.0.0.2]:2222')).toBe(false);
    expect(patternsMatch('*.example', 'vm.EXAMPLE'.toLowerCase())).toBe(true);
    expect(patternsMatch('*.example,!bad.example', 'bad.example')).toBe(false);
    const hashedFile = join(tempDir(), 'known_hosts');
    writeFileSync(hashedFile, `[127.0.0.2]:2222 ${type} ${b64}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', hashedFile], { stdio: 'ignore' });
    const hashed = readFileSync(hashedFile, 'utf8');
    expect(hashed.startsWith('|1|')).toBe(true);
    const entries = parseKnownHosts(hashed);
    expect(checkKnownHosts(entries, '127.0.0.2', 2222, blob)).toBe('match');
    expect(checkKnownHosts(entries, '127.0.0.2', 2223, blob)).toBe('unknown');
  });

  it('tells a match from a changed, an unknown and a revoked key', () => {
    const text = `# comment\n[h]:2222 ${type} ${other}\nh ${type} ${b64}\n`;
    const entries = parseKnownHosts(text);
    expect(checkKnownHosts(entries, 'h', 22, blob)).toBe('match');
    expect(checkKnownHosts(entries, 'h', 2222, blob)).toBe('changed');
    expect(checkKnownHosts(entries, 'elsewhere', 22, blob)).toBe('unknown');
    expect(checkKnownHosts(parseKnownHosts(`${text}@revoked * ${type} ${b64}\n`), 'h', 22, blob)).toBe(
      'revoked',
    );
    expect(preferredAlgorithms(entries, 'h', 22)).toEqual(['ssh-ed25519']);
    expect(preferredAlgorithms(parseKnownHosts('h ssh-rsa AAAA\n'), 'h', 22)).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
  });
});

describe('LineSplitter', () => {
  it('holds back partial lines and split UTF-8 characters, and takes CRLF as one break', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('héllo\r\nwor', 'utf8');
    s.push(bytes.subarray(0, 2)); // ends inside "é"
    s.push(bytes.subarray(2));
    expect(lines).toEqual(['héllo']);
    s.push('ld\n\nlast');
    expect(lines).toEqual(['héllo', 'world', '']);
    s.end();
    expect(lines).toEqual(['héllo', 'world', '', 'last']);
  });

  it('splits a stream cut at every possible byte the same as the whole', () => {
    const text = 'a\r\nbé\n\n€ 𝄞 z\r\n\nlast€';
    const whole = text.split('\n').map((l) => l.replace(/\r$/, ''));
    const bytes = Buffer.from(text, 'utf8');
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 8 }), (cuts) => {
        const lines: string[] = [];
        const s = new LineSplitter((l) => lines.push(l));
        let from = 0;
        for (const at of [...cuts].sort((a, b) => a - b)) {
          s.push(bytes.subarray(from, at));
          from = at;
        }
        s.push(bytes.subarray(from));
        s.end();
        expect(lines).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });
});

describe('LocalHost (what every host does)', () => {
  hostContract(async (hostOptions) => ({ host: new LocalHost(hostOptions), dir: tempDir() }));
});

describe('LocalHost options', () => {
  it('refuses a redact option that is not a list of non-empty strings and RegExps that match something', () => {
    for (const [redact, field] of [
      [[''], 'redact[0]'],
      [['ok', /x*/], 'redact[1]'],
      [[42], 'redact[0]'],
      ['secret', 'redact'],
    ] as const) {
      const refused = (() => {
        try {
          new LocalHost({ redact: redact as unknown as string[] });
        } catch (err) {
          return err;
        }
      })();
      expect(refused).toBeInstanceOf(CujuArgumentError);
      expect((refused as CujuArgumentError).field).toBe(field);
    }
    expect(new LocalHost({ redact: ['s3cret', /tok-\d+/] }).redact('s3cret tok-42 plain')).toBe(
      '<redacted> <redacted> plain',
    );
  });
});

describe('LocalHost.writeFile', () => {
  const host = new LocalHost();

  // One test, never skipped: which branch runs depends on whether sudo is installed.
  it(`with sudo: ${hasSudo ? 'writes through sudo -n, or reports SUDO_DENIED' : 'says clearly that sudo itself is missing'}`, async () => {
    const dir = tempDir();
    if (!hasSudo) {
      const err = await rejection(host.writeFile(join(dir, 'f'), 'x', { sudo: true }));
      expect(err.code).toBe('HOST_BINARY_MISSING');
      expect(err.message).toMatch(/'sudo' was not found/);
      expect(readdirSync(dir)).toEqual([]);
      return;
    }
    const done = await host.writeFile(join(dir, 'f'), 'x', { sudo: true }).catch((err: unknown) => err);
    if (done instanceof HostError) expect(done.code).toBe('HOST_SUDO_DENIED');
    else expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('x');
  });

  it('WRITE_FILE (its sudo and SSH path) never renames a transfer cut short into place', () => {
    const dir = tempDir();
    const path = join(dir, 'f');
    writeFileSync(path, 'old');
    const write = (input: string, size: number) =>
      execFileSync('sh', ['-c', WRITE_FILE, 'cuju-write', path, '640', String(size)], {
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    expect(() => write('0123', 10)).toThrow(/cut short \(4 of 10 bytes arrived\)/);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['f']);
    write('0123456789', 10);
    expect(readFileSync(path, 'utf8')).toBe('0123456789');
    expect(readdirSync(dir)).toEqual(['f']);
  });
});

describe('LocalHost.run', () => {
  const host = new LocalHost();

  it('passes every argv element verbatim: an injection attempt is printed, not run', async () => {
    const dir = tempDir();
    const attempts = [
      `a'; touch ${dir}/pwned1; '`,
      `$(touch ${dir}/pwned2)`,
      `\`touch ${dir}/pwned3\``,
      `x\ntouch ${dir}/pwned4`,
    ];
    const r = await host.run(['printf', '%s\n', ...attempts]);
    expect(r).toMatchObject({ code: 0, stdout: `${attempts.join('\n')}\n`, stderr: '' });
    for (const n of [1, 2, 3, 4]) expect(existsSync(join(dir, `pwned${n}`))).toBe(false);
  });

  it('returns a non-zero exit, or rejects with COMMAND_FAILED when check is set', async () => {
    expect(await host.run(['sh', '-c', 'echo oops >&2; exit 3'])).toMatchObject({
      code: 3,
      stderr: 'oops\n',
    });
    const err = await rejection(host.run(['sh', '-c', 'echo oops >&2; exit 3'], { check: true }));
    expect(err.code).toBe('HOST_COMMAND_FAILED');
    expect(err.message).toMatch(/exited with 3: oops/);
  });

  it('reports a signal the shell way', async () => {
    expect(await host.run(['sh', '-c', 'kill -TERM $$'])).toMatchObject({ code: 143, signal: 'SIGTERM' });
  });

  it('names a missing binary', async () => {
    const err = await rejection(host.run(['cuju-no-such-binary', '--version']));
    expect(err.code).toBe('HOST_BINARY_MISSING');
    expect(err.message).toMatch(/'cuju-no-such-binary' was not found on PATH/);
  });

  it('runs in cwd, and refuses a cwd that is not a directory', async () => {
    const dir = tempDir();
    expect((await host.run(['pwd'], { cwd: dir })).stdout.trim()).toBe(dir);
    expect(await codeOf(host.run(['pwd'], { cwd: join(dir, 'nope') }))).toBe('HOST_COMMAND_FAILED');
  });

  it('refuses a NUL byte in an argument before running anything', async () => {
    expect(await codeOf(host.run(['printf', 'a\0b']))).toBe('CUJU_INVALID_ARGUMENT');
    expect(await codeOf(host.run([]))).toBe('CUJU_INVALID_ARGUMENT');
  });

  it('kills a command at its timeout, and what it started too', async () => {
    // run() settles once the command's output pipes have closed: by then the command and
    // the child it started (both sleeping for a duration no other test uses) are gone.
    const [sleeper] = sleepers(1);
    const err = await rejection(host.run(['sh', '-c', sleeper!.script], { timeoutMs: 300 }));
    expect(err.code).toBe('HOST_TIMEOUT');
    expect(sleeper!.running()).toEqual([]);
  });

  it('stops a command when its AbortSignal aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    expect(await codeOf(host.run(['sleep', '30'], { signal: ac.signal }))).toBe('HOST_ABORTED');
    expect(await codeOf(host.run(['sleep', '30'], { signal: AbortSignal.abort() }))).toBe('HOST_ABORTED');
  });

  // One test, never skipped: which branch runs depends on whether sudo is installed.
  it(`with sudo: ${hasSudo ? 'runs through sudo -n, or reports SUDO_DENIED' : 'says clearly that sudo itself is missing'}`, async () => {
    if (!hasSudo) {
      const err = await rejection(host.run(['true'], { sudo: true }));
      expect(err.code).toBe('HOST_BINARY_MISSING');
      expect(err.message).toMatch(/'sudo' was not found/);
      expect(await codeOf(host.spawnVm(['true'], { logPath: join(tempDir(), 'l'), sudo: true }))).toBe(
        'HOST_BINARY_MISSING',
      );
      return;
    }
    const r = await host.run(['id', '-u'], { sudo: true }).catch((err: unknown) => err);
    if (r instanceof HostError) expect(r.code).toBe('HOST_SUDO_DENIED');
    else expect(r).toMatchObject({ code: 0, stdout: '0\n' });
  });
});

describe('LocalHost.spawnVm with cuju-sim', () => {
  const host = new LocalHost();

  async function spawn(argv: string[], logPath: string): Promise<VmProcess> {
    const vm = await host.spawnVm(argv, { logPath });
    vms.push(vm);
    return vm;
  }

  it('follows a process that exits at once, every line delivered before exited', async () => {
    const log = join(tempDir(), 'help.log');
    const vm = await spawn([...SIM, '--help'], log);
    const lines: string[] = [];
    vm.onLine((l) => lines.push(l));
    expect(await vm.exited).toMatchObject({ code: 0, signal: null, diedAt: expect.any(Number) });
    expect(vm.running).toBe(false);
    expect(lines[0]).toMatch(/^cuju-sim: a stand-in for Cuju's qemu-system-x86_64/);
    expect(lines.join('\n')).toBe(readFileSync(log, 'utf8').trimEnd());
  });

  it('starts a VM detached, follows its log, reaches its monitor, and reports its end', async () => {
    const dir = tempDir();
    const sock = join(dir, 'm.sock');
    const vm = await spawn(simArgs(dir), join(dir, 'vm.log'));
    expect(vm.running).toBe(true);
    // Its own process group: a Ctrl-C for this process does not reach it.
    expect(Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(vm.pid)], { encoding: 'utf8' }))).toBe(
      vm.pid,
    );
    expect(await waitForLine(vm, 'VM init finished', { timeoutMs: 20_000 })).toBe('VM init finished');

    const mon = await host.connectMonitor(sock);
    sockets.push(mon);
    expect(await readUntil(mon, '(qemu) ')).toContain(BANNER);
    mon.destroy();

    await vm.kill('SIGTERM');
    expect(await vm.exited).toMatchObject({ code: 0, signal: null, diedAt: expect.any(Number) }); // QEMU exits 0 on SIGTERM
    const late: string[] = [];
    vm.onLine((l) => late.push(l)); // a late listener is given the history
    expect(late).toEqual(['VM init finished', 'qemu-system-x86_64: terminating on signal 15']);
    expect(existsSync(sock)).toBe(false);
  });

  it('reports death by SIGKILL as a signal', async () => {
    const dir = tempDir();
    const vm = await spawn(simArgs(dir), join(dir, 'vm.log'));
    await waitForLine(vm, 'VM init finished', { timeoutMs: 20_000 });
    await vm.kill('SIGKILL');
    expect(await vm.exited).toMatchObject({ code: null, signal: 'SIGKILL', diedAt: expect.any(Number) });
    await vm.kill('SIGKILL'); // a no-op once exited
  });

  it('appends to the log and delivers only the new lines, partial lines whole', async () => {
    const log = join(tempDir(), 'vm.log');
    writeFileSync(log, 'an earlier run\n');
    const vm = await spawn(
      ['sh', '-c', 'printf "a\\nb"; sleep 0.3; printf "c\\n"; printf "no newline"'],
      log,
    );
    const lines: string[] = [];
    vm.onLine((l) => lines.push(l));
    await vm.exited;
    expect(lines).toEqual(['a', 'bc', 'no newline']);
    expect(readFileSync(log, 'utf8')).toBe('an earlier run\na\nbc\nno newline');
  });

  it('refuses a missing binary and bad paths before starting anything', async () => {
    const dir = tempDir();
    const err = await rejection(host.spawnVm(['cuju-no-such-binary'], { logPath: join(dir, 'l') }));
    expect(err.code).toBe('HOST_BINARY_MISSING');
    expect(await codeOf(host.spawnVm(['true'], { logPath: `${dir}/l\nx` }))).toBe('CUJU_INVALID_ARGUMENT');
    expect(await codeOf(host.spawnVm(['true'], { logPath: `${dir}/l\0x` }))).toBe('CUJU_INVALID_ARGUMENT');
    expect(await codeOf(host.spawnVm(['true'], { logPath: join(dir, 'no/such/dir/l') }))).toBe(
      'HOST_COMMAND_FAILED',
    );
    expect(await codeOf(host.connectMonitor(`${dir}/m\n.sock`))).toBe('CUJU_INVALID_ARGUMENT');
    expect(await codeOf(host.connectMonitor(join(dir, 'nothing.sock')))).toBe('HOST_CONNECT_FAILED');
  });

  it('waitForLine gives up after its timeout', async () => {
    const dir = tempDir();
    const vm = await spawn(simArgs(dir), join(dir, 'vm.log'));
    const err = await rejection(waitForLine(vm, 'never', { timeoutMs: 300 }));
    expect(err.code).toBe('HOST_TIMEOUT');
    expect(err.message).toMatch(/within 300 ms/);
  });

  it('waitForLine rejects when the process exits first', async () => {
    const vm = await spawn(['sh', '-c', 'echo bye'], join(tempDir(), 'l'));
    await expect(waitForLine(vm, 'never', { timeoutMs: 5_000 })).rejects.toThrow(/exited \(code 0\) before/);
  });
});
