/**
 * `cuju monitor --socket PATH [--qmp|--hmp]`: an interactive monitor shell (node:readline)
 * with history (kept in a file between sessions) and tab completion from the build
 * profile or the live QMP schema; `--execute LINE` runs lines without a prompt. The
 * protocol is @cuju/qmp's (HmpClient, QmpClient); nothing here speaks it.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';
import { HmpClient, QmpClient, QmpCommandError } from '@cuju/qmp';
import type { CommandContext } from '../context.js';
import { CliError, toCliError } from '../errors.js';
import { parseQmpLine } from './qmp-line.js';
import { completer, hmpVocabulary, qmpVocabulary, type Vocabulary } from './vocabulary.js';

/** Options of `cuju monitor`. */
export interface MonitorShellOptions {
  socket: string;
  protocol: 'hmp' | 'qmp';
  execute?: string[];
  /** The history file, or false for none. */
  history: string | false;
  input?: Readable;
}

/** The history file by default: $CUJU_MONITOR_HISTORY, or ~/.cuju_monitor_history. */
export function defaultHistoryFile(): string {
  return process.env.CUJU_MONITOR_HISTORY ?? join(homedir(), '.cuju_monitor_history');
}

function loadHistory(file: string | false): string[] {
  if (!file) return [];
  try {
    // readline wants the newest first.
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 1000);
  } catch {
    return [];
  }
}

/** One connected monitor, as the shell uses it. */
interface Session {
  vocab: Vocabulary;
  banner: string;
  /** Runs one line; resolves with the text to print. */
  run(line: string, signal: AbortSignal): Promise<{ output: string; value?: unknown }>;
  onEvent(listener: (text: string, event: unknown) => void): void;
  close(): Promise<void>;
}

async function openHmp(path: string, signal: AbortSignal): Promise<Session> {
  const client = await HmpClient.connect({ path, signal });
  try {
    const vocab = hmpVocabulary(await client.run('help', { signal }));
    return {
      vocab,
      banner: `${client.banner}${vocab.build ? ` (Cuju build ${vocab.build})` : ''}`,
      async run(line, s) {
        const output = await client.run(line, { signal: s });
        return { output: output.replace(/\r\n/g, '\n').replace(/\n$/, '') };
      },
      onEvent() {},
      close: () => client.close(),
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}

async function openQmp(path: string, signal: AbortSignal): Promise<Session> {
  const client = await QmpClient.connect({ path, signal });
  try {
    const vocab = qmpVocabulary(await client.schema({ signal }));
    const version = await client.execute('query-version', undefined, { signal });
    return {
      vocab,
      banner: `QMP, QEMU ${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}${version.package ? ` (${version.package.trim()})` : ''}`,
      async run(line, s) {
        const { command, args } = parseQmpLine(line);
        const value = await client.execute(command, args as never, { signal: s });
        return { output: JSON.stringify(value, bigintSafe, 2), value };
      },
      onEvent(listener) {
        client.on('event', (e) =>
          listener(`event ${e.event} ${JSON.stringify(e.data ?? {}, bigintSafe)}`, e),
        );
      },
      close: () => client.close(),
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Runs the shell until EOF (Ctrl-D), or the `--execute` lines; resolves with how many lines failed. */
export async function monitorShell(ctx: CommandContext, o: MonitorShellOptions): Promise<void> {
  const { out, signal } = ctx;
  const session = o.protocol === 'qmp' ? await openQmp(o.socket, signal) : await openHmp(o.socket, signal);
  let failed = 0;
  const runLine = async (line: string): Promise<void> => {
    try {
      const { output, value } = await session.run(line, signal);
      out.record('reply', { line, ...(value === undefined ? { output } : { return: value }) });
      if (output !== '') out.line(output);
    } catch (err) {
      failed++;
      if (signal.aborted) throw err;
      const e = toCliError(err);
      const desc = err instanceof QmpCommandError ? `${err.errorClass}: ${err.desc}` : e.message;
      out.record('error', { line, code: e.code, message: desc });
      out.note(`error: ${desc}`);
    }
  };
  try {
    out.record('connected', {
      socket: o.socket,
      protocol: o.protocol,
      banner: session.banner,
      build: session.vocab.build ?? null,
    });
    if (o.execute && o.execute.length > 0) {
      for (const line of o.execute) await runLine(line);
    } else {
      await interactive(ctx, o, session, runLine);
    }
  } finally {
    await session.close().catch(() => {});
  }
  if (failed > 0) throw new CliError('CLI_FAILED', `${failed} command(s) failed`);
}

async function interactive(
  ctx: CommandContext,
  o: MonitorShellOptions,
  session: Session,
  runLine: (line: string) => Promise<void>,
): Promise<void> {
  const { out } = ctx;
  const input = o.input ?? process.stdin;
  const terminal = Boolean((input as { isTTY?: boolean }).isTTY) && !out.json;
  const rl: Interface = createInterface({
    input,
    output: out.streams.stdout,
    terminal,
    completer: completer(session.vocab),
    history: loadHistory(o.history),
    historySize: 1000,
    removeHistoryDuplicates: true,
    prompt: o.protocol === 'qmp' ? '(QEMU) ' : '(qemu) ',
  });
  out.line(`${session.banner}; Tab completes, Ctrl-D ends`);
  session.onEvent((text, event) => {
    out.record('event', { event });
    if (!out.json) {
      out.streams.stdout.write(`\r${text}\n`);
      if (terminal) rl.prompt(true);
    }
  });
  // Ctrl-C at the prompt clears the line, as in a shell; during a command it aborts the run.
  rl.on('SIGINT', () => {
    out.streams.stdout.write('^C\n');
    rl.prompt();
  });
  const closed = new Promise<void>((resolve) => rl.once('close', resolve));
  ctx.signal.addEventListener('abort', () => rl.close(), { once: true });
  rl.prompt();
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (line !== '') {
        if (o.history) appendFileSync(o.history, `${line}\n`, { mode: 0o600 });
        rl.pause();
        await runLine(line);
        rl.resume();
      }
      rl.prompt();
    }
  } finally {
    rl.close();
    await closed;
  }
  out.line('');
}
