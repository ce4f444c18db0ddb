/**
 * `cuju sim cluster SPEC`: cuju-sim VMs on loopback hosts as the spec says, their monitors
 * printed (and reachable with `cuju monitor`), Ctrl-C stopping every one of them and
 * removing their directory; a spec with a non-loopback host is refused before anything
 * starts.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cuju, freePort, processesMentioning, start, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir('cuju-cli-sim-'));
});
afterAll(() => cleanup());

describe('cuju sim cluster', () => {
  it('starts the VMs on their hosts, prints their monitors, and Ctrl-C stops them all', async () => {
    const port = await freePort('127.0.0.3');
    const spec = join(dir, 'cluster.yaml');
    writeFileSync(
      spec,
      `build: master
vms:
  - { name: vm1, host: 127.0.0.2, qmp: true }
  - { name: vm1r, host: 127.0.0.3, incoming: ${port} }
`,
    );
    const sim = start(['sim', 'cluster', spec, '--json'], { cwd: dir });
    const ready = await sim.waitFor((r) => r.type === 'ready');
    const vms = sim.records.filter((r) => r.type === 'vm');
    expect(vms.map((v) => [v.name, v.role, v.host])).toEqual([
      ['vm1', 'primary', '127.0.0.2'],
      ['vm1r', 'receiver', '127.0.0.3'],
    ]);
    const clusterDir = ready.dir as string;
    expect(processesMentioning(clusterDir)).toHaveLength(4); // two VMs, each with its wrapper
    // The receiver listens on its host's address only.
    expect(processesMentioning(`tcp:127.0.0.3:${port},ft_mode`).length).toBeGreaterThan(0);

    const status = await cuju(
      ['monitor', '--socket', vms[0]!.qmp as string, '--qmp', '-e', 'query-status', '--json'],
      {
        cwd: dir,
      },
    );
    expect(status.code, status.stderr).toBe(0);
    expect(status.records.find((r) => r.type === 'reply')).toMatchObject({ return: { status: 'running' } });
    const mode = await cuju(
      ['monitor', '--socket', vms[1]!.monitor as string, '-e', 'cuju-get-ft-mode', '--json'],
      {
        cwd: dir,
      },
    );
    expect(mode.records.find((r) => r.type === 'reply')).toMatchObject({ output: 'cuju_ft_mode: 1' });

    sim.child.kill('SIGINT');
    expect(await sim.exited).toBe(130);
    expect(processesMentioning(clusterDir)).toEqual([]);
    expect(existsSync(clusterDir)).toBe(false);
  });

  it('refuses a host outside loopback with the path, exit 3, before starting anything', async () => {
    const spec = join(dir, 'bad.yaml');
    writeFileSync(spec, 'build: master\nvms:\n  - { name: vm1, host: 10.0.0.2 }\n');
    const r = await cuju(['sim', 'cluster', spec, '--json'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.records.at(-1)).toMatchObject({ type: 'error', code: 'CLI_SPEC', path: 'vms[0].host' });
    expect(processesMentioning(spec)).toEqual([]);
  });
});
