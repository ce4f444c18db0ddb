/**
 * The blk-server build's three processes (the seed manual's blk_server.sh, blk_primary.sh,
 * blk_backup.sh, then ft_mode) over real TCP on loopback, as cuju-builds.md §1, §3, §5 and
 * kvm_blk.c@4b17b51 say: the server's `block server init` and `accepted blk client N.`,
 * the primary's `client_ret:0`, the backup connecting only when it takes over, and what
 * each does when the other side goes away (no build exits on a lost block server).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  killAll,
  monitorOptions,
  port,
  RawHmp,
  type SimProcess,
  startSim,
  tempDir,
  waitForPath,
} from './helpers/sim-process.js';

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

const BUILD = ['-sim-build', 'blk-server'];

/** blk_server.sh: `-ft-join-port J -blk-server-listen :P`. */
async function blockServer(d: string): Promise<{ sim: SimProcess; port: number }> {
  const listen = await port();
  const join_ = await port();
  const sim = startSim([
    ...BUILD,
    ...monitorOptions(d, 'blk'),
    '-ft-join-port',
    String(join_),
    '-blk-server-listen',
    `:${listen}`,
  ]);
  await sim.waitForStdout('block server init\n');
  return { sim, port: listen };
}

/** blk_primary.sh: the VM with `-blk-server 127.0.0.1:P`, up and connected. */
async function primary(d: string, serverPort: number): Promise<{ sim: SimProcess; hmp: RawHmp }> {
  const sim = startSim([...BUILD, ...monitorOptions(d, 'vm1'), '-blk-server', `127.0.0.1:${serverPort}`]);
  await sim.waitForStdout('VM init finished\nclient_ret:0\n');
  await waitForPath(join(d, 'vm1.monitor'));
  return { sim, hmp: await RawHmp.open(join(d, 'vm1.monitor')) };
}

/** blk_backup.sh: `-incoming tcp:0:F,ft_mode -blk-server 127.0.0.1:P`. */
async function backup(
  d: string,
  serverPort: number,
): Promise<{ sim: SimProcess; hmp: RawHmp; ftPort: number }> {
  const ftPort = await port();
  const sim = startSim([
    ...BUILD,
    ...monitorOptions(d, 'vm1r'),
    '-incoming',
    `tcp:0:${ftPort},ft_mode`,
    '-blk-server',
    `127.0.0.1:${serverPort}`,
  ]);
  await sim.waitForStdout('VM init finished\n');
  await waitForPath(join(d, 'vm1r.monitor'));
  return { sim, hmp: await RawHmp.open(join(d, 'vm1r.monitor')), ftPort };
}

/** ft_mode: the manual's two lines, then the backup's first committed epoch. */
async function ftMode(p: RawHmp, b: { sim: SimProcess }, ftPort: number): Promise<void> {
  expect(await p.run('migrate_set_capability cuju-ft on')).toBe('');
  expect(await p.run(`migrate -d -c tcp:127.0.0.1:${ftPort}`)).toBe('');
  await b.sim.waitForStdout('first commit\n');
}

/** The manual's flow up to FT: block server, primary, backup, ft_mode. */
async function inFt() {
  const d = dir();
  const server = await blockServer(d);
  const p = await primary(d, server.port);
  const b = await backup(d, server.port);
  await ftMode(p.hmp, b, b.ftPort);
  return { server, p, b };
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern, 'gm'))?.length ?? 0;
}

describe('blk-server: server, primary, backup, ft_mode', () => {
  it('runs the manual flow: one client at first, the backup connects only when it takes over', async () => {
    const d = dir();
    const server = await blockServer(d);
    const p = await primary(d, server.port);
    await server.sim.waitForStdout('accepted blk client ');
    const b = await backup(d, server.port);
    await ftMode(p.hmp, b, b.ftPort);
    // In FT, the server still has the primary alone (the backup did not connect at start).
    expect(count(server.sim.stdout(), /^accepted blk client \d+\.$/)).toBe(1);
    expect(b.sim.stdout()).not.toContain('client_ret');

    p.sim.kill('SIGKILL');
    await b.sim.waitForStdout('cuju_ft_trans_close vm_started.\n');
    // The backup connected before it ran the guest; the server took it as its next client.
    await server.sim.waitForStdout('accepted blk client 21.\n');
    expect(server.sim.stdout()).toMatch(
      /^block server init\naccepted blk client 20\.\naccepted blk client 21\.\n$/,
    );
    expect(await b.hmp.run('info status')).toBe('VM status: running\r\n');
    // The server saw its first client go and runs on.
    expect(server.sim.stderr()).toMatch(/^blk-server-> recv header: /m);
    expect(server.sim.child.exitCode).toBeNull();
  });

  it('a backup whose block server is gone when it takes over exits (-1) without running the guest', async () => {
    const { server, p, b } = await inFt();
    server.sim.kill('SIGKILL');
    await server.sim.exited;
    p.sim.kill('SIGKILL');
    const exit = await b.sim.exited;
    expect(exit.code).toBe(255);
    expect(b.sim.stdout()).toContain('cuju_ft_trans_close\n');
    expect(b.sim.stdout()).not.toContain('vm_started');
    expect(b.sim.stderr()).toContain('qemu-system-x86_64: Failed to connect socket: Connection refused\n');
  });

  it('a primary whose block server goes away says so on stderr and runs on (FT too)', async () => {
    const { server, p, b } = await inFt();
    server.sim.kill('SIGKILL');
    await server.sim.exited;
    for (let i = 0; i < 3000 && !p.sim.stderr().includes('blk-server-> recv header'); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(p.sim.stderr()).toMatch(/^blk-server-> recv header: /m);
    expect(await p.hmp.run('info status')).toBe('VM status: running\r\n');
    expect(p.sim.child.exitCode).toBeNull();
    expect(b.sim.child.exitCode).toBeNull();
  });

  it('a block server runs on when its client goes, and takes the next one', async () => {
    const d = dir();
    const server = await blockServer(d);
    const first = await primary(d, server.port);
    await server.sim.waitForStdout('accepted blk client 20.\n');
    first.sim.kill('SIGKILL');
    await first.sim.exited;
    const d2 = dir();
    await primary(d2, server.port);
    await server.sim.waitForStdout('accepted blk client 21.\n');
    expect(server.sim.stderr()).toMatch(/^blk-server-> recv header: /m);
  });

  it('a block server that cannot listen says `block server init`, then exits (-1)', async () => {
    const d = dir();
    const server = await blockServer(d);
    const second = startSim([
      ...BUILD,
      ...monitorOptions(d, 'blk2'),
      '-blk-server-listen',
      `:${server.port}`,
    ]);
    const exit = await second.exited;
    expect(exit.code).toBe(255);
    expect(second.stdout()).toBe('block server init\n');
    expect(second.stderr()).toBe('qemu-system-x86_64: Failed to bind socket: Address already in use\n');
  });
});
