/**
 * How a long operation shows its progress. In a terminal: a live task list (listr2), one
 * task per step, each ticked off when the library's own state events say the step is
 * done, with the latest detail under the running one. With `--json`: one `state` line
 * per event. Without a terminal: listr2's plain renderer (a line per step). The steps
 * follow the library's events; nothing here decides whether a step succeeded.
 */
import { Listr } from 'listr2';
import type { Output } from './output.js';

/** A step of an operation: its title, and the states that mean it is done. */
export interface ProgressStep {
  title: string;
  /** The step is done once one of these states is reached (or a later step's). */
  doneAt: readonly string[];
}

/** A source of state events: an FtPair, a group. */
export interface StateSource {
  on(
    event: 'state',
    listener: (change: { state: string; detail?: string; reason?: string }) => void,
  ): unknown;
  off(
    event: 'state',
    listener: (change: { state: string; detail?: string; reason?: string }) => void,
  ): unknown;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
  settled: boolean;
}

function deferred(): Deferred {
  const d = { settled: false } as Deferred;
  d.promise = new Promise<void>((resolve, reject) => {
    d.resolve = () => {
      d.settled = true;
      resolve();
    };
    d.reject = (err) => {
      d.settled = true;
      reject(err);
    };
  });
  d.promise.catch(() => {});
  return d;
}

/** Runs `operation` while showing its steps; resolves or rejects as the operation does. */
export async function withProgress<T>(
  out: Output,
  source: StateSource,
  steps: readonly ProgressStep[],
  operation: () => Promise<T>,
): Promise<T> {
  if (out.json) {
    const onState = (c: { state: string; detail?: string; reason?: string }) =>
      out.record('state', {
        state: c.state,
        ...(c.reason ? { reason: c.reason } : {}),
        ...(c.detail ? { detail: c.detail } : {}),
      });
    source.on('state', onState);
    try {
      return await operation();
    } finally {
      source.off('state', onState);
    }
  }
  const done = steps.map(() => deferred());
  const details: ((text: string) => void)[] = [];
  let current = 0;
  const onState = (c: { state: string; detail?: string; reason?: string }) => {
    const index = steps.findIndex((s) => s.doneAt.includes(c.state));
    if (index >= 0) {
      for (let i = 0; i <= index; i++) if (!done[i]!.settled) done[i]!.resolve();
      current = Math.min(index + 1, steps.length - 1);
    }
    const text = `${c.state}${c.reason ? ` (${c.reason})` : ''}${c.detail ? `: ${c.detail}` : ''}`;
    details[current]?.(text);
  };
  source.on('state', onState);
  const running = operation();
  running.then(
    () => {
      for (const d of done) if (!d.settled) d.resolve();
    },
    (err) => {
      const first = done.find((d) => !d.settled);
      first?.reject(err);
      for (const d of done) if (!d.settled) d.reject(err);
    },
  );
  const list = new Listr(
    steps.map((step, i) => ({
      title: step.title,
      task: async (_ctx: unknown, task: { output: string }) => {
        details[i] = (text) => {
          task.output = text;
        };
        await done[i]!.promise;
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      registerSignalListeners: false,
      renderer: 'default',
      fallbackRenderer: 'simple',
      fallbackRendererCondition: () => !(out.streams.stdout as { isTTY?: boolean }).isTTY,
      rendererOptions: { collapseErrors: false },
    },
  );
  try {
    await list.run();
  } catch {
    // The operation's own error is what the command reports (below).
  } finally {
    source.off('state', onState);
  }
  return await running;
}
