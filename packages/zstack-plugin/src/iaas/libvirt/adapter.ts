/**
 * The libvirt-only IaaS adapter: no manager above libvirt, the FT checkbox is our
 * `<metadata>` element on the domain (metadata.ts). It talks to each host's libvirt with
 * virsh (the @cuju/qmp libvirt transport's runner: no native addon, works over
 * `qemu+ssh://`), learns of changes from one `virsh event --all --loop` per host (hints
 * only; restarted with backoff, a `resync` hint after every restart), and writes the FT
 * status back as a second metadata element, which `virsh metadata` and `dumpxml` show.
 *
 * Managed VMs are the domains that carry either element (ticked, or ticked before);
 * backup domains (`cuju-bk-*`) are the service's own and never listed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpVirshError, runVirsh, type VirshBackoff, VirshLoop, type VirshTarget } from '@cuju/qmp';
import { FtServiceError } from '../../errors.js';
import {
  type CreateVm,
  CreateVm as CreateVmSchema,
  type FtIntentInput,
  type FtStatus,
  parseAt,
} from '../../model.js';
import type { IaasAdapter, IaasHint, IaasVm } from '../adapter.js';
import type { IaasCreator } from '../create.js';
import { iaasVmId } from '../sync.js';
import { BACKUP_PREFIX, type GuestDomainInput, guestDomain } from './domain-xml.js';
import {
  FT_INTENT_NS,
  FT_STATUS_KEY,
  FT_STATUS_NS,
  type PublishedStatus,
  parseIntentElement,
  parseStatusElement,
  statusElement,
} from './metadata.js';

/** One hypervisor host: the service's name for it and its libvirt URI. */
export interface LibvirtHostConnection {
  /** The service's host name (model `Host.name`). */
  host: string;
  /** libvirt URI: `qemu:///system`, `qemu+ssh://root@10.0.0.2/system`, ... */
  uri: string;
  /** The virsh program (default `virsh`). */
  virsh?: string;
}

/** How the adapter reaches libvirt and where backups may go. */
export interface LibvirtAdapterOptions {
  /** The hosts whose domains the adapter manages. */
  connections: LibvirtHostConnection[];
  /**
   * Service hosts that may hold a secondary besides the connections' own hosts (hosts
   * that run Cuju outside this libvirt). A VM's own host never qualifies.
   */
  backupHosts?: string[];
  /** Deadline of one virsh call. Default 15,000 ms. */
  callTimeoutMs?: number;
  /** Restart delays of the `virsh event --loop` children. */
  eventBackoff?: VirshBackoff;
  /**
   * Enables createVm (the console's create form makes a libvirt domain, its checkbox in
   * the metadata): how the new domains are made. Absent: createVm refuses (FTS_CONFIG).
   */
  create?: Pick<GuestDomainInput, 'type' | 'machine' | 'emulator' | 'vcpus'>;
  /** A domain whose metadata could not be read is left out of listVms() and reported here. */
  onProblem?: (problem: { host: string; iaasId: string; error: Error }) => void;
}

/** The adapter's name, also the prefix of its VM ids. */
export const LIBVIRT_ADAPTER_NAME = 'libvirt';

/** `virsh event --all` prints `event 'TYPE' for domain 'NAME': DETAIL`. */
const DOMAIN_EVENT = /^event '([\w-]+)' for domain '(.*?)'(?::|$)/;

/**
 * `cuju-bk-<domain uuid>`: the backup's name for a service VM id of this adapter, for
 * FtPairDriver's `backupName` (the pair's backup is named as a libvirt backup domain is).
 */
export function libvirtBackupName(vmId: string): string | undefined {
  const prefix = `${LIBVIRT_ADAPTER_NAME}-`;
  return vmId.startsWith(prefix) ? `${BACKUP_PREFIX}${vmId.slice(prefix.length)}` : undefined;
}

/** Domains read at the same time by listVms(). */
const LIST_CONCURRENCY = 4;

/** Maps `items` through `fn`, at most `limit` at a time, keeping the order; the first error wins. */
async function inPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    // After an error no worker starts another item: the call ends with its runs.
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** libvirt's state words folded into the adapter's three. */
function foldState(state: string): IaasVm['state'] {
  return state === 'shut off' || state === 'crashed' ? 'stopped' : 'running';
}

interface Info {
  name: string;
  uuid: string;
  state: string;
  memoryKiB: number;
  /** Defined (kept after shutdown), not only running. */
  persistent: boolean;
}

/** Reads `virsh dominfo` (LC_ALL=C): `Name:`, `UUID:`, `State:`, `Max memory:` lines. */
function parseDominfo(text: string, where: string): Info {
  const field = (key: string) => {
    const m = new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(text);
    if (!m) throw new FtServiceError('FTS_INTERNAL', `${where}: virsh dominfo printed no ${key}`);
    return m[1]!.trim();
  };
  const mem = /^(\d+) KiB$/.exec(field('Max memory'));
  if (!mem) throw new FtServiceError('FTS_INTERNAL', `${where}: virsh dominfo printed no memory size in KiB`);
  return {
    name: field('Name'),
    uuid: field('UUID').toLowerCase(),
    state: field('State'),
    memoryKiB: Number(mem[1]),
    persistent: field('Persistent') === 'yes',
  };
}

function checkOptions(options: LibvirtAdapterOptions): void {
  const bad = (field: string, why: string): never => {
    throw new FtServiceError('FTS_INVALID_INPUT', `${field}: ${why}`, { field });
  };
  if (typeof options !== 'object' || options === null) bad('options', 'must be an object');
  if (!Array.isArray(options.connections) || options.connections.length === 0) {
    bad('options.connections', 'must name at least one host');
  }
  const hosts = new Set<string>();
  options.connections.forEach((c, i) => {
    if (typeof c?.host !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(c.host)) {
      bad(`options.connections[${i}].host`, 'must be a service host name');
    }
    if (hosts.has(c.host)) bad(`options.connections[${i}].host`, `${c.host} is given twice`);
    hosts.add(c.host);
    if (typeof c.uri !== 'string' || c.uri.length === 0 || /[\0\n]/.test(c.uri)) {
      bad(`options.connections[${i}].uri`, 'must be a libvirt URI');
    }
  });
  (options.backupHosts ?? []).forEach((h, i) => {
    if (typeof h !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(h)) {
      bad(`options.backupHosts[${i}]`, 'must be a service host name');
    }
  });
}

/**
 * An async queue of hints fed by the event loops; iteration ends when the signal aborts.
 * Bounded: when the consumer lags, older vm-changed hints collapse into one `resync`.
 */
class HintQueue implements AsyncIterable<IaasHint> {
  private readonly items: IaasHint[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  push(hint: IaasHint): void {
    if (this.ended) return;
    if (this.items.length >= 256) this.items.splice(0, this.items.length, { kind: 'resync' });
    this.items.push(hint);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<IaasHint> {
    for (;;) {
      const next = this.items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

/** The libvirt-only adapter (see the file comment). */
export class LibvirtAdapter implements IaasAdapter, IaasCreator {
  readonly name = LIBVIRT_ADAPTER_NAME;
  private readonly connections: ReadonlyArray<LibvirtHostConnection & Required<Pick<VirshTarget, 'virsh'>>>;
  private readonly callTimeoutMs: number;
  private readonly closing = new AbortController();
  /** Domain name → UUID per host, learnt while listing, for events (which name domains). */
  private readonly uuids = new Map<string, Map<string, string>>();
  private readonly loops = new Set<VirshLoop>();
  /** Per domain UUID, whether its status must go into the live XML, the persistent one, or both. */
  private readonly writeFlags = new Map<string, string[]>();

  constructor(private readonly options: LibvirtAdapterOptions) {
    checkOptions(options);
    this.connections = options.connections.map((c) => ({ ...c, virsh: c.virsh ?? 'virsh' }));
    this.callTimeoutMs = options.callTimeoutMs ?? 15_000;
  }

  async listVms(signal?: AbortSignal): Promise<IaasVm[]> {
    const all: IaasVm[] = [];
    for (const conn of this.connections) {
      const out = await this.virsh(conn, ['list', '--all', '--uuid'], signal);
      const uuids = out
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      // A few domains at a time: each costs two or three virsh runs (tens of ms each).
      const found = await inPool(uuids, LIST_CONCURRENCY, async (uuid) => {
        try {
          return await this.readVm(conn, uuid, signal);
        } catch (err) {
          if (err instanceof QmpVirshError && err.failure === 'no-domain') return undefined; // gone meanwhile
          if (!(err instanceof FtServiceError) || err.code !== 'FTS_INVALID_INPUT') throw err;
          this.options.onProblem?.({ host: conn.host, iaasId: uuid, error: err });
          return undefined;
        }
      });
      for (const vm of found) if (vm) all.push(vm);
    }
    return all;
  }

  async getVm(iaasId: string, signal?: AbortSignal): Promise<IaasVm | undefined> {
    for (const conn of this.connections) {
      try {
        const vm = await this.readVm(conn, iaasId, signal);
        if (vm) return vm;
      } catch (err) {
        if (err instanceof QmpVirshError && err.failure === 'no-domain') continue;
        throw err;
      }
    }
    return undefined;
  }

  hints(signal: AbortSignal): AsyncIterable<IaasHint> {
    const queue = new HintQueue();
    const loops: VirshLoop[] = [];
    for (const conn of this.connections) {
      const loop = new VirshLoop({
        target: conn,
        args: ['event', '--all', '--loop'],
        onLine: (line) => {
          const m = DOMAIN_EVENT.exec(line);
          if (!m) return;
          const uuid = this.uuids.get(conn.host)?.get(m[2]!);
          // A domain not seen yet (defined since the last list): a full pass finds it.
          queue.push(uuid ? { kind: 'vm-changed', iaasId: uuid } : { kind: 'resync' });
        },
        // Events were lost while no virsh ran: look again at everything.
        onStart: (starts) => {
          if (starts > 1) queue.push({ kind: 'resync' });
        },
        ...(this.options.eventBackoff ? { backoff: this.options.eventBackoff } : {}),
      });
      loops.push(loop);
      this.loops.add(loop);
      loop.start();
    }
    const stop = () => {
      for (const loop of loops) {
        this.loops.delete(loop);
        void loop.stop();
      }
      queue.end();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    this.closing.signal.addEventListener('abort', stop, { once: true });
    return queue;
  }

  async candidateBackupHosts(vm: IaasVm): Promise<string[]> {
    const hosts = new Set([...this.connections.map((c) => c.host), ...(this.options.backupHosts ?? [])]);
    hosts.delete(vm.host);
    return [...hosts].sort();
  }

  async publishStatus(vm: IaasVm, status: FtStatus, signal?: AbortSignal): Promise<void> {
    const conn = this.connectionOf(vm.host);
    // A running persistent domain gets it in both its live and its stored XML, so the
    // status survives a restart; otherwise libvirt's "current" is the only one there is.
    const flags = this.writeFlags.get(vm.iaasId) ?? [];
    await this.virsh(
      conn,
      [
        'metadata',
        '--domain',
        vm.iaasId,
        '--uri',
        FT_STATUS_NS,
        '--key',
        FT_STATUS_KEY,
        '--set',
        statusElement(status),
        ...flags,
      ],
      signal,
    );
  }

  /**
   * The console's create form in libvirt: defines a persistent domain on the form's host
   * (default: the first connection) with the checkbox as our metadata element, starts it,
   * and resolves with it as listVms() will show it; the service learns of it through its
   * sync, like of any domain ticked with virsh.
   */
  async createVm(input: CreateVm, signal?: AbortSignal): Promise<IaasVm> {
    const defaults = this.options.create;
    if (!defaults) {
      throw new FtServiceError('FTS_CONFIG', 'the libvirt adapter has no create options (options.create)');
    }
    const form = parseAt(CreateVmSchema, input, 'body');
    const conn =
      form.host === undefined ? this.connections[0]! : this.connections.find((c) => c.host === form.host);
    if (!conn) {
      throw new FtServiceError(
        'FTS_INVALID_INPUT',
        `body.host: ${form.host} is not a libvirt host of this adapter`,
        {
          field: 'body.host',
        },
      );
    }
    const domain = guestDomain({ ...defaults, name: form.name, memoryMiB: form.memoryMiB, intent: form.ft });
    // virsh reads the XML from a file: a private temporary one, removed at once.
    const dir = await mkdtemp(join(tmpdir(), 'cuju-lv-create-'));
    try {
      const file = join(dir, 'domain.xml');
      await writeFile(file, domain.xml, { mode: 0o600 });
      await this.virsh(conn, ['define', '--file', file], signal);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await this.virsh(conn, ['start', '--domain', domain.uuid], signal);
    const vm = await this.readVm(conn, domain.uuid, signal);
    if (!vm) throw new FtServiceError('FTS_INTERNAL', `domain ${domain.name} lost its metadata after create`);
    return vm;
  }

  /** The status element the adapter last wrote on a domain, read back; undefined when none. */
  async readPublishedStatus(
    host: string,
    iaasId: string,
    signal?: AbortSignal,
  ): Promise<PublishedStatus | undefined> {
    const text = await this.metadata(this.connectionOf(host), iaasId, FT_STATUS_NS, signal);
    return text === undefined ? undefined : parseStatusElement(text, `${iaasId}.metadata.status`);
  }

  async close(): Promise<void> {
    this.closing.abort(new Error('adapter closed'));
    await Promise.all([...this.loops].map((l) => l.stop()));
    this.loops.clear();
  }

  private connectionOf(host: string) {
    const conn = this.connections.find((c) => c.host === host);
    if (!conn)
      throw new FtServiceError('FTS_NOT_FOUND', `host ${host} is not one of this adapter's connections`);
    return conn;
  }

  /** One domain as an IaasVm, or undefined when it is not ours to manage. */
  private async readVm(
    conn: LibvirtHostConnection,
    domain: string,
    signal?: AbortSignal,
  ): Promise<IaasVm | undefined> {
    const info = parseDominfo(await this.virsh(conn, ['dominfo', '--domain', domain], signal), domain);
    if (info.name.startsWith(BACKUP_PREFIX)) return undefined;
    const names = this.uuids.get(conn.host) ?? new Map<string, string>();
    this.uuids.set(conn.host, names);
    names.set(info.name, info.uuid);
    const running = foldState(info.state) === 'running';
    this.writeFlags.set(info.uuid, running && info.persistent ? ['--live', '--config'] : []);
    const intentText = await this.metadata(conn, info.uuid, FT_INTENT_NS, signal);
    const statusText =
      intentText === undefined ? await this.metadata(conn, info.uuid, FT_STATUS_NS, signal) : undefined;
    if (intentText === undefined && statusText === undefined) return undefined;
    const intent: FtIntentInput | undefined =
      intentText === undefined ? undefined : parseIntentElement(intentText, `${info.name}.metadata.ft`);
    return {
      id: iaasVmId(this.name, info.uuid),
      iaasId: info.uuid,
      name: info.name,
      host: conn.host,
      memoryMiB: Math.max(1, Math.round(info.memoryKiB / 1024)),
      state: foldState(info.state),
      // An unticked box (enabled="false") is "not ticked" to the service.
      ft: intent?.enabled ? intent : undefined,
    };
  }

  /** A metadata element's text, or undefined when the domain has none in that namespace. */
  private async metadata(
    conn: LibvirtHostConnection,
    domain: string,
    uri: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    try {
      const text = (await this.virsh(conn, ['metadata', '--domain', domain, '--uri', uri], signal)).trim();
      return text.length > 0 ? text : undefined;
    } catch (err) {
      if (err instanceof QmpVirshError && err.failure === 'no-metadata') return undefined;
      throw err;
    }
  }

  private virsh(conn: LibvirtHostConnection, args: string[], signal?: AbortSignal): Promise<string> {
    if (this.closing.signal.aborted) {
      return Promise.reject(new FtServiceError('FTS_SHUTTING_DOWN', 'the libvirt adapter is closed'));
    }
    const signals = signal ? [signal, this.closing.signal] : [this.closing.signal];
    return runVirsh(conn, args, { timeoutMs: this.callTimeoutMs, signal: AbortSignal.any(signals) });
  }
}
