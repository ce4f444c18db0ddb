/**
 * Drives cuju-sim the way the seed scripts drive Cuju: as a process with a command line,
 * through raw sockets (never through @cuju/qmp: the simulator is the peer our client is
 * tested against, so its tests must not share the client's code or its assumptions).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/cuju-sim.mjs', import.meta.url));

export interface SimProcess {
  child: ChildProcess;
  /** stdout so far, and a wait for a line. */
  stdout(): string;
  stderr(): string;
  waitForStdout(text: string, ms?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

const all: SimProcess[] = [];

/** A readline monitor `<dir>/<name>.monitor` and a QMP one `<dir>/<name>.qmp`, as the seeds' lines give them. */
export function monitorOptions(dir: string, name: string): string[] {
  return [
    '-chardev',
    `socket,id=mon,path=${join(dir, `${name}.monitor`)},server,nowait`,
    '-mon',
    'chardev=mon,id=monitor,mode=readline',
    '-qmp',
    `unix:${join(dir, `${name}.qmp`)},server,nowait`,
  ];
}

export function startSim(args: string[], options: { cwd?: string } = {}): SimProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, CUJU_SIM_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  // 'close', not 'exit': it comes once stdout and stderr are drained, so a test that
  // awaits `exited` sees everything the process printed.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const w of waiters.splice(0)) w();
  });
  const sim: SimProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitForStdout(text, ms = 60_000) {
      const deadline = Date.now() + ms;
      while (!out.includes(text)) {
        if (gone)
          throw new Error(
            `cuju-sim exited before printing ${JSON.stringify(text)}; stdout: ${out} stderr: ${err}`,
          );
        if (Date.now() > deadline)
          throw new Error(`no ${JSON.stringify(text)} on stdout within ${ms} ms; stdout: ${out}`);
        await Promise.race([
          new Promise<void>((r) => waiters.push(r)),
          new Promise((r) => setTimeout(r, 50)),
        ]);
      }
    },
    exited,
    kill(signal = 'SIGKILL') {
      if (!gone) child.kill(signal);
    },
  };
  all.push(sim);
  return sim;
}

/** Kills every simulator a test started (afterEach). */
export async function killAll(): Promise<void> {
  const sims = all.splice(0);
  for (const s of sims) s.kill('SIGKILL');
  await Promise.all(sims.map((s) => s.exited));
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-sim-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function waitForPath(path: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(path) || !(await accepts({ path }))) {
    if (Date.now() > deadline) throw new Error(`${path} did not accept connections within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function waitForPort(host: string, port: number, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await accepts({ host, port }))) {
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not accept connections within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function accepts(where: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(where);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** True when nothing listens on host:port any more (it can be bound again). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/**
 * A TCP port that was free on every address a moment ago (the simulator binds 0.0.0.0 for
 * -incoming tcp:0 and join ports), never the same one twice in a test process: the
 * kernel may offer a port again once its probe socket is closed.
 */
export async function port(): Promise<number> {
  for (;;) {
    const p = await probePort();
    if (!handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
}

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const { port: p } = srv.address() as { port: number };
      srv.close(() => resolve(p));
    });
  });
}

/** A raw readline-monitor session: what `echo CMD | nc -U` does, kept open. */
export class RawHmp {
  private buffer = '';
  private waiter: (() => void) | undefined;
  readonly banner: Promise<string>;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => {
      this.buffer += s;
      this.waiter?.();
    });
    this.banner = this.until('(qemu) ').then((t) => t);
  }

  static async open(path: string): Promise<RawHmp> {
    const socket = createConnection({ path });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const h = new RawHmp(socket);
    await h.banner;
    return h;
  }

  /** The raw bytes of the last exchange: the echo of the typed line, then the output. */
  lastRaw = '';

  /** Types a line and returns what came between the echo's CRLF and the next prompt. */
  async run(line: string): Promise<string> {
    this.socket.write(`${line}\n`);
    const raw = await this.until('\r\n(qemu) ', true);
    this.lastRaw = raw;
    const echoEnd = raw.indexOf('\r\n');
    return raw.slice(echoEnd + 2);
  }

  private async until(marker: string, promptAtEnd = false, ms = 60_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const at = this.buffer.indexOf(marker);
      // For command output the prompt must start a line: echo CRLF output... (qemu) .
      if (at !== -1 && (!promptAtEnd || this.buffer.endsWith('(qemu) '))) {
        const end = promptAtEnd ? this.buffer.length - '(qemu) '.length : at + marker.length;
        const text = this.buffer.slice(0, promptAtEnd ? end : at);
        this.buffer = this.buffer.slice(promptAtEnd ? this.buffer.length : at + marker.length);
        return text;
      }
      if (Date.now() > deadline)
        throw new Error(`no ${JSON.stringify(marker)} within ${ms} ms; got ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A raw QMP session: JSON lines in, JSON lines out, events collected. */
export class RawQmp {
  private buffer = '';
  readonly messages: Array<Record<string, unknown>> = [];
  private waiter: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => {
      this.buffer += s;
      let nl = this.buffer.indexOf('\n');
      while (nl !== -1) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line) this.messages.push(JSON.parse(line) as Record<string, unknown>);
        nl = this.buffer.indexOf('\n');
      }
      this.waiter?.();
    });
  }

  static async open(where: { path: string } | { host: string; port: number }): Promise<RawQmp> {
    const socket = createConnection(where);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawQmp(socket);
  }

  send(message: unknown): void {
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  sendRaw(text: string): void {
    this.socket.write(text);
  }

  /** Waits for the first message (from index `from`) that matches. */
  async wait(
    match: (m: Record<string, unknown>) => boolean,
    ms = 60_000,
    from = 0,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no matching QMP message within ${ms} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
    }
  }

  /** Sends a command with an id and resolves with its reply. */
  async call(execute: string, args?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = `t${Math.random().toString(36).slice(2)}`;
    this.send({ execute, ...(args ? { arguments: args } : {}), id });
    return this.wait((m) => m.id === id);
  }

  async negotiate(): Promise<Record<string, unknown>> {
    const greeting = await this.wait((m) => 'QMP' in m);
    await this.call('qmp_capabilities');
    return greeting;
  }

  events(name: string): Array<Record<string, unknown>> {
    return this.messages.filter((m) => m.event === name);
  }

  close(): void {
    this.socket.destroy();
  }
}
