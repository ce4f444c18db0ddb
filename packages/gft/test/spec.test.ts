/**
 * parseGroupSpec: the seed topology reads; every kind of bad spec is refused with every
 * problem named by its path and rule, before any host is touched (parsing is pure: the
 * hosts are opened only by runPlan); the JSON Schema file is the schema's.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  GroupSpecError,
  type GroupSpecInput,
  type GroupSpecProblem,
  groupSpecJsonSchema,
  parseGroupSpec,
} from '../src/index.js';

const EXAMPLE = readFileSync(new URL('../../../examples/gft/group.yaml', import.meta.url), 'utf8');
const SCHEMA_FILE = new URL('../schema/group-spec.schema.json', import.meta.url);

/** A valid 3-member spec as an object, to break one field at a time. */
function valid(): GroupSpecInput & { members: Array<Record<string, unknown>> } {
  return {
    hosts: {
      a: { kind: 'local', address: '127.0.0.2' },
      b: { kind: 'local', address: '127.0.0.3' },
    },
    members: [0, 1, 2].map((id) => ({
      id,
      mac: `ae:ae:00:00:00:2${id + 1}`,
      primary: { host: 'a', joinPort: 5000 + 2 * id },
      backup: { host: 'b', ftPort: 4441 + id },
    })),
  } as GroupSpecInput & { members: Array<Record<string, unknown>> };
}

/** A case's change of the valid spec, made in place. */
function mut(change: (s: ReturnType<typeof valid>) => void): (s: ReturnType<typeof valid>) => unknown {
  return (s) => {
    change(s);
    return s;
  };
}

/** The problems parseGroupSpec reports for `input` (it must refuse it). */
function problems(input: unknown, format?: 'yaml' | 'json'): GroupSpecProblem[] {
  try {
    parseGroupSpec(input, format ? { format } : {});
  } catch (err) {
    expect(err).toBeInstanceOf(GroupSpecError);
    expect((err as GroupSpecError).code).toBe('GFT_SPEC_INVALID');
    return [...(err as GroupSpecError).problems];
  }
  throw new Error('the spec was accepted');
}

describe('parseGroupSpec', () => {
  it('reads the seed topology (examples/gft/group.yaml) with its defaults', () => {
    const spec = parseGroupSpec(EXAMPLE);
    expect(spec.members.map((m) => [m.id, m.primary.joinPort, m.backup.ftPort, m.mac])).toEqual([
      [0, 5000, 4441, 'ae:ae:00:00:00:21'],
      [1, 5002, 4442, 'ae:ae:00:00:00:22'],
      [2, 5004, 4443, 'ae:ae:00:00:00:23'],
    ]);
    expect(spec.options.build).toBe('groupft');
    expect(spec.options.timeouts.launchMs).toBe(30_000);
    expect(spec.spares).toHaveLength(3);
  });

  it('reads JSON with format json, and the same object', () => {
    const v = valid();
    expect(parseGroupSpec(JSON.stringify(v), { format: 'json' }).members).toHaveLength(3);
    expect(parseGroupSpec(v).hosts.a).toEqual({ kind: 'local', address: '127.0.0.2' });
    expect(problems('{ not json', 'json')[0]).toMatchObject({ path: '', rule: 'syntax' });
    expect(problems('members: [', 'yaml')[0]).toMatchObject({ path: '', rule: 'syntax' });
  });

  // Each case breaks the valid spec one way; the expected problems are [path, rule].
  const cases: Array<[string, (s: ReturnType<typeof valid>) => unknown, Array<[string, string]>]> = [
    [
      'a MAC that is not six hex pairs',
      mut((s) => {
        s.members[2]!.mac = 'ae:ae:00:00:00';
      }),
      [['members[2].mac', 'invalid_format']],
    ],
    [
      'a duplicate MAC (compared as numbers, as sscanf reads it)',
      mut((s) => {
        s.members[1]!.mac = 'AE:AE:00:00:00:21';
      }),
      [['members[1].mac', 'unique-mac']],
    ],
    [
      'ids that are not 0..n-1',
      mut((s) => {
        s.members[2]!.id = 7;
      }),
      [['members[2].id', 'ids']],
    ],
    [
      'a duplicate id (its default monitors are the other member too)',
      mut((s) => {
        s.members[2]!.id = 1;
      }),
      [
        ['members[2].id', 'ids'],
        ['members[2].primary.monitor', 'unique-monitor'],
        ['members[2].backup.monitor', 'unique-monitor'],
      ],
    ],
    [
      'no leader (id 0)',
      mut((s) => {
        s.members[0]!.id = 3;
      }),
      [
        ['members[0].id', 'ids'],
        ['members', 'leader'],
      ],
    ],
    [
      'a port out of range',
      mut((s) => {
        (s.members[0]!.backup as { ftPort: number }).ftPort = 70_000;
      }),
      [['members[0].backup.ftPort', 'too_big']],
    ],
    [
      'two join ports alike on one host',
      mut((s) => {
        (s.members[1]!.primary as { joinPort: number }).joinPort = 5000;
      }),
      // Its backup binds 5001 too (recv_b's primary + 1), as member 0's does.
      [
        ['members[1].primary.joinPort', 'distinct-join-ports'],
        ['members[1].backup.joinPort', 'distinct-join-ports'],
      ],
    ],
    [
      'a backup join port (primary + 1) that is another VM join port on its host',
      mut((s) => {
        s.members[1]!.backup = { host: 'b', ftPort: 4442, joinPort: 5001 };
      }),
      [['members[1].backup.joinPort', 'distinct-join-ports']],
    ],
    [
      'an FT port that is another member FT port on the same host',
      mut((s) => {
        (s.members[2]!.backup as { ftPort: number }).ftPort = 4441;
      }),
      [['members[2].backup.ftPort', 'unique-host-port']],
    ],
    [
      'an IP longer than Cuju 16-byte fields',
      mut((s) => {
        (s.members[0]!.primary as { ip?: string }).ip = '192.168.100.1000';
      }),
      [
        ['members[0].primary.ip', 'too_big'],
        ['members[0].primary.ip', 'invalid_format'],
      ],
    ],
    [
      'an IP that is not dotted IPv4',
      mut((s) => {
        (s.members[0]!.backup as { ip?: string }).ip = 'backup.lab';
      }),
      [['members[0].backup.ip', 'invalid_format']],
    ],
    [
      'a host that is not in hosts',
      mut((s) => {
        (s.members[1]!.backup as { host: string }).host = 'nowhere';
      }),
      [['members[1].backup.host', 'host-ref']],
    ],
    [
      'a build without group FT',
      (s) => ({ ...s, options: { build: 'master' } }),
      [['options.build', 'build-has-gft']],
    ],
    ['an unknown build', (s) => ({ ...s, options: { build: 'colo' } }), [['options.build', 'build']]],
    [
      'an unknown field',
      mut((s) => {
        s.members[0]!.gftId = 0;
      }),
      [['members[0]', 'unrecognized_keys']],
    ],
    [
      'a single member',
      mut((s) => {
        s.members.length = 1;
      }),
      [['members', 'too_small']],
    ],
    [
      'a relative work directory',
      (s) => ({ ...s, options: { workDir: 'tmp' } }),
      [['options.workDir', 'invalid_format']],
    ],
    [
      'an SSH host without a host-key check',
      (s) => ({ ...s, hosts: { ...s.hosts, b: { kind: 'ssh', address: '10.0.0.3', user: 'root' } } }),
      [['hosts.b.hostKey', 'invalid_union']],
    ],
    [
      'two monitors alike on one host',
      mut((s) => {
        (s.members[1]!.primary as { monitor?: string }).monitor = '/tmp/cuju-gft/vm1.monitor';
      }),
      [['members[1].primary.monitor', 'unique-monitor']],
    ],
  ];
  for (const [what, breakIt, expected] of cases) {
    it(`refuses ${what}`, () => {
      const found = problems(breakIt(valid()));
      expect(found.map((p) => [p.path, p.rule])).toEqual(expected);
      for (const p of found) expect(p.message.length).toBeGreaterThan(0);
    });
  }

  it('lists every problem at once, each in the message with its path', () => {
    const s = valid();
    s.members[1]!.mac = 'zz';
    (s.members[2]!.backup as { ftPort: number }).ftPort = 0;
    try {
      parseGroupSpec(s);
      throw new Error('accepted');
    } catch (err) {
      const e = err as GroupSpecError;
      expect(e.problems.map((p) => p.path)).toEqual(['members[1].mac', 'members[2].backup.ftPort']);
      expect(e.message).toContain('members[1].mac');
      expect(e.message).toContain('members[2].backup.ftPort');
    }
  });
});

describe('the JSON Schema', () => {
  it('is what schema/group-spec.schema.json holds (npm run build writes it)', () => {
    const file = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
    expect(file).toEqual(JSON.parse(JSON.stringify(groupSpecJsonSchema())));
    expect(file.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect((file.required as string[]).sort()).toEqual(['hosts', 'members']);
  });
});
