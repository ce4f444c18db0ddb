/**
 * `cuju-fts --config` with a `zstack` section, as a real process: the password comes from
 * the environment (refused with FTS_CONFIG when it is not set), a VM tagged in ZStack (the
 * fake) becomes Protected on cuju-sim and its status tag is written back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZStackFake } from '../src/testing.js';
import { SIM_BIN, SIM_HOSTS, simProcessesIn } from './helpers/sim.js';
import { eventually, tempDir } from './helpers/tmp.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/tsx/dist/cli.mjs', import.meta.url));
const t = tempDir('fts-zcli-');
let fake: ZStackFake;
let proc: ChildProcess | undefined;

beforeAll(async () => {
  fake = await ZStackFake.start({ password: 'cli-pass' });
});

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc?.once('exit', r));
  }
  await fake.stop();
  // The CLI's driver leaves its VMs running when it stops (a restart attaches to them).
  const left = simProcessesIn(t.dir);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  t.cleanup();
});

function config(): string {
  const path = join(t.dir, 'service.json');
  writeFileSync(
    path,
    JSON.stringify({
      store: { kind: 'sqlite', path: join(t.dir, 'fts.db') },
      listen: { host: '127.0.0.1', port: 0 },
      runDir: join(t.dir, 'run'),
      builds: { master: { path: process.execPath, args: [SIM_BIN] } },
      hosts: SIM_HOSTS,
      zstack: { url: fake.url, accountName: 'admin', passwordEnv: 'TEST_ZS_PASSWORD', pollMs: 500 },
    }),
  );
  return path;
}

function run(env: Record<string, string>): { proc: ChildProcess; out: () => string } {
  let out = '';
  const p = spawn(process.execPath, [TSX, CLI, '--config', config()], {
    // The password variable only when the test gives it.
    env: { ...process.env, TEST_ZS_PASSWORD: '', CUJU_SIM_FROM_SOURCE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  p.stdout?.on('data', (d) => (out += d));
  p.stderr?.on('data', (d) => (out += d));
  return { proc: p, out: () => out };
}

describe('cuju-fts with a zstack section', () => {
  it('refuses to start without the password variable, naming it', async () => {
    const r = run({});
    const code = await new Promise<number | null>((res) => r.proc.once('exit', res));
    expect(code).toBe(1);
    expect(r.out()).toMatch(/FTS_CONFIG: config\.zstack\.passwordEnv: TEST_ZS_PASSWORD is not set/);
  });

  it('protects a VM tagged cuju::ft in ZStack and writes its status tag back', async () => {
    const r = run({ TEST_ZS_PASSWORD: 'cli-pass' });
    proc = r.proc;
    await eventually('the service listens', () => /FT service at http/.test(r.out()));
    const cluster = fake.addCluster();
    const a = fake.addHost({ name: 'sim-a', managementIp: '127.0.0.2', clusterUuid: cluster });
    fake.addHost({ name: 'sim-b', managementIp: '127.0.0.3', clusterUuid: cluster });
    const vm = fake.addVm({ name: 'cli-vm', hostUuid: a.uuid, memoryMiB: 128, userTags: ['cuju::ft'] });
    await eventually('the protected tag', () => fake.tagsOf(vm.uuid).includes('cuju::ft::status::protected'));
    proc.kill('SIGTERM');
    expect(await new Promise((res) => proc?.once('exit', res))).toBe(0);
  });
});
