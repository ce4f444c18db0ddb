/**
 * FtPair on the COLO engine, against real qemu-system-x86_64 7.2 COLO pairs (TCG,
 * diskless, NIC-less) on loopback: up to protected, the primary killed (failover), the
 * secondary killed (the primary runs on), restartSecondary from the survivor, a primary
 * whose monitor does not answer for a while, and no QEMU left behind by any of it.
 */
import { describe, expect, it } from 'vitest';
import { FtPair } from '../src/index.js';
import { coloFixtures, hasQemu, loseSecondary } from './colo-helpers.js';

const coloPair = coloFixtures();

const T = 600_000;

describe.runIf(hasQemu)('FtPair with engine colo on QEMU 7.2', () => {
  it(
    'comes up protected (primary MIGRATION colo, secondary COLO mode secondary); a killed primary fails over to a running secondary; restartSecondary protects again; down() leaves no QEMU',
    async () => {
      const f = await coloPair();
      expect(f.qemus()).toEqual([]);
      await f.pair.up();
      expect(f.pair.state).toBe('protected');
      expect(f.pair.record().engine).toBe('colo');
      expect(f.qemus()).toHaveLength(2);
      const primary = await f.observe(f.primaryPath);
      const backup = await f.observe(f.backupPath);
      expect((await primary.execute('query-migrate', {}, { timeoutMs: 60_000 })).status).toBe('colo');
      expect((await backup.execute('query-colo-status')).mode).toBe('secondary');

      const report = await f.pair.testFailover();
      expect(f.pair.state).toBe('failed-over');
      // The first sign: the secondary's COLO_EXIT (link-eof) or the primary's death on its host, whichever came first.
      expect(['link-eof', 'primary-death']).toContain(report.firstSign);
      const sign = report.firstSign === 'link-eof' ? 'takeover-sign' : 'primary-died';
      expect(f.transitions()).toContain(`protected --${sign}--> failing-over`);
      expect(f.transitions()).toContain('failing-over --backup-running--> failed-over');
      expect(report.primaryDiedAt).toBeInstanceOf(Date);
      expect(await backup.execute('query-status')).toMatchObject({ status: 'running', running: true });
      expect(await backup.execute('query-colo-status')).toMatchObject({
        mode: 'none',
        'last-mode': 'secondary',
        reason: 'request',
      });
      expect(f.qemus()).toHaveLength(1);

      // The survivor is the primary now; the new secondary takes the dead primary's spec.
      await f.pair.restartSecondary();
      expect(f.pair.state).toBe('protected');
      expect((await backup.execute('query-migrate', {}, { timeoutMs: 60_000 })).status).toBe('colo');
      const second = await f.observe(f.primaryPath);
      expect((await second.execute('query-colo-status')).mode).toBe('secondary');
      expect(f.qemus()).toHaveLength(2);

      await f.pair.down();
      expect(f.pair.state).toBe('stopped');
      expect(f.qemus()).toEqual([]);
      expect(f.leftovers()).toEqual([]);
    },
    T,
  );

  it(
    'a killed secondary leaves the primary running out of COLO (not-protected, secondary-lost); restartSecondary protects it again',
    async () => {
      const f = await coloPair();
      // The engine tells the primary its heartbeat is lost: it leaves COLO and runs on.
      const primary = await loseSecondary(f);
      expect(await primary.execute('query-colo-status')).toMatchObject({ 'last-mode': 'primary' });
      expect(await primary.execute('query-status')).toMatchObject({ status: 'running', running: true });
      expect(f.pair.state).toBe('not-protected');

      await f.pair.restartSecondary();
      expect(f.pair.state).toBe('protected');
      expect((await primary.execute('query-migrate', {}, { timeoutMs: 60_000 })).status).toBe('colo');
      const backup = await f.observe(f.backupPath);
      expect((await backup.execute('query-colo-status')).mode).toBe('secondary');
    },
    T,
  );

  it(
    'a primary whose monitor does not answer for a while is no failure within the deadline, and is reported with its reason once the deadline passes',
    async () => {
      const f = await coloPair({ watchdog: { thresholdMs: 120_000, intervalMs: 200 } });
      await f.pair.up();
      const before = f.changes.length;
      // Stopped, the primary answers nothing (as a checkpointing primary can be slow to).
      const pid = f.pid('primary');
      process.kill(pid, 'SIGSTOP');
      const backup = await f.observe(f.backupPath);
      // While it is stopped, the secondary is asked something: time passes by events, not sleeps.
      for (let i = 0; i < 20; i++) await backup.execute('query-status');
      process.kill(pid, 'SIGCONT');
      const primary = await f.observe(f.primaryPath);
      expect((await primary.execute('query-migrate', {}, { timeoutMs: 60_000 })).status).toBe('colo');
      expect(f.pair.state).toBe('protected');
      expect(f.changes.slice(before)).toEqual([]);
      await f.pair.down();
    },
    T,
  );

  it(
    'with a short watchdog deadline a silent primary is reported (primary-unresponsive, with the reason) and protected again once it answers',
    async () => {
      const f = await coloPair({ watchdog: { thresholdMs: 1_000, intervalMs: 100 } });
      await f.pair.up();
      const pid = f.pid('primary');
      const reported = f.reach('not-protected');
      process.kill(pid, 'SIGSTOP');
      const change = await reported;
      expect(change.reason).toBe('primary-unresponsive');
      expect(change.detail).toMatch(/primary/);
      const back = f.reach('protected');
      process.kill(pid, 'SIGCONT');
      await back;
      expect(f.pair.state).toBe('protected');
    },
    T,
  );
});

describe.runIf(hasQemu)('FtPair.attach() of a COLO pair', () => {
  it(
    'adopts a protected COLO pair from its record (engine colo): protected; a lost secondary still leaves the primary running out of COLO; down() stops both',
    async () => {
      const f = await coloPair();
      await f.pair.up();
      const record = f.pair.record();
      await f.pair.detach();
      const pids = [record.primary!.pid, record.backup!.pid];
      expect(f.qemus().sort()).toEqual(pids.sort());
      const host = f.options.primary;
      const pair = await FtPair.attach(record, {
        hosts: { [host.name]: host },
        binary: f.options.binary,
        engine: 'colo',
        colo: f.options.colo!,
        timeouts: f.options.timeouts!,
      });
      f.adopt(pair);
      expect(pair.state).toBe('protected');
      const primary = await f.observe(f.primaryPath);
      const lost = new Promise<string | undefined>((resolve) =>
        pair.on('state', (c) => c.state === 'not-protected' && resolve(c.reason)),
      );
      process.kill(record.backup!.pid, 'SIGKILL');
      expect(await lost).toBe('secondary-lost');
      await f.until(primary, async (q) => (await q.execute('query-colo-status')).mode === 'none');
      expect(await primary.execute('query-status')).toMatchObject({ running: true });
      await pair.down();
      expect(f.qemus()).toEqual([]);
    },
    T,
  );
});
