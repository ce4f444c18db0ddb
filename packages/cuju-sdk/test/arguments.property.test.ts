/**
 * Every public entry point of @cuju/sdk, given arbitrary JavaScript values, either
 * succeeds or throws (rejects with) a typed error: a CujuError (CujuArgumentError for bad
 * input, a HostError when a host fails). Never a bare TypeError from deep inside.
 *
 * The entry points are enumerated from the package's exports and from the prototypes of
 * its classes, so a new export or method without checks fails here until it is listed
 * below with a way to call it. What is excluded is listed with the reason, and the lists
 * are asserted, so that nothing is excluded silently.
 *
 * Calls that pass the checks really run, so they run in a sandbox: LocalHosts with an
 * empty PATH (every program is missing: HOST_BINARY_MISSING) in a scratch working
 * directory (relative paths land there; generated strings never start with `/` nor hold
 * `..`), an SshHost whose connection is closed (HOST_DISCONNECTED once the checks pass),
 * and SshHost.connect to a closed port on 127.0.0.2.
 */

import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Hmp, QmpError } from '@cuju/qmp';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from '../src/index.js';
import { freePort, requireSshd, type Sshd, startSshd } from './helpers/sshd.js';

const hasSshd = requireSshd();

// ---------------------------------------------------------------------------------------
// Arbitrary values

/** Strings that are safe to act on in the sandbox: relative, never climbing out of it. */
const safeString = fc
  .oneof(
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.constantFrom('', 'sh', 'x\0y', 'a\nb', 'SIGTERM', 'SIGKILL', 'tap0', '127.0.0.2', 'x'.repeat(200)),
  )
  .map((s) => s.replace(/^\/+/, '').replaceAll('..', '.'));

/** Values that are not functions (fast-check fails to clone a function inside a sparse array). */
const plainLeaf = fc.oneof(
  fc.constantFrom(
    undefined,
    null,
    true,
    false,
    0,
    -1,
    1,
    4441,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 53,
  ),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  safeString,
  fc.constant(Symbol('arbitrary')),
);

const leaf = fc.oneof(
  plainLeaf,
  fc.func(fc.anything()),
  fc.constant(new AbortController().signal),
  fc.constant(/re+gexp/),
  fc.constant(new Date(0)),
  fc.constant(Buffer.from('bytes')),
  fc.constant(Promise.resolve(1)),
);

/**
 * Any JavaScript value: leaves, arrays (sparse ones too: their holes are undefined
 * elements), objects (some without a prototype), Maps, Sets, boxed values. Sparse arrays
 * come from sparseArray, of values other than functions: fast-check's own
 * (withSparseArray), given functions, fails with `Invalid array length` when it clones them.
 */
const anything = fc.anything({
  values: [leaf, fc.sparseArray(plainLeaf, { maxLength: 4 }), fc.sparseArray(safeString, { maxLength: 4 })],
  key: fc.oneof(safeString, fc.constantFrom('then', 'toString', 'valueOf', 'length')),
  maxDepth: 2,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withTypedArray: true,
});

/**
 * Arguments for a call: wholly arbitrary, or a valid call with one argument (or one field
 * of an object argument, or of an object inside it) replaced by an arbitrary value.
 */
function argumentsFor(
  valid: readonly unknown[],
  arity: number,
  fieldValue = anything,
): fc.Arbitrary<unknown[]> {
  const wild = fc.array(anything, { minLength: 0, maxLength: arity + 1 });
  if (valid.length === 0) return wild;
  const mutated = fc
    .tuple(fc.nat({ max: valid.length - 1 }), fc.nat(), fc.nat(), fieldValue)
    .map(([i, keyPick, innerPick, value]) => {
      const args = [...valid];
      const target = args[i];
      if (isPlainObject(target)) {
        const keys = Object.keys(target);
        const key = keys[keyPick % (keys.length + 1)] ?? 'unexpected';
        const inner = target[key];
        if (isPlainObject(inner) && innerPick % 2 === 0) {
          const innerKeys = Object.keys(inner);
          const innerKey = innerKeys[innerPick % (innerKeys.length + 1)] ?? 'unexpected';
          args[i] = { ...target, [key]: { ...inner, [innerKey]: value } };
        } else args[i] = { ...target, [key]: value };
      } else args[i] = value;
      return args;
    });
  return fc.oneof(wild, mutated);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** Calls `call` and fails unless it returned, or threw or rejected with a CujuError. */
async function onlyTypedErrors(what: string, call: () => unknown): Promise<void> {
  let thrown: unknown;
  try {
    await call();
    return;
  } catch (err) {
    thrown = err;
  }
  // A typed error of @cuju/qmp passes too: CujuMonitor hands its transport's errors on as they are.
  if (thrown instanceof sdk.CujuError || thrown instanceof QmpError) return;
  const shown = thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown);
  throw new Error(`${what} threw something other than a CujuError:\n${shown}`);
}

// ---------------------------------------------------------------------------------------
// The sandbox

let scratch: string;
let savedCwd: string;
let savedPath: string | undefined;
let closedPort: number;
let sshd: Sshd | undefined;
let closedSsh: sdk.SshHost | undefined;
/** A real private key (so that SshHost.connect gets as far as connecting), when sshd is here. */
let userKey = 'not a key';

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'cuju-arguments-'));
  savedCwd = process.cwd();
  savedPath = process.env.PATH;
  closedPort = await freePort('127.0.0.2');
  if (hasSshd) {
    sshd = await startSshd();
    closedSsh = await sdk.SshHost.connect({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.userKey,
      hostKey: { knownHostsPath: sshd.knownHostsPath },
    });
    await closedSsh.close();
    userKey = sshd.userKey;
    await sshd.stop();
  }
  process.chdir(scratch);
  process.env.PATH = join(scratch, 'empty-path');
});

afterAll(async () => {
  process.chdir(savedCwd);
  process.env.PATH = savedPath;
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// What the package exports, and how each is called

/** The exports by name (a copy: the module namespace is read once, as a whole). */
const exported: Record<string, unknown> = { ...sdk };
type Constructor = abstract new (...args: never[]) => unknown;

const GFT_HOST = {
  gftId: 0,
  masterIp: '127.0.0.2',
  masterGftPort: 5000,
  masterMac: 'ae:ae:00:00:00:21',
  slaveIp: '127.0.0.3',
  slaveFtPort: 4441,
};

const VALID_SPEC = {
  monitorPath: 'vm1.monitor',
  nic: { tap: 'tap0', mac: 'ae:ae:00:00:00:25' },
  memory: '1G',
};

/** A VmProcess that has already exited (a LocalHost process started by absolute path). */
async function exitedVm(): Promise<sdk.VmProcess> {
  // The VM wrapper needs sh, flock and setsid: the real PATH while it starts and ends.
  const empty = process.env.PATH;
  process.env.PATH = savedPath;
  try {
    const vm = await new sdk.LocalHost().spawnVm([process.execPath, '-e', ''], { logPath: 'exited.log' });
    await vm.exited;
    return vm;
  } finally {
    process.env.PATH = empty;
  }
}

function pair(): sdk.FtPair {
  const host = new sdk.LocalHost();
  return new sdk.FtPair({
    build: 'master',
    primary: host,
    backup: host,
    vm: VALID_SPEC,
    binary: { path: 'cuju-no-such-binary' },
    ftPort: 4441,
    timeouts: { launchMs: 1_000, syncMs: 1_000, failoverMs: 1_000 },
  });
}

/** Each function export: a valid call to mutate, or none (only arbitrary arguments). */
const FUNCTIONS: Record<string, { valid: () => Promise<unknown[]> | unknown[] }> = {
  checkVmSpec: { valid: () => [VALID_SPEC, 'spec'] },
  primaryArgv: { valid: () => [VALID_SPEC] },
  receiverArgv: { valid: () => [VALID_SPEC, { port: 4441, host: '0' }] },
  blockServerArgv: { valid: () => [VALID_SPEC, 5001] },
  blockClientArgv: { valid: () => [VALID_SPEC, { host: '127.0.0.2', port: 5001 }] },
  parseMarker: { valid: () => ['first commit'] },
  markerError: { valid: () => [{ kind: 'gft-add-host-bad-mac', command: 'gft_add_host' }] },
  prepareHost: {
    valid: () => [
      new sdk.LocalHost(),
      { source: '/nonexistent/cuju', buildQemu: { jobs: 2 }, hostPrep: { taps: ['tap0'] } },
    ],
  },
  waitForLine: { valid: async () => [await exitedVm(), 'line', { timeoutMs: 1_000 }] },
  buildsWithCommand: { valid: () => ['cuju-migrate-cancel'] },
  buildsWithOption: { valid: () => ['-gft-id'] },
  cujuBuild: { valid: () => ['groupft', 'build'] },
  detectBuildFromHelp: { valid: () => ['cuju-migrate-cancel  -- cancel the current VM fault tolerance\n'] },
  isCujuBuildName: { valid: () => ['master'] },
  monitorEndpointKey: { valid: () => [{ hmp: { path: 'vm1.monitor' } }] },
  parseCujuFtMode: { valid: () => ['cuju_ft_mode: 5\r\n'] },
  parseCujuInfoMigrate: { valid: () => ['GFT STATUS PRE\r\n', 'groupft'] },
  parseFtStarted: { valid: () => ['ft_started: 1\r\n'] },
  transitionOf: { valid: () => ['protected', 'down'] },
  checkColoOptions: { valid: () => [{ checkpointDelayMs: 200 }, 'colo'] },
};

/** The methods of the process-wide registry object (cujuFtRegistry), driven like functions. */
const REGISTRY: Record<string, () => unknown[]> = {
  markFt: () => ['hmp:unix:scratch-registry.sock'],
  clearFt: () => ['hmp:unix:scratch-registry.sock'],
  isFt: () => ['hmp:unix:scratch-registry.sock'],
  addJoinPort: () => ['127.0.0.2', 65_001],
  removeJoinPort: () => ['127.0.0.2', 65_001],
  isJoinPort: () => ['127.0.0.2', 65_001],
  snapshot: () => [],
};

/** An Hmp that answers every line with nothing, as Cuju does for commands that succeed. */
const silentHmp = (): Hmp => ({
  endpoint: 'silent',
  run: async () => '',
  close: async () => {},
});

interface ClassEntry {
  /** A valid constructor call to mutate; undefined: the constructor is not public (see `connect`). */
  construct?: () => unknown[];
  /** An instance whose methods are called (a fresh one per call). */
  instance: () => Promise<object> | object;
  /** A valid call of each public method (by name) to mutate. */
  methods: Record<string, () => unknown[]>;
  /** Static methods and a valid call of each. */
  statics?: Record<string, () => unknown[]>;
  /** Methods on the prototype that are not the class's API, with the reason. */
  notApi?: { names: string[]; reason: string };
}

const CLASSES: Record<string, ClassEntry> = {
  CujuMonitor: {
    construct: () => [silentHmp(), { build: 'master', endpointKey: 'silent' }],
    instance: () => new sdk.CujuMonitor(silentHmp(), { build: 'master' }),
    methods: {
      detectBuild: () => [{ timeoutMs: 1_000 }],
      observe: () => ['first commit'],
      enableFt: () => [{ timeoutMs: 1_000 }],
      disableFt: () => [{ timeoutMs: 1_000 }],
      startFt: () => [{ host: '127.0.0.3', port: 4441 }, { timeoutMs: 1_000 }],
      cancelFt: () => [{ timeoutMs: 1_000 }],
      adjustEpoch: () => [5_000, { timeoutMs: 1_000 }],
      failover: () => [{ timeoutMs: 1_000 }],
      ftMode: () => [{ timeoutMs: 1_000 }],
      ftStarted: () => [{ timeoutMs: 1_000 }],
      ftRunning: () => [{ timeoutMs: 1_000 }],
      status: () => [{ timeoutMs: 1_000 }],
      info: () => [{ timeoutMs: 1_000 }],
      gftAddHost: () => [GFT_HOST],
      gftAddHost2: () => [{ ...GFT_HOST, slaveJoinPort: 5001 }],
      gftInit: () => [],
      gftAddMember: () => [{ ...GFT_HOST, gftId: undefined }],
      gftAddBackup: () => [{ slaveIp: '127.0.0.3', slaveIncomingPort: 4444 }],
      gftMemberLiveMig: () => [{ host: '127.0.0.3', port: 4443 }],
      migratePause: () => [],
      migrateResume: () => [],
      close: () => [],
    },
    statics: {
      // Only a missing socket in the scratch directory is ever dialled (host/port forms
      // are all refused on 127.0.0.2's closed port, see the static driver's safeHost).
      connect: () => [{ hmp: { path: 'no-such-monitor.sock' } }, { build: 'master' }],
    },
    notApi: {
      names: ['require', 'isPrimary', 'know', 'supported', 'send', 'quiet'],
      reason:
        "TypeScript-private helpers of CujuMonitor: not part of its API (JavaScript can reach them, the contract doesn't)",
    },
  },
  LocalHost: {
    construct: () => [{ address: '127.0.0.2', redact: ['secret', /tok[e]n/] }],
    instance: () => new sdk.LocalHost({ redact: ['secret'] }),
    methods: {
      run: () => [['cuju-no-such-binary', 'arg'], { timeoutMs: 1_000, cwd: '.', check: true }],
      spawnVm: () => [['cuju-no-such-binary'], { logPath: 'vm.log' }],
      writeFile: () => ['file', 'content', { mode: 0o600 }],
      connectMonitor: () => ['no-such.sock'],
      adoptVm: () => [{ pid: 2 ** 22 + 1, logPath: 'no-such-vm.log' }],
      close: () => [],
      redact: () => ['a secret'],
    },
  },
  SshHost: {
    instance: () => {
      if (!closedSsh) throw new Error('sshd is required (requireSshd)');
      return closedSsh;
    },
    methods: {
      run: () => [['true'], { timeoutMs: 1_000 }],
      spawnVm: () => [['true'], { logPath: 'vm.log' }],
      writeFile: () => ['file', 'content', { mode: 0o600 }],
      connectMonitor: () => ['m.sock'],
      adoptVm: () => [{ pid: 2 ** 22 + 1, logPath: 'no-such-vm.log' }],
      close: () => [],
      redact: () => ['text'],
    },
    statics: {
      connect: () => [
        {
          host: '127.0.0.2',
          port: closedPort,
          username: 'cuju',
          privateKey: userKey,
          hostKey: { sha256: `SHA256:${'A'.repeat(43)}` },
          readyTimeoutMs: 5_000,
        },
      ],
    },
  },
  FtPair: {
    construct: () => [
      {
        primary: new sdk.LocalHost(),
        backup: new sdk.LocalHost(),
        vm: VALID_SPEC,
        backupVm: { monitorPath: 'vm1r.monitor' },
        binary: { path: 'cuju-no-such-binary', args: [] },
        ftPort: 4441,
        logDir: '.',
        sudo: false,
        timeouts: { launchMs: 1_000 },
      },
    ],
    instance: pair,
    methods: {
      up: () => [{ signal: new AbortController().signal }],
      start: () => [{ signal: new AbortController().signal }],
      turnOn: () => [{ ftPort: 4442, backupVm: { monitorPath: 'vm1r.monitor' } }],
      restartSecondary: () => [{ ftPort: 4442, backupVm: { monitorPath: 'vm1r.monitor' } }],
      turnOff: () => [{ signal: new AbortController().signal }],
      testFailover: () => [{ timeoutMs: 1_000 }],
      down: () => [{ signal: new AbortController().signal }],
      record: () => [],
      detach: () => [],
      toJSON: () => [],
    },
    statics: {
      // A record with no VM: attach() adopts nothing and finds the pair stopped.
      attach: () => [
        {
          version: 1,
          engine: 'cuju',
          variant: 'master',
          state: 'stopped',
          hosts: {
            primary: { name: 'local', address: '127.0.0.1' },
            backup: { name: 'local', address: '127.0.0.1' },
          },
          vm: VALID_SPEC,
          ftPort: 4441,
          savedAt: '2026-01-01T00:00:00.000Z',
        },
        { hosts: { local: new sdk.LocalHost() }, binary: { path: 'cuju-no-such-binary' } },
      ],
    },
  },
};

CLASSES.BlockServerPair = {
  construct: () => [blockServerPairOptions()],
  instance: () => new sdk.BlockServerPair(blockServerPairOptions()),
  methods: {
    up: () => [{ signal: new AbortController().signal }],
    testFailover: () => [{ timeoutMs: 1_000 }],
    turnOff: () => [],
    restartSecondary: () => [{ ftPort: 4442 }],
    down: () => [],
    plan: () => [],
  },
};

/** A block-server pair on this machine (one host), its server on a monitor socket of its own. */
function blockServerPairOptions(): sdk.BlockServerPairOptions {
  const host = new sdk.LocalHost();
  return {
    build: 'blk-server',
    primary: host,
    backup: host,
    vm: VALID_SPEC,
    binary: { path: 'cuju-no-such-binary' },
    ftPort: 4441,
    blockServer: { host, listenPort: 5001, joinPort: 4000, vm: { monitorPath: 'blk.monitor' } },
    timeouts: { launchMs: 1_000, syncMs: 1_000, failoverMs: 1_000 },
  };
}

/** Exports deliberately not driven here, each with the reason. Asserted below, so the list stays true. */
const EXCLUDED: Record<string, string> = {
  CUJU_BUILD_NAMES: 'data (a frozen list), not a function',
  CUJU_BUILDS: 'data (the build profiles), not a function',
  CUJU_FT_MODES: 'data (a frozen table), not a function',
  CUJU_OPTIONS: 'data (a frozen list), not a function',
  cujuFtRegistry: 'an object of methods: each is driven below (REGISTRY)',
  FT_PAIR_EVENTS: 'data (a frozen list), not a function',
  FT_PAIR_STATES: 'data (a frozen list), not a function',
  FT_PAIR_TRANSITIONS: 'data (the transition table), not a function',
  CujuEngine:
    "the engine seam's implementation for engine authors (COLO, group FT): FtPair calls it with the sessions it owns; users reach it only through FtPair, driven above",
  ColoEngine:
    "the COLO engine behind FtPair (engine: 'colo'): its constructor takes the colo options, whose check (checkColoOptions) is driven above; FtPair calls the rest with the sessions it owns",
  COLO_DISK: 'data (the block graph names of colo.disk), not a function',
  COLO_NETWORK: 'data (the object ids of colo.network), not a function',
  QEMU_CHECKPOINT_DELAY_MS: "data (QEMU's default x-checkpoint-delay), not a function",
  SessionOwner:
    'the engine seam: the set of VM sessions an FtPair (or a group) owns; only FtPair and engines call it with their own sessions',
  VmSession:
    'the engine seam: a VM session FtPair and engines create (launch/adopt) from specs FtPair has already checked; users reach it only through FtPair',
};

/** Error classes are excluded by kind: the SDK constructs them with the facts it found; users catch them. */
const ERROR_CLASSES = [
  'CujuArgumentError',
  'CujuBlockServerPlacementError',
  'CujuBuildDetectError',
  'CujuCommandError',
  'CujuError',
  'CujuJoinPortError',
  'CujuMonitorDuringFtError',
  'CujuOutputError',
  'CujuUnsafeCommandError',
  'CujuUnsupportedCommandError',
  'CujuUnsupportedOptionError',
  'FtAckError',
  'FtPairError',
  'GftAlreadyStartedError',
  'GftBadMacError',
  'GftInitAckError',
  'GftLeaderConnectError',
  'GftMemberConnectError',
  'HostAbortedError',
  'HostAuthError',
  'HostBinaryMissingError',
  'HostCommandError',
  'HostConnectError',
  'HostDisconnectedError',
  'HostError',
  'HostKeyError',
  'HostSudoError',
  'HostTimeoutError',
  'MigrationLoadError',
  'PrepareHostError',
  'QemuReportedError',
];

/** What a VmProcess (returned by spawnVm) offers: the interface's methods. */
const VM_PROCESS_METHODS: Record<string, () => unknown[]> = {
  onLine: () => [() => {}],
  kill: () => ['SIGTERM'],
};

const RUNS = { numRuns: 60 };

function isErrorClass(value: unknown): boolean {
  return typeof value === 'function' && value.prototype instanceof Error;
}

function isClass(value: unknown): value is Constructor {
  return typeof value === 'function' && /^class\b/.test(Function.prototype.toString.call(value));
}

describe('the public API refuses bad arguments with typed errors only', () => {
  const names = Object.keys(exported).sort();

  it('accounts for every export: driven below, an error class, or excluded with a reason', () => {
    const errors = names.filter((n) => isErrorClass(exported[n]));
    expect(errors).toEqual(ERROR_CLASSES);
    // The error tree: every error class is a CujuError (HostError included).
    for (const n of errors.filter((e) => e !== 'CujuError')) {
      expect((exported[n] as Constructor).prototype, n).toBeInstanceOf(sdk.CujuError);
    }
    const rest = names.filter((n) => !isErrorClass(exported[n]));
    const unaccounted = rest.filter((n) => !(n in FUNCTIONS) && !(n in CLASSES) && !(n in EXCLUDED));
    expect(unaccounted, 'exports with no entry in FUNCTIONS, CLASSES or EXCLUDED').toEqual([]);
    for (const n of Object.keys(FUNCTIONS)) expect(isClass(exported[n]), n).toBe(false);
    for (const n of Object.keys(CLASSES)) expect(isClass(exported[n]), n).toBe(true);
    for (const n of [...Object.keys(FUNCTIONS), ...Object.keys(CLASSES), ...Object.keys(EXCLUDED)]) {
      expect(names, `${n} is listed but not exported`).toContain(n);
    }
  });

  for (const [name, entry] of Object.entries(FUNCTIONS)) {
    it(`${name}()`, async () => {
      const fn = exported[name] as (...args: unknown[]) => unknown;
      const valid = await entry.valid();
      await fc.assert(
        fc.asyncProperty(argumentsFor(valid, fn.length), (args) =>
          onlyTypedErrors(`${name}(${args.length} arguments)`, () => fn(...args)),
        ),
        RUNS,
      );
    });
  }

  for (const [name, entry] of Object.entries(CLASSES)) {
    const Class = exported[name] as unknown as (new (...args: unknown[]) => object) & Record<string, unknown>;
    const needsSshd = name === 'SshHost';

    it.runIf(!needsSshd || hasSshd)(`${name}: its prototype holds only the methods listed`, async () => {
      const own = Object.getOwnPropertyNames(Class.prototype).filter((key) => {
        const d = Object.getOwnPropertyDescriptor(Class.prototype, key);
        return key !== 'constructor' && typeof d?.value === 'function';
      });
      expect(own.sort()).toEqual([...Object.keys(entry.methods), ...(entry.notApi?.names ?? [])].sort());
      const statics = Object.getOwnPropertyNames(Class).filter((k) => typeof Class[k] === 'function');
      expect(statics.sort()).toEqual(Object.keys(entry.statics ?? {}).sort());
    });

    it(`new ${name}()`, async () => {
      await fc.assert(
        fc.asyncProperty(argumentsFor(entry.construct?.() ?? [], Class.length), (args) =>
          onlyTypedErrors(`new ${name}(...)`, () => new Class(...args)),
        ),
        RUNS,
      );
    });

    for (const [method, valid] of Object.entries(entry.statics ?? {})) {
      it(`${name}.${method}()`, async () => {
        const fn = Class[method] as (...args: unknown[]) => unknown;
        // `host` is where SshHost.connect sends packets: only values that are refused are
        // generated for it (anything but a string, or a string no host name can be), so
        // that no name is ever looked up or connected to outside 127.0.0.2.
        const refused = ['', 'a b', '-oProxyCommand=x', 'a,b', 'a\nb'];
        // A host may also sit one level down (CujuMonitor.connect's `{ hmp: { host, port } }`).
        const hostsIn = (v: unknown): unknown[] => {
          if (typeof v !== 'object' || v === null) return [];
          const inner = Object.values(v).filter((x) => typeof x === 'object' && x !== null);
          return [Reflect.get(v, 'host'), ...inner.map((x) => Reflect.get(x as object, 'host'))];
        };
        const safeHost = (a: unknown[]) =>
          hostsIn(a[0]).every((h) => typeof h !== 'string' || h === '127.0.0.2' || refused.includes(h));
        const args = fc.oneof(
          argumentsFor(valid(), fn.length).filter(safeHost),
          fc
            .oneof(
              anything.filter((v) => typeof v !== 'string'),
              fc.constantFrom(...refused),
            )
            .map((host) => [{ ...(valid()[0] as object), host }]),
        );
        await fc.assert(
          fc.asyncProperty(args, async (a) => {
            await onlyTypedErrors(`${name}.${method}(...)`, async () => {
              const made = await fn.apply(Class, a);
              if (made instanceof sdk.SshHost) await made.close();
            });
          }),
          { numRuns: 40 },
        );
      });
    }

    for (const [method, valid] of Object.entries(entry.methods)) {
      it.runIf(!needsSshd || hasSshd)(`${name}.prototype.${method}()`, async () => {
        const probe = (await entry.instance()) as Record<string, (...args: unknown[]) => unknown>;
        const arity = probe[method]!.length;
        await fc.assert(
          fc.asyncProperty(argumentsFor(valid(), arity), async (args) => {
            const instance = (await entry.instance()) as Record<string, (...a: unknown[]) => unknown>;
            try {
              await onlyTypedErrors(`${name}.${method}(...)`, () => instance[method]!(...args));
            } finally {
              // A detached pair refuses down() (typed): it has nothing of its own to stop.
              if (instance instanceof sdk.FtPair || instance instanceof sdk.BlockServerPair) {
                await instance.down().catch((err: unknown) => {
                  if (!(err instanceof sdk.FtPairError)) throw err;
                });
              }
            }
          }),
          RUNS,
        );
      });
    }
  }

  it('cujuFtRegistry: its methods are the ones driven here', () => {
    expect(Object.keys(sdk.cujuFtRegistry).sort()).toEqual(Object.keys(REGISTRY).sort());
  });

  for (const [method, valid] of Object.entries(REGISTRY)) {
    it(`cujuFtRegistry.${method}()`, async () => {
      const fn = (sdk.cujuFtRegistry as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
      await fc.assert(
        fc.asyncProperty(argumentsFor(valid(), fn.length), (args) =>
          onlyTypedErrors(`cujuFtRegistry.${method}(...)`, () => fn.apply(sdk.cujuFtRegistry, args)),
        ),
        RUNS,
      );
      // Nothing arbitrary stays recorded: the registry guards real VMs.
      for (const key of sdk.cujuFtRegistry.snapshot().ftEndpoints) sdk.cujuFtRegistry.clearFt(key);
    });
  }

  for (const [method, valid] of Object.entries(VM_PROCESS_METHODS)) {
    it(`VmProcess.${method}() (what spawnVm returns)`, async () => {
      const vm = await exitedVm();
      await fc.assert(
        fc.asyncProperty(argumentsFor(valid(), 1), (args) =>
          onlyTypedErrors(`VmProcess.${method}(...)`, () =>
            (vm as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args),
          ),
        ),
        RUNS,
      );
    });
  }

  it("leaves out FtPair's inherited EventEmitter methods, and only those", () => {
    // on, once, emit, ... are Node's API (they throw Node's ERR_INVALID_ARG_TYPE); the
    // methods FtPair itself defines are driven above.
    expect(Object.getPrototypeOf(sdk.FtPair.prototype)).toBe(EventEmitter.prototype);
  });
});
