/**
 * Reading a spec or record file: YAML (`.yaml`, `.yml`) or JSON (anything else that
 * starts with `{`), and checking it with a zod schema into typed data. Every error names
 * the file and the path inside it (`members[2].mac`, `vm.nic.mac`), the way an editor
 * would show it.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { CliError } from './errors.js';

/** `a.b[2].c` from zod's path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The file's text, or CLI_NOT_FOUND / CLI_FAILED naming it. */
export function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT')
      throw new CliError('CLI_NOT_FOUND', `${what} ${file} does not exist`, { cause: err });
    throw new CliError('CLI_FAILED', `cannot read ${what} ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The file parsed as YAML or JSON (untyped), or CLI_SPEC naming the line. */
export function parseSpecText(text: string, file: string): unknown {
  const isYaml = /\.ya?ml$/i.test(file) || !/^\s*[[{]/.test(text);
  try {
    return isYaml ? parseYaml(text, { prettyErrors: true }) : JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    throw new CliError('CLI_SPEC', `${file}: not valid ${isYaml ? 'YAML' : 'JSON'}: ${message}`, {
      cause: err,
    });
  }
}

/** The file checked against the schema: typed data, or CLI_SPEC naming `file: path: problem`. */
export function checkSpec<S extends z.ZodType>(schema: S, data: unknown, file: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = formatPath(issue.path);
  throw new CliError('CLI_SPEC', `${file}: ${path === '' ? '(top level)' : path}: ${issue.message}`, {
    path: path === '' ? undefined : path,
    cause: result.error,
  });
}

/** Reads, parses and checks a spec file. */
export function loadSpec<S extends z.ZodType>(schema: S, file: string, what = 'spec file'): z.output<S> {
  return checkSpec(schema, parseSpecText(readText(file, what), file), file);
}
