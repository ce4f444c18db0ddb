/**
 * What the monitor shell completes: HMP command names from the build profile of the Cuju
 * build the monitor's `help` reveals (the SDK's detectBuildFromHelp and CUJU_BUILDS), or
 * from that `help` itself for a QEMU that is no Cuju build; QMP command names and their
 * argument names from the live `query-qmp-schema`, as qemu's qmp-shell does.
 */
import type { QmpSchema, SchemaInfoObject } from '@cuju/qmp';
import { CUJU_BUILDS, type CujuBuildName, detectBuildFromHelp } from '@cuju/sdk';

/** Completion candidates: command names, and argument candidates per command. */
export interface Vocabulary {
  /** The detected Cuju build, when the monitor is one (HMP). */
  build: CujuBuildName | undefined;
  commands: string[];
  /** For QMP: `name=` for each argument of a command. */
  argsOf(command: string): string[];
}

/** HMP command names from `help` (`NAME|ALIAS PARAMS -- HELP` lines). */
function namesFromHelp(help: string): string[] {
  const names = new Set<string>();
  for (const line of help.split(/\r?\n/)) {
    const first = line.split(' ', 1)[0];
    if (first && /^[a-z][\w-]*(\|[\w-]+)*$/i.test(first))
      for (const alias of first.split('|')) names.add(alias);
  }
  return [...names].sort();
}

/** The vocabulary of an HMP monitor, from its `help` text. */
export function hmpVocabulary(help: string): Vocabulary {
  const build = detectBuildFromHelp(help);
  const commands = build ? Object.keys(CUJU_BUILDS[build].commands).sort() : namesFromHelp(help);
  return { build, commands, argsOf: () => [] };
}

/** The vocabulary of a QMP monitor, from its schema. */
export function qmpVocabulary(schema: QmpSchema): Vocabulary {
  return {
    build: undefined,
    commands: schema.commandNames.sort(),
    argsOf(command) {
      const info = schema.command(command);
      const args = info ? schema.type(info['arg-type']) : undefined;
      if (args?.['meta-type'] !== 'object') return [];
      return (args as SchemaInfoObject).members.map((m) => `${m.name}=`);
    },
  };
}

/** readline's completer: the command word first, then (QMP) `name=` arguments. */
export function completer(vocab: Vocabulary): (line: string) => [string[], string] {
  return (line) => {
    const words = line.split(/\s+/);
    const current = words[words.length - 1] ?? '';
    const pool = words.length <= 1 ? vocab.commands : vocab.argsOf(words[0] ?? '');
    const hits = pool.filter((c) => c.startsWith(current));
    return [hits, current];
  };
}
