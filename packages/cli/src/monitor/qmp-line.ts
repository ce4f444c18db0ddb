/**
 * qmp-shell's input syntax: `command name=value ...`, or a whole QMP command as JSON
 * (`{"execute": "...", "arguments": {...}}`). A value is read as JSON when it is JSON
 * (`true`, `5`, `"x"`, `{"a":1}`), as a string otherwise, as qmp-shell does; `a.b=1`
 * nests.
 */
import { CliError } from '../errors.js';

/** A QMP command read from a shell line. */
export interface QmpLine {
  command: string;
  args: Record<string, unknown> | undefined;
}

function value(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Parses one shell line; CLI_USAGE naming what is wrong. */
export function parseQmpLine(line: string): QmpLine {
  const text = line.trim();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new CliError('CLI_USAGE', `not valid JSON: ${(err as Error).message}`);
    }
    const o = parsed as { execute?: unknown; arguments?: unknown };
    if (typeof o.execute !== 'string') throw new CliError('CLI_USAGE', 'a JSON command needs "execute"');
    if (o.arguments !== undefined && (typeof o.arguments !== 'object' || o.arguments === null)) {
      throw new CliError('CLI_USAGE', '"arguments" must be an object');
    }
    return { command: o.execute, args: o.arguments as Record<string, unknown> | undefined };
  }
  const [command, ...rest] = text.split(/\s+/);
  if (!command) throw new CliError('CLI_USAGE', 'empty command');
  if (rest.length === 0) return { command, args: undefined };
  const args: Record<string, unknown> = {};
  for (const pair of rest) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError('CLI_USAGE', `argument ${JSON.stringify(pair)} is not name=value`);
    const keys = pair.slice(0, eq).split('.');
    let target = args;
    for (const key of keys.slice(0, -1)) {
      const next = target[key];
      if (next === undefined) target[key] = {};
      else if (typeof next !== 'object' || next === null)
        throw new CliError('CLI_USAGE', `argument ${key} is given twice`);
      target = target[key] as Record<string, unknown>;
    }
    target[keys[keys.length - 1]!] = value(pair.slice(eq + 1));
  }
  return { command, args };
}
