/**
 * Shell completion for bash and zsh. The scripts are thin: they call `cuju __complete
 * WORD...` and offer what it prints, one candidate a line; the candidates come from the
 * commander tree itself (subcommands, options, argument choices), so they never drift
 * from the program. With no candidate the shells fall back to file names (spec files).
 */
import type { Command, Option } from 'commander';

/** The bash script: `source <(cuju completion bash)`. */
export const BASH_COMPLETION = `# cuju bash completion: source <(cuju completion bash)
_cuju() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  local IFS=$'\\n'
  local candidates
  candidates=$(cuju __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o default -F _cuju cuju
`;

/** The zsh script: `source <(cuju completion zsh)` (after compinit). */
export const ZSH_COMPLETION = `#compdef cuju
# cuju zsh completion: source <(cuju completion zsh), after compinit
_cuju() {
  local -a candidates
  candidates=("\${(@f)$(cuju __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if (( \${#candidates} )) && [[ -n "\${candidates[1]}" ]]; then
    compadd -- "\${candidates[@]}"
  else
    _files
  fi
}
compdef _cuju cuju
`;

function optionNames(options: readonly Option[]): string[] {
  return options.flatMap((o) => [o.long, o.short].filter((n): n is string => Boolean(n)));
}

/**
 * The candidates for the last of `words` (the word being completed, maybe empty), after
 * the words before it: walks subcommands, then offers the command's subcommands and
 * options, or an option's choices after an option that takes a value.
 */
export function completeWords(program: Command, words: readonly string[]): string[] {
  const current = words[words.length - 1] ?? '';
  let command = program;
  let pendingOption: Option | undefined;
  for (const word of words.slice(0, -1)) {
    if (pendingOption) {
      pendingOption = undefined;
      continue;
    }
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub) {
      command = sub;
      continue;
    }
    const option = command.options.find((o) => o.long === word || o.short === word);
    if (option && (option.required || option.optional)) pendingOption = option;
  }
  if (pendingOption) return (pendingOption.argChoices ?? []).filter((c) => c.startsWith(current));
  const subs = command.commands
    .filter((c) => !(c as unknown as { _hidden?: boolean })._hidden)
    .map((c) => c.name());
  // A positional argument with choices (`completion bash|zsh`): offer them.
  const choices = command.registeredArguments.flatMap((a) => a.argChoices ?? []);
  const candidates = current.startsWith('-')
    ? [...optionNames(command.options), '--help']
    : [...subs, ...choices];
  return [...new Set(candidates)].filter((c) => c.startsWith(current)).sort();
}
