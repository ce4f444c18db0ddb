/**
 * BlockServerPair on cuju-sim's blk-server build: the seed manual's three processes and
 * ft_mode as one operation, through LocalHost (all three on this machine, with distinct
 * monitor sockets and free ports). Waits are for events, never for time.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BlockServerPair,
  type BlockServerPairOptions,
  CujuBlockServerPlacementError,
  FT_PAIR_TRANSITIONS,
  LocalHost,
  transitionOf,
} from '../src/index.js';
import { type BlkPairFixture, blkPairOptions, makeBlkPair as makeFixture } from './helpers/blk-pair.js';
import { noneLeft } from './helpers/pair.js';
import { tempDir } from './helpers/sim.js';
import { processesMentioning } from './helpers/sshd.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fixture, cleaned up after the test. */
async function makeBlkPair(): Promise<BlkPairFixture> {
  const f = await makeFixture();
  cleanups.push(f.cleanup);
  return f;
}

const options = blkPairOptions;

/** Resolves once the block server has accepted `n` clients (its log, polled up to `ms`). */
async function accepted(f: BlkPairFixture, n: number, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((f.serverLog().match(/^accepted blk client \d+\.$/gm) ?? []).length < n) {
    if (Date.now() > deadline)
      throw new Error(`the block server did not accept ${n} clients: ${f.serverLog()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('BlockServerPair: the manual flow on cuju-sim', () => {
  it('starts server, primary, backup in that order, runs ft_mode, and is protected; down() leaves nothing', async () => {
    const f = await makeBlkPair();
    const { pair, dir, changes } = f;
    const order: string[] = [];
    pair.pair.on('marker', (e) => {
      if (e.marker.kind === 'blk-client-ret' || e.marker.kind === 'ft-incoming') order.push(e.marker.kind);
    });
    await pair.up();
    expect(pair.state).toBe('protected');
    // start() (the primary, FT off), then turnOn() (the backup, FT): the plain pair's table.
    expect(changes.map((c) => `${c.previous}>${c.state}`)).toEqual([
      'idle>launching',
      'launching>disabled',
      'disabled>launching',
      'launching>backup-ready',
      'backup-ready>enabling',
      'enabling>syncing',
      'syncing>protected',
    ]);
    expect(order).toEqual(['blk-client-ret', 'ft-incoming']);
    // The server came first and serves the primary alone: the backup connects only when it takes over.
    expect(f.serverLog()).toMatch(/^block server init\naccepted blk client \d+\.\n$/);
    expect(pair.blockServerPid).toBeGreaterThan(0);
    const record = pair.pair.record();
    expect(record.variant).toBe('blk-server');
    await pair.down();
    expect(pair.state).toBe('stopped');
    expect(await noneLeft(dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('primary killed: the backup takes over (it connects to the block server) and the pair is failed-over', async () => {
    const f = await makeBlkPair();
    const { pair, dir } = f;
    await pair.up();
    const report = await pair.testFailover();
    expect(pair.state).toBe('failed-over');
    expect(report.via).toMatch(/^backup-/);
    // The survivor connected to the block server when it took over: its second client.
    await accepted(f, 2);
    expect(pair.blockServerPid).toBeGreaterThan(0);
    await pair.down();
    expect(await noneLeft(dir)).toEqual([]);
  });

  it('block server killed: not-protected with block-server-lost; the VMs run on; restartSecondary is refused', async () => {
    const { pair, dir, reach } = await makeBlkPair();
    await pair.up();
    const pid = pair.blockServerPid!;
    process.kill(pid, 'SIGKILL');
    const change = await reach((c) => c.state === 'not-protected');
    expect(change.reason).toBe('block-server-lost');
    expect(change.event).toBe('block-server-died');
    expect(pair.reason).toBe('block-server-lost');
    // No Cuju build exits on a lost block server: both VMs still run.
    const record = pair.pair.record();
    expect(record.primary?.pid).toBeGreaterThan(0);
    expect(record.backup?.pid).toBeGreaterThan(0);
    await expect(pair.restartSecondary()).rejects.toMatchObject({ code: 'CUJU_FT_PAIR_STATE' });
    await pair.down();
    expect(pair.state).toBe('stopped');
    expect(await noneLeft(dir)).toEqual([]);
  });

  it('a block server that cannot listen fails up(): nothing is left running', async () => {
    const t = tempDir();
    cleanups.push(() => t.cleanup());
    const o = await options(t.dir);
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(o.blockServer.listenPort, '0.0.0.0', r));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const pair = new BlockServerPair(o);
    // It says `block server init`, then exits (-1): the pair never gets to FT.
    await expect(pair.up()).rejects.toMatchObject({ code: expect.stringMatching(/^CUJU_FT_PAIR_/) });
    expect(pair.state === 'idle' || pair.state === 'stopped').toBe(true);
    expect(await noneLeft(t.dir)).toEqual([]);
    await pair.down();
  });
});

describe('BlockServerPair: placement rules, checked before anything starts', () => {
  const cases: Array<[string, (o: BlockServerPairOptions) => BlockServerPairOptions, string, string]> = [
    [
      'the backup and the block server on different hosts',
      (o) => ({ ...o, blockServer: { ...o.blockServer, host: new LocalHost({ address: '127.0.0.2' }) } }),
      'same-host',
      'blockServer.host',
    ],
    ['a build without the block server', (o) => ({ ...o, build: 'master' }), 'build', 'build'],
    ['the groupft build', (o) => ({ ...o, build: 'groupft' }), 'build', 'build'],
    [
      'the listen port as the FT port',
      (o) => ({ ...o, blockServer: { ...o.blockServer, listenPort: o.ftPort! } }),
      'distinct-ports',
      'ftPort',
    ],
    [
      'the join port as the listen port',
      (o) => ({ ...o, blockServer: { ...o.blockServer, joinPort: o.blockServer.listenPort! } }),
      'distinct-ports',
      'blockServer.joinPort',
    ],
    [
      "the block server on the backup's monitor socket",
      (o) => ({
        ...o,
        blockServer: { ...o.blockServer, vm: { monitorPath: `${o.vm.monitorPath.slice(0, -8)}r.monitor` } },
      }),
      'distinct-files',
      'blockServer.vm.monitorPath',
    ],
  ];
  it.each(cases)('%s: CujuBlockServerPlacementError, nothing started', async (_name, change, rule, field) => {
    const t = tempDir();
    cleanups.push(() => t.cleanup());
    const before = processesMentioning(t.dir).length;
    let caught: unknown;
    try {
      new BlockServerPair(change(await options(t.dir)));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CujuBlockServerPlacementError);
    expect(caught).toMatchObject({ code: 'CUJU_BLK_SERVER_PLACEMENT', rule, field });
    expect(processesMentioning(t.dir).length).toBe(before);
    expect(readdirSync(t.dir)).toEqual([]);
  });
});

describe('block-server-lost is a reason of its own, in the one table', () => {
  it('protected, not-protected and failed-over lead to not-protected with block-server-lost', () => {
    for (const from of ['protected', 'not-protected', 'failed-over'] as const) {
      expect(transitionOf(from, 'block-server-died')).toMatchObject({
        to: 'not-protected',
        reason: 'block-server-lost',
      });
    }
    expect(transitionOf('idle', 'block-server-died')).toBeUndefined();
    expect(FT_PAIR_TRANSITIONS.filter((r) => r.on === 'block-server-died')).toHaveLength(1);
  });
});
