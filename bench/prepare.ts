/**
 * The prepare suite: what prepareHost()'s safety costs over SSH, against a real sshd on
 * 127.0.0.2, with the native scripts run on the stub Cuju tree of native/test (configure,
 * make, module, network and mount tools are stubs, so the work itself is near zero and
 * what is left is the SDK's and SSH's share). Two pairs of contenders, interleaved run by
 * run, each run on a fresh stub tree:
 *
 * - prepare/sdk: `prepareHost()` from @cuju/sdk's dist over an SshHost, all four steps
 *   (build-cuju, build-kvm with both documented patches, reinsmodkvm, host-prep with two
 *   taps and the cpuset group): upload, four dry runs, four real runs, clean-up.
 * - prepare/floor: the same four scripts, already on the host (this checkout's native/,
 *   same machine), each run for real once through one raw ssh2 exec channel on an
 *   already open connection: no upload, no dry run, no line splitting, no clean-up.
 *
 * - write/sdk: `SshHost.writeFile()` of 4 MiB (temporary file, size check, chmod, rename).
 * - write/floor: the same bytes written to `cat > FILE` through one raw ssh2 exec channel.
 *
 * - exec/floor: one raw exec of `true`: the unit cost of a command over SSH here (sshd
 *   starts the user's login shell for each), to read the prepare numbers by.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'ssh2';
import { type Fixture, makeFixture } from '../native/test/helpers/fixture.js';
import { type Sshd, startSshd } from '../packages/cuju-sdk/test/helpers/sshd.js';
import { loadCujuSdk } from './lib/cuju-sdk.js';
import { interleave, timed } from './lib/measure.js';
import { note, printRecord, round, summarizeMs } from './lib/stats.js';

type CujuSdk = typeof import('@cuju/sdk');
type SshHost = Awaited<ReturnType<CujuSdk['SshHost']['connect']>>;

const PREPARE_RUNS = 20;
const WRITE_RUNS = 20;
const WRITE_BYTES = 4 * 1024 * 1024;
const NATIVE = fileURLToPath(new URL('../native/', import.meta.url));

/** Every step on the fixture's tree: the same work for both contenders. */
function steps(f: Fixture): { script: string; args: string[] }[] {
  return [
    { script: 'build-cuju.sh', args: ['--source', f.tree, '--jobs', '2'] },
    { script: 'build-kvm.sh', args: ['--source', f.tree, '--kernel-dir', f.kernelDir, '--jobs', '2'] },
    { script: 'reinsmodkvm.sh', args: ['--source', f.tree] },
    {
      script: 'host-prep.sh',
      args: ['--tap', 'tap0', '--tap', 'tap1', '--cpuset', '7', '--cgroup-dir', join(f.root, 'cg')],
    },
  ];
}

function envOf(f: Fixture): Record<string, string> {
  return Object.fromEntries(Object.entries(f.env()).filter((e): e is [string, string] => e[1] !== undefined));
}

async function sdkPrepare(sdk: CujuSdk, host: SshHost): Promise<number> {
  const f = makeFixture({ links: ['br0'], modules: ['kvm', 'kvm_intel'] });
  try {
    return await timed(() =>
      sdk.prepareHost(host, {
        source: f.tree,
        buildQemu: { jobs: 2 },
        buildKvm: { kernelDir: f.kernelDir, jobs: 2 },
        loadKvm: true,
        hostPrep: { taps: ['tap0', 'tap1'], cpuset: { cpus: '7', cgroupDir: join(f.root, 'cg') } },
        env: envOf(f),
      }),
    );
  } finally {
    f.cleanup();
  }
}

/** One command string on an exec channel; resolves with its exit code once it has closed. */
function exec(client: Client, command: string, input?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err);
      let code = -1;
      channel.on('exit', (c: number | null) => {
        code = c ?? -1;
      });
      channel.on('data', () => {});
      channel.stderr.on('data', () => {});
      channel.on('close', () => resolve(code));
      if (input) channel.end(input);
    });
  });
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

async function floorPrepare(client: Client): Promise<number> {
  const f = makeFixture({ links: ['br0'], modules: ['kvm', 'kvm_intel'] });
  try {
    const env = Object.entries(envOf(f)).map(([k, v]) => `${k}=${q(v)}`);
    return await timed(async () => {
      for (const s of steps(f)) {
        const code = await exec(
          client,
          ['env', ...env, 'bash', q(join(NATIVE, s.script)), ...s.args.map(q)].join(' '),
        );
        if (code !== 0) throw new Error(`floor: ${s.script} exited with ${code}`);
      }
    });
  } finally {
    f.cleanup();
  }
}

function connectRaw(sshd: Sshd): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    // The host key was checked by SshHost on the same daemon; the floor only needs the channel.
    c.connect({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.userKey });
  });
}

export async function run(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the prepare suite runs the root steps: run it as root');
  const sdk = await loadCujuSdk();
  const sshd = await startSshd();
  const host = await sdk.SshHost.connect({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.userKey,
    hostKey: { knownHostsPath: sshd.knownHostsPath },
  });
  const raw = await connectRaw(sshd);
  const data = randomBytes(WRITE_BYTES);
  const target = join(sshd.dir, 'written.bin');
  try {
    note(`prepare: ${PREPARE_RUNS} runs per contender over ${host.name}`);
    const prep = { sdk: [] as number[], floor: [] as number[] };
    await sdkPrepare(sdk, host); // warm-up, unrecorded
    await floorPrepare(raw);
    await interleave(2, PREPARE_RUNS, async (i) => {
      if (i === 0) prep.sdk.push(await sdkPrepare(sdk, host));
      else prep.floor.push(await floorPrepare(raw));
    });

    note(`write: ${WRITE_RUNS} runs of ${WRITE_BYTES} bytes per contender`);
    const write = { sdk: [] as number[], floor: [] as number[] };
    await interleave(2, WRITE_RUNS, async (i) => {
      if (i === 0) write.sdk.push(await timed(() => host.writeFile(target, data)));
      else
        write.floor.push(
          await timed(async () => {
            if ((await exec(raw, `cat > ${q(target)}`, data)) !== 0) throw new Error('floor: cat failed');
          }),
        );
    });

    const execs: number[] = [];
    for (let i = 0; i < PREPARE_RUNS; i++) execs.push(await timed(() => exec(raw, 'true')));

    const mibps = (ms: number) => round(WRITE_BYTES / 1024 / 1024 / (ms / 1000), 1);
    const summaries = {
      'prepare/sdk': summarizeMs(prep.sdk),
      'prepare/floor': summarizeMs(prep.floor),
      'write/sdk': summarizeMs(write.sdk),
      'write/floor': summarizeMs(write.floor),
      'exec/floor': summarizeMs(execs),
    };
    for (const [contender, s] of Object.entries(summaries)) {
      printRecord({
        suite: 'prepare',
        contender,
        ...s,
        ...(contender.startsWith('write') ? { p50_mib_per_s: mibps(s.p50_ms) } : {}),
      });
    }
    printRecord({
      suite: 'prepare',
      summary: true,
      prepare_p50_ratio_sdk_over_floor: round(
        summaries['prepare/sdk'].p50_ms / summaries['prepare/floor'].p50_ms,
        2,
      ),
      write_p50_ratio_sdk_over_floor: round(
        summaries['write/sdk'].p50_ms / summaries['write/floor'].p50_ms,
        2,
      ),
    });
  } finally {
    raw.end();
    await host.close();
    await sshd.stop();
    rmSync(target, { force: true });
  }
}
