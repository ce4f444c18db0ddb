/**
 * `cuju ft` driven as a user does, on cuju-sim (the master build): bad specs refused
 * with the path and exit 3 before anything starts, the dry-run plan, the whole lifecycle
 * over the record file with each command a new process (`--json`), and Ctrl-C during
 * `ft up` leaving no process, socket or file behind.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cuju, freePort, processesMentioning, start, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir('cuju-cli-ft-'));
});
afterAll(() => {
  // Nothing may be left running whatever a test did (its processes name this directory).
  for (const line of processesMentioning(dir)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  cleanup();
});

function pairSpec(name: string, ftPort: number, extra = ''): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `build: master
binary: sim
vm:
  name: ${name}
  memory: 1G
  monitorPath: ${join(dir, `${name}.monitor`)}
  nic: { tap: tap0, mac: "ae:ae:00:00:00:25" }
ftPort: ${ftPort}
${extra}`,
  );
  return file;
}

describe('cuju ft up: bad input is refused before anything starts', () => {
  it('names the path in the spec, exits 3, and says it as a JSON line too', async () => {
    const bad = join(dir, 'bad-mac.yaml');
    writeFileSync(
      bad,
      `build: master\nbinary: sim\nvm: { monitorPath: ${join(dir, 'x.monitor')}, nic: { tap: tap0, mac: "ae:ae:zz" } }\n`,
    );
    const r = await cuju(['ft', 'up', bad, '--json'], { cwd: dir });
    expect(r.code).toBe(3);
    const error = r.records.find((x) => x.type === 'error');
    expect(error).toMatchObject({ code: 'CLI_SPEC', exitCode: 3, path: 'vm.nic.mac' });
    expect(r.stderr).toContain('vm.nic.mac');
    expect(existsSync(join(dir, 'cuju-pair.json'))).toBe(false);

    const port = join(dir, 'bad-port.yaml');
    writeFileSync(
      port,
      `build: master\nbinary: sim\nvm: { monitorPath: ${join(dir, 'y.monitor')} }\nftPort: 70000\n`,
    );
    const p = await cuju(['ft', 'up', port, '--json'], { cwd: dir });
    expect(p.code).toBe(3);
    expect(p.records.at(-1)).toMatchObject({ type: 'error', path: 'ftPort' });

    const build = join(dir, 'bad-build.json');
    writeFileSync(build, JSON.stringify({ build: 'mainline', binary: 'sim', vm: {} }));
    const b = await cuju(['ft', 'up', build], { cwd: dir });
    expect(b.code).toBe(3);
    expect(b.stderr).toMatch(/bad-build\.json: build: /);

    const yaml = join(dir, 'broken.yaml');
    writeFileSync(yaml, 'build: [master\n');
    expect((await cuju(['ft', 'up', yaml], { cwd: dir })).code).toBe(3);
  });

  it('exits 4 for a missing spec or record and 2 for a bad command line', async () => {
    const missing = await cuju(['ft', 'up', join(dir, 'nope.yaml'), '--json'], { cwd: dir });
    expect(missing.code).toBe(4);
    expect(missing.records.at(-1)).toMatchObject({ type: 'error', code: 'CLI_NOT_FOUND' });
    expect((await cuju(['ft', 'status', '--record', join(dir, 'nope.json')], { cwd: dir })).code).toBe(4);
    const usage = await cuju(['ft', 'up', '--no-such-option'], { cwd: dir });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown option/);
    const help = await cuju(['ft', 'up', '--help'], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
  });
});

describe('cuju ft up --dry-run', () => {
  it('prints the two command lines and the monitor lines in order, starting nothing', async () => {
    const port = await freePort();
    const spec = pairSpec('dry', port);
    const r = await cuju(['ft', 'up', spec, '--dry-run', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const plan = r.records.filter((x) => x.type === 'plan');
    expect(plan.map((s) => [s.kind, s.role])).toEqual([
      ['launch', 'primary'],
      ['launch', 'backup'],
      ['monitor', 'primary'],
      ['monitor', 'primary'],
    ]);
    const backupArgv = plan[1]!.argv as string[];
    expect(backupArgv.slice(-2)).toEqual(['-incoming', `tcp:0:${port},ft_mode`]);
    expect(backupArgv).toContain(`socket,id=mon,path=${join(dir, 'dryr.monitor')},server,nowait`);
    expect(plan.slice(2).map((s) => s.line)).toEqual([
      'migrate_set_capability cuju-ft on',
      `migrate -c tcp:127.0.0.1:${port}`,
    ]);
    expect(existsSync(join(dir, 'dry.monitor'))).toBe(false);
    expect(processesMentioning(join(dir, 'dry'))).toEqual([]);
  });
});

describe('cuju ft over a record, one process per command', () => {
  it('up, status, test-failover, restart-secondary, turn-off, turn-on, down', async () => {
    const spec = pairSpec('vm1', await freePort());
    const record = join(dir, 'vm1.json');
    const run = (...args: string[]) => cuju([...args, '--record', record, '--json'], { cwd: dir });

    const up = await cuju(['ft', 'up', spec, '--record', record, '--json'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    expect(up.records.filter((r) => r.type === 'state').map((r) => r.state)).toEqual([
      'launching',
      'backup-ready',
      'enabling',
      'syncing',
      'protected',
    ]);
    const first = up.records.find((r) => r.type === 'pair')!;
    expect(first).toMatchObject({ state: 'protected', build: 'master' });
    const primaryPid = (first.primary as { pid: number }).pid;

    // A new process adopts the pair from the record and finds it protected.
    const status = await run('ft', 'status');
    expect(status.code).toBe(0);
    expect(status.records.at(-1)).toMatchObject({
      type: 'pair',
      state: 'protected',
      primary: { pid: primaryPid },
    });

    // A second `up` on the same record is refused: its pair runs.
    const again = await cuju(['ft', 'up', spec, '--record', record, '--json'], { cwd: dir });
    expect(again.code).toBe(5);

    const failover = await run('ft', 'test-failover');
    expect(failover.code, failover.stderr).toBe(0);
    expect(failover.records.find((r) => r.type === 'failover')).toMatchObject({ via: expect.any(String) });
    expect(failover.records.at(-1)).toMatchObject({ state: 'failed-over' });
    expect(() => process.kill(primaryPid, 0)).toThrow();

    const restart = await run('ft', 'restart-secondary');
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.records.at(-1)).toMatchObject({ state: 'protected' });

    const off = await run('ft', 'turn-off');
    expect(off.code, off.stderr).toBe(0);
    expect(off.records.at(-1)).toMatchObject({ state: 'disabled' });
    const offAgain = await run('ft', 'turn-off');
    expect(offAgain.code).toBe(5);
    expect(offAgain.records.at(-1)).toMatchObject({ type: 'error', code: 'CLI_STATE' });

    const on = await run('ft', 'turn-on');
    expect(on.code, on.stderr).toBe(0);
    expect(on.records.at(-1)).toMatchObject({ state: 'protected' });

    const down = await run('ft', 'down');
    expect(down.code, down.stderr).toBe(0);
    expect(existsSync(record)).toBe(false);
    expect(processesMentioning(join(dir, 'vm1'))).toEqual([]);
    // Every VM's log, socket and wrapper file is gone, those of replaced VMs too.
    expect(
      readdirSync(dir).filter((f) => /\.(log|monitor|pid|exit|lock)$/.test(f) || f.includes('vm1-')),
    ).toEqual([]);
  });

  it('Ctrl-C (SIGINT) during up stops what it started: exit 130, no process, no file', async () => {
    const spec = pairSpec('vm2', await freePort());
    const record = join(dir, 'vm2.json');
    const up = start(['ft', 'up', spec, '--record', record, '--json'], { cwd: dir });
    await up.waitFor((r) => r.type === 'state' && r.state === 'backup-ready');
    up.child.kill('SIGINT');
    expect(await up.exited).toBe(130);
    expect(up.records.at(-1)).toMatchObject({ type: 'error', code: 'CLI_INTERRUPTED', exitCode: 130 });
    expect(processesMentioning(join(dir, 'vm2'))).toEqual([]);
    expect(existsSync(record)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('vm2') && !f.endsWith('.yaml'))).toEqual([]);
    expect(readdirSync(dir).filter((f) => /\.(log|pid|exit|lock)$/.test(f))).toEqual([]);
  });
});
