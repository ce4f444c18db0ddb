/**
 * `cuju` in real terminals and shells: the completion scripts sourced in a real bash
 * (the candidates `_cuju` offers) and in an interactive zsh in tmux (what Tab types);
 * the live display of `cuju ft up` and `cuju gft up` in a tmux pane; the interactive monitor shell on a
 * cuju-sim monitor in tmux (Tab completion from the build profile, history with Up,
 * the history file).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simBinary } from '@cuju/sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cuju, cujuBinDir, freePort, processesMentioning, requirePeer, start, tempDir } from './helpers.js';

const hasTmux = requirePeer('tmux');
const hasZsh = requirePeer('zsh');
let dir: string;
let cleanup: () => void;
let bin: string;
const sessions: string[] = [];

beforeAll(() => {
  ({ dir, cleanup } = tempDir('cuju-cli-term-'));
  bin = cujuBinDir(dir);
});
afterAll(() => {
  for (const s of sessions) {
    try {
      execFileSync('tmux', ['kill-session', '-t', s], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  for (const line of processesMentioning(dir)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  cleanup();
});

/** Candidates bash's `_cuju` offers for a command line whose last word is being completed. */
function bashComplete(words: string[]): string[] {
  const script = `source <(cuju completion bash)
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_cuju; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', script], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  return out.split('\n').filter(Boolean).sort();
}

describe('bash completion', () => {
  it('offers the commands, subcommands, options and choices of the command tree', () => {
    expect(bashComplete(['cuju', ''])).toEqual(['completion', 'ft', 'gft', 'monitor', 'sim']);
    expect(bashComplete(['cuju', 'ft', 't'])).toEqual(['test-failover', 'turn-off', 'turn-on']);
    expect(bashComplete(['cuju', 'ft', 'up', '--d'])).toEqual(['--dry-run']);
    expect(bashComplete(['cuju', 'ft', 'status', '--'])).toEqual(['--help', '--json', '--record']);
    expect(bashComplete(['cuju', 'completion', ''])).toEqual(['bash', 'zsh']);
    expect(bashComplete(['cuju', 'monitor', 'e'])).toEqual(['events']);
  });
});

/** A tmux session running `command` in `dir`, 200x50; the session's name. */
function tmux(name: string, command: string, env: Record<string, string> = {}): string {
  const session = `cuju-test-${process.pid}-${name}`;
  sessions.push(session);
  const exports = Object.entries({ PATH: `${bin}:${process.env.PATH}`, ...env })
    .map(([k, v]) => `export ${k}='${v}';`)
    .join(' ');
  execFileSync('tmux', [
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    '200',
    '-y',
    '50',
    '-c',
    dir,
    `${exports} ${command}`,
  ]);
  return session;
}

function keys(session: string, ...k: string[]): void {
  execFileSync('tmux', ['send-keys', '-t', session, ...k]);
}

function screen(session: string): string {
  return execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
}

/**
 * Waits until the pane shows what `match` accepts, at the program's own pace; a generous
 * bound (not a timing assertion) turns a wait that never ends into an error with the screen.
 */
async function until(session: string, match: (text: string) => boolean, what: string): Promise<string> {
  const giveUp = Date.now() + 90_000;
  for (;;) {
    const text = screen(session);
    if (match(text)) return text;
    if (Date.now() > giveUp) throw new Error(`never saw ${what}; the screen:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.runIf(hasTmux && hasZsh)('zsh completion in an interactive zsh', () => {
  it('Tab completes `cuju ft tu` to turn-o and lists turn-off, turn-on', async () => {
    writeFileSync(
      join(dir, '.zshrc'),
      'autoload -U compinit && compinit -u\nsource <(cuju completion zsh)\nPS1="zsh> "\n',
    );
    const s = tmux('zsh', 'zsh -i', { ZDOTDIR: dir });
    await until(s, (t) => t.includes('zsh>'), 'the zsh prompt');
    keys(s, 'cuju ft te', 'Tab');
    await until(s, (t) => t.includes('cuju ft test-failover'), 'Tab completing test-failover');
    keys(s, 'C-u', 'cuju ft tu', 'Tab', 'Tab');
    await until(s, (t) => t.includes('turn-off') && t.includes('turn-on'), 'the candidates');
  });
});

describe.runIf(hasTmux)('in a terminal', () => {
  it('cuju ft up shows its steps ticked off live, and the monitor shell completes and recalls', async () => {
    const port = await freePort();
    const monitor = join(dir, 'vm1.monitor');
    writeFileSync(
      join(dir, 'pair.yaml'),
      `build: master\nbinary: sim\nvm: { name: vm1, memory: 1G, monitorPath: ${monitor} }\nftPort: ${port}\n`,
    );
    const up = tmux('up', 'cuju ft up pair.yaml --record vm1.json; echo "exit=$?"; sleep 600');
    const shown = await until(up, (t) => /exit=\d+/.test(t), 'ft up to end');
    expect(shown).toContain('exit=0');
    for (const step of [
      'Launch the primary and the backup',
      'Turn FT on',
      'Synchronise (migrate -c) until protected',
    ]) {
      expect(shown).toMatch(new RegExp(`✔ ${step.replace(/[()]/g, '\\$&')}`));
    }
    expect(shown).toContain('state: protected');

    // The shell on a sim monitor (a VM of its own: a new connection to a VM in FT would crash it).
    const sim = start(['sim', 'cluster', writeCluster(), '--json'], { cwd: dir });
    const vm = await sim.waitFor((r) => r.type === 'vm');
    const history = join(dir, 'history');
    const sh = tmux('shell', `cuju monitor --socket ${vm.monitor} --history ${history}`);
    await until(sh, (t) => t.includes('(qemu)') && t.includes('Cuju build master'), 'the prompt');
    keys(sh, 'cuju-get-ft-m', 'Tab');
    await until(sh, (t) => t.includes('(qemu) cuju-get-ft-mode'), 'Tab completing cuju-get-ft-mode');
    keys(sh, 'Enter');
    await until(sh, (t) => t.includes('cuju_ft_mode: 0'), 'its answer');
    keys(sh, 'info status', 'Enter');
    await until(sh, (t) => t.includes('VM status: running'), 'info status');
    keys(sh, 'Up', 'Up');
    await until(
      sh,
      (t) => t.trimEnd().endsWith('(qemu) cuju-get-ft-mode'),
      'history recalling the first line',
    );
    keys(sh, 'C-u', 'C-d');
    await until(
      sh,
      () => !sessionAlive(sh) || !processesMentioning(`--history ${history}`).length,
      'the shell to end',
    );
    expect(readFileSync(history, 'utf8')).toBe('cuju-get-ft-mode\ninfo status\n');

    // The QMP shell: command names from the live schema, then the command's arguments.
    const qmp = tmux('qmp', `cuju monitor --socket ${vm.qmp} --qmp --no-history`);
    await until(qmp, (t) => t.includes('(QEMU)'), 'the QMP prompt');
    keys(qmp, 'query-stat', 'Tab');
    await until(qmp, (t) => t.includes('(QEMU) query-status'), 'Tab completing query-status');
    keys(qmp, 'Enter');
    await until(qmp, (t) => t.includes('"status": "running"'), 'the reply');
    keys(qmp, 'migrate ur', 'Tab');
    await until(qmp, (t) => t.includes('(QEMU) migrate uri='), 'the argument name');
    keys(qmp, 'C-u', 'C-d');

    sim.child.kill('SIGINT');
    expect(await sim.exited).toBe(130);
    const down = await cuju(['ft', 'down', '--record', 'vm1.json'], { cwd: dir });
    expect(down.code).toBe(0);
    expect(existsSync(monitor)).toBe(false);
  });
});

describe.runIf(hasTmux)('cuju gft up in a terminal', () => {
  it('ticks off each phase of the group plan live, then down leaves nothing', async () => {
    const ports = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => freePort(i < 2 ? '127.0.0.2' : '127.0.0.3')),
    );
    const work = join(dir, 'gwork');
    const member = (id: number) => ({
      id,
      mac: `ae:ae:00:00:00:2${id + 1}`,
      primary: { host: 'p', joinPort: ports[id]! },
      backup: { host: 'b', ftPort: ports[2 + id]!, joinPort: ports[4 + id]! },
    });
    writeFileSync(
      join(dir, 'group.json'),
      JSON.stringify({
        name: 'term',
        hosts: { p: { kind: 'local', address: '127.0.0.2' }, b: { kind: 'local', address: '127.0.0.3' } },
        members: [member(0), member(1)],
        options: {
          build: 'groupft',
          workDir: work,
          binary: { path: simBinary.path, args: [...simBinary.args, '-sim-build', 'groupft'] },
        },
      }),
    );
    const up = tmux('gft', 'cuju gft up group.json --record group-record.json; echo "exit=$?"; sleep 600');
    const shown = await until(up, (t) => /exit=\d+/.test(t), 'gft up to end');
    expect(shown).toContain('exit=0');
    for (const title of [
      'Launch the receivers (backups)',
      'Launch the primaries',
      'gft_init on the leader',
      'Confirm that every member is protected',
    ]) {
      expect(shown).toContain(`✔ ${title}`);
    }
    expect(shown).toMatch(/group term: protected/);
    const down = await cuju(['gft', 'down', '--record', 'group-record.json'], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(processesMentioning(work)).toEqual([]);
  });
});

function sessionAlive(session: string): boolean {
  try {
    execFileSync('tmux', ['has-session', '-t', session], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function writeCluster(): string {
  const file = join(dir, 'cluster.yaml');
  writeFileSync(
    file,
    `build: master\ndir: ${join(dir, 'cluster')}\nvms:\n  - { name: shell1, host: 127.0.0.2, qmp: true }\n`,
  );
  return file;
}
