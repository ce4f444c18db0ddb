/**
 * `cuju gft` over @cuju/gft on the groupft cuju-sim: a bad spec refused with its path
 * (exit 3) before anything starts; `--dry-run` prints formatPlan's text; a two-member
 * group on loopback hosts brought up with progress as JSON lines, adopted from its record
 * by each later command: `status`, `watch` through a member's death and the group
 * failover, `reprotect` on the spare host, and `down` with nothing left running.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPlan, parseGroupSpec, planGroup } from '@cuju/gft';
import { simBinary } from '@cuju/sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cuju, freePort, processesMentioning, start, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir('cuju-cli-gft-'));
});
afterAll(() => {
  for (const line of processesMentioning(dir)) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
  cleanup();
});

async function groupSpec(): Promise<string> {
  const [j0, j1, f0, f1, b0, b1, s0, s1, sj0, sj1] = await Promise.all([
    freePort('127.0.0.2'),
    freePort('127.0.0.2'),
    freePort('127.0.0.3'),
    freePort('127.0.0.3'),
    freePort('127.0.0.3'),
    freePort('127.0.0.3'),
    freePort('127.0.0.4'),
    freePort('127.0.0.4'),
    freePort('127.0.0.4'),
    freePort('127.0.0.4'),
  ]);
  const work = join(dir, 'work');
  const file = join(dir, 'group.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'two',
      hosts: {
        p: { kind: 'local', address: '127.0.0.2' },
        b: { kind: 'local', address: '127.0.0.3' },
        s: { kind: 'local', address: '127.0.0.4' },
      },
      members: [
        {
          id: 0,
          mac: 'ae:ae:00:00:00:21',
          primary: { host: 'p', joinPort: j0 },
          backup: { host: 'b', ftPort: f0, joinPort: b0 },
        },
        {
          id: 1,
          mac: 'ae:ae:00:00:00:22',
          primary: { host: 'p', joinPort: j1 },
          backup: { host: 'b', ftPort: f1, joinPort: b1 },
        },
      ],
      spares: [
        { host: 's', ftPort: s0, joinPort: sj0 },
        { host: 's', ftPort: s1, joinPort: sj1 },
      ],
      options: {
        build: 'groupft',
        workDir: work,
        binary: { path: simBinary.path, args: [...simBinary.args, '-sim-build', 'groupft'] },
      },
    }),
  );
  return file;
}

describe('cuju gft', () => {
  it('refuses a bad spec with the path of its problem, exit 3, before anything starts', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'name: bad\nhosts: { p: { kind: local, address: 127.0.0.2 } }\nmembers:\n' +
        '  - { id: 0, mac: "ae:ae:00:00:00:21", primary: { host: p, joinPort: 5000 }, backup: { host: p, ftPort: 4441 } }\n' +
        '  - { id: 1, mac: "zz", primary: { host: p, joinPort: 5002 }, backup: { host: p, ftPort: 4442 } }\n' +
        'options: { build: groupft, workDir: /tmp }\n',
    );
    const r = await cuju(['gft', 'up', bad, '--json'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.records.at(-1)).toMatchObject({ type: 'error', code: 'CLI_SPEC', path: 'members[1].mac' });
  });

  it('--dry-run prints the plan as @cuju/gft formats it', async () => {
    const spec = await groupSpec();
    const r = await cuju(['gft', 'up', spec, '--dry-run'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const plan = planGroup(parseGroupSpec(readFileSync(spec, 'utf8'), { format: 'json' }));
    expect(r.stdout.trimEnd()).toBe(formatPlan(plan).trimEnd());
    expect(r.stdout).toContain('gft_init');
  });

  it('up, status from the record in a new process, watch a group failover, reprotect, down', async () => {
    const spec = await groupSpec();
    const record = join(dir, 'group-record.json');
    const up = await cuju(['gft', 'up', spec, '--record', record, '--json'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const events = up.records.filter((r) => r.type === 'progress');
    expect(events.filter((e) => e.event === 'phase-done').map((e) => e.phase)).toEqual(
      expect.arrayContaining(['receivers', 'primaries', 'add-hosts', 'capability', 'init', 'confirm']),
    );
    expect(events.at(-1)).toMatchObject({ event: 'protected' });
    expect(up.records.at(-1)).toMatchObject({ type: 'group', state: 'protected' });

    const status = await cuju(['gft', 'status', '--record', record, '--json'], { cwd: dir });
    expect(status.code, status.stderr).toBe(0);
    const group = status.records.at(-1)!;
    expect(group).toMatchObject({ type: 'group', state: 'protected' });
    expect((group.members as { state: string }[]).map((m) => m.state)).toEqual(['protected', 'protected']);

    // A member's primary dies: `watch` reports the group failover (groupft's tip fails the
    // whole group over), then `reprotect` forms a new group with receivers on the spares.
    const watch = start(['gft', 'watch', '--record', record, '--json'], { cwd: dir });
    await watch.waitFor((r) => r.type === 'watching');
    const saved = JSON.parse(readFileSync(record, 'utf8')) as {
      vms: { member: number; role: string; pid: number }[];
    };
    process.kill(saved.vms.find((v) => v.member === 1 && v.role === 'primary')!.pid, 'SIGKILL');
    expect(await watch.exited).toBe(0);
    expect(watch.records.find((r) => r.type === 'member-died')).toMatchObject({ member: 1, role: 'primary' });
    expect(
      watch.records
        .filter((r) => r.type === 'took-over')
        .map((r) => r.member)
        .sort(),
    ).toEqual([0, 1]);
    expect(watch.records.at(-1)).toMatchObject({
      type: 'group-failed-over',
      state: { state: 'failed-over' },
    });

    const again = await cuju(['gft', 'reprotect', '--record', record, '--json'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.records.at(-1)).toMatchObject({ type: 'group', state: 'protected', generation: 2 });
    const backups = (again.records.at(-1)!.members as { backup: { ip: string } }[]).map((m) => m.backup.ip);
    expect(backups).toEqual(['127.0.0.4', '127.0.0.4']);

    const down = await cuju(['gft', 'down', '--record', record, '--json'], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    expect(existsSync(record)).toBe(false);
    expect(processesMentioning(join(dir, 'work'))).toEqual([]);
    const left = existsSync(join(dir, 'work')) ? readdirSync(join(dir, 'work')) : [];
    expect(left.filter((f) => /\.(monitor|log|pid|lock)$/.test(f))).toEqual([]);
  });
});
