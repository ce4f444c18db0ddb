/**
 * `cuju sim cluster SPEC`: cuju-sim processes on loopback hosts (127.0.0.2, .3, ...) as a
 * spec file describes them, each launched with the SDK's command line for its role
 * (primaryArgv, or receiverArgv on its host's address), until Ctrl-C stops them all and
 * removes what they left. It prints where each monitor is, for `cuju monitor` and
 * `cuju ft`-style experiments by hand.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CUJU_BUILD_NAMES,
  type CujuVmSpec,
  LocalHost,
  primaryArgv,
  receiverArgv,
  type VmProcess,
  waitForLine,
} from '@cuju/sdk';
import { simBinary } from '@cuju/sim';
import { z } from 'zod';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { loadSpec } from '../spec-file.js';

const loopback = z
  .ipv4({ message: 'must be a dotted IPv4 address' })
  .refine((a) => a.startsWith('127.'), 'must be a loopback address (127.0.0.0/8)');

const Vm = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][\w.-]{0,31}$/, 'must be a name of letters, digits, . _ -'),
  host: loopback,
  memory: z.union([z.string(), z.number()]).optional(),
  mac: z.string().optional(),
  /** A receiver: `-incoming tcp:HOST:PORT,ft_mode`. */
  incoming: z.number().int().min(1).max(65_535).optional(),
  gftId: z.number().int().min(0).optional(),
  joinPort: z.number().int().min(1).max(65_535).optional(),
  /** A QMP socket besides the HMP monitor. */
  qmp: z.boolean().optional(),
});

/** A simulated cluster's spec. */
export const ClusterSpecSchema = z.strictObject({
  build: z.enum(CUJU_BUILD_NAMES),
  /** Where monitors and logs go (default: a temporary directory, removed at the end). */
  dir: z.string().min(1).optional(),
  vms: z.array(Vm).min(1),
});

/** A cluster spec as read from its file. */
export type ClusterSpec = z.output<typeof ClusterSpecSchema>;

interface Running {
  name: string;
  role: 'primary' | 'receiver';
  host: string;
  monitor: string;
  qmp: string | undefined;
  vm: VmProcess;
}

/** Starts the cluster, prints its monitors, runs until interrupted, stops everything. */
export async function simCluster(
  ctx: CommandContext,
  file: string,
  o: { readyTimeoutMs: number },
): Promise<void> {
  const spec = loadSpec(ClusterSpecSchema, file, 'cluster spec');
  const names = new Set<string>();
  for (const [i, vm] of spec.vms.entries()) {
    if (names.has(vm.name)) {
      throw new CliError('CLI_SPEC', `${file}: vms[${i}].name: ${vm.name} is given twice`, {
        path: `vms[${i}].name`,
      });
    }
    names.add(vm.name);
  }
  const dir = spec.dir ? resolve(spec.dir) : mkdtempSync(join(tmpdir(), 'cuju-sim-cluster-'));
  if (spec.dir) mkdirSync(dir, { recursive: true });
  // Every command line first: a bad field fails before anything starts.
  const plans = spec.vms.map((vm, i) => {
    const vmSpec: CujuVmSpec = {
      name: vm.name,
      memory: vm.memory ?? '1G',
      monitorPath: join(dir, `${vm.name}.monitor`),
      ...(vm.qmp ? { qmpPath: join(dir, `${vm.name}.qmp`) } : {}),
      ...(vm.mac ? { nic: { tap: `tap${i}`, mac: vm.mac } } : {}),
      ...(vm.gftId !== undefined ? { gftId: vm.gftId } : {}),
      ...(vm.joinPort !== undefined ? { joinPort: vm.joinPort } : {}),
    };
    try {
      const argv =
        vm.incoming !== undefined
          ? receiverArgv(vmSpec, { port: vm.incoming, host: vm.host }, spec.build)
          : primaryArgv(vmSpec, spec.build);
      return { vm, vmSpec, argv };
    } catch (err) {
      throw new CliError('CLI_SPEC', `${file}: vms[${i}]: ${(err as Error).message}`, {
        path: `vms[${i}]`,
        cause: err,
      });
    }
  });
  const running: Running[] = [];
  try {
    for (const { vm, vmSpec, argv } of plans) {
      ctx.signal.throwIfAborted();
      const host = new LocalHost({ address: vm.host });
      const proc = await host.spawnVm(
        [simBinary.path, ...simBinary.args, '-sim-build', spec.build, ...argv],
        {
          logPath: join(dir, `${vm.name}.log`),
        },
      );
      running.push({
        name: vm.name,
        role: vm.incoming !== undefined ? 'receiver' : 'primary',
        host: vm.host,
        monitor: vmSpec.monitorPath,
        qmp: vmSpec.qmpPath,
        vm: proc,
      });
      await waitForLine(proc, 'VM init finished', { timeoutMs: o.readyTimeoutMs });
    }
    for (const r of running) {
      ctx.out.record('vm', {
        name: r.name,
        role: r.role,
        host: r.host,
        pid: r.vm.pid,
        monitor: r.monitor,
        ...(r.qmp ? { qmp: r.qmp } : {}),
        log: r.vm.logPath,
      });
      ctx.out.line(
        `${r.name.padEnd(10)} ${r.role.padEnd(8)} ${r.host.padEnd(11)} pid ${String(r.vm.pid).padEnd(7)} monitor ${r.monitor}${r.qmp ? ` qmp ${r.qmp}` : ''}`,
      );
    }
    ctx.out.record('ready', { build: spec.build, dir, vms: running.length });
    ctx.out.line(`${running.length} cuju-sim VMs (${spec.build}) running; Ctrl-C stops them`);
    for (const r of running) {
      r.vm.exited.then(
        (exit) => {
          if (ctx.signal.aborted) return;
          ctx.out.record('exit', { name: r.name, code: exit.code, signal: exit.signal });
          ctx.out.line(`${r.name} exited (${exit.signal ?? `code ${exit.code}`})`);
        },
        () => {},
      );
    }
    await new Promise<void>((done) => {
      if (ctx.signal.aborted) done();
      ctx.signal.addEventListener('abort', () => done(), { once: true });
    });
    ctx.signal.throwIfAborted();
  } finally {
    await stopAll(running);
    if (!spec.dir) rmSync(dir, { recursive: true, force: true });
    else for (const r of running) rmSync(r.vm.logPath, { force: true });
    ctx.out.note(`stopped ${running.length} VM(s)`);
  }
}

/** SIGTERM to each, SIGKILL to what is left after a grace period, until every one is gone. */
async function stopAll(running: Running[]): Promise<void> {
  await Promise.all(
    running.map(async (r) => {
      await r.vm.kill('SIGTERM').catch(() => {});
      const grace = new Promise<'grace'>((done) => setTimeout(done, 2_000, 'grace').unref());
      if (
        (await Promise.race([
          r.vm.exited.then(
            () => 'exited' as const,
            () => 'exited' as const,
          ),
          grace,
        ])) === 'grace'
      ) {
        await r.vm.kill('SIGKILL').catch(() => {});
        await r.vm.exited.catch(() => {});
      }
      // The monitor sockets and the wrapper's files beside the log.
      for (const f of [
        r.monitor,
        r.qmp,
        `${r.vm.logPath}.pid`,
        `${r.vm.logPath}.exit`,
        `${r.vm.logPath}.lock`,
      ]) {
        if (f) rmSync(f, { force: true });
      }
    }),
  );
}
