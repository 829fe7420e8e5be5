import { defaultRoots } from '@attachkit/oci-plugin';
import type { FlagShape } from './command-line.js';
import { DEFAULT_LXCPATH } from './flags.js';
import { LOG_PRIORITIES } from './log.js';

export type CompletionShell = 'bash' | 'zsh';

/** The flags of each command that completion knows, by command id. */
export type CommandFlags = Readonly<Record<string, Readonly<Record<string, FlagShape>>>>;

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `-n`, `--name` of each flag (only the long name when it has no char). */
function spellings(flags: Readonly<Record<string, FlagShape>>, which: (name: string, f: FlagShape) => boolean = () => true): string[] {
  return Object.entries(flags).filter(([name, f]) => which(name, f)).flatMap(([name, f]) => [...(f.char ? [`-${f.char}`] : []), `--${name}`]);
}

/**
 * The completion script: bash's, and zsh's through bashcompinit. Plain shell,
 * no attachkit run per TAB: subcommands and each one's flags; -n and a name
 * without -n complete the containers of the lxcpath (-P, else the default:
 * its directories with a config file, as LXC defines a container); --oci the
 * container ids of the OCI state roots (--oci-root, else the usual ones);
 * -l LXC's priorities; paths for the flags that take one. Once the options
 * have ended (`--`, or the command's first word: command-line.ts), the
 * shell's own completion.
 */
export function completionScript(shell: CompletionShell, commands: CommandFlags): string {
  const valued = [...new Set(Object.values(commands).flatMap((flags) => spellings(flags, (_, f) => f.type === 'option')))];
  const roots = defaultRoots({}).map((r) => q(r.dir)).join(' ');
  const words = (id: string) => spellings(commands[id] ?? {}).join(' ');
  const ids = [...new Set(['attach', ...Object.keys(commands), 'autocomplete', 'help'])];
  return `${shell === 'zsh' ? 'autoload -U +X bashcompinit && bashcompinit\n' : ''}# attachkit completion (${shell}): eval "$(attachkit autocomplete ${shell})"
_attachkit_lxc_names() {
  local d
  [[ -n $ZSH_VERSION ]] && setopt localoptions nullglob
  for d in "\${1:-${DEFAULT_LXCPATH}}"/*/; do
    [[ -f "\${d}config" ]] || continue
    d=\${d%/}
    printf '%s\\n' "\${d##*/}"
  done
}
_attachkit_oci_ids() {
  local root d
  [[ -n $ZSH_VERSION ]] && setopt localoptions nullglob
  for root in "$@"; do
    for d in "$root"/*/; do
      [[ -f "\${d}state.json" || -f "\${d}status" ]] || continue
      d=\${d%/}
      printf '%s\\n' "\${d##*/}"
    done
  done
}
_attachkit() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local cmd=attach first=1 i word target= lxcpath=${q(DEFAULT_LXCPATH)} ociroot=
  local -a roots
  COMPREPLY=()
  if [[ $cur == = ]]; then cur=; prev=\${COMP_WORDS[COMP_CWORD-1]}; fi
  if [[ $prev == = ]]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
  case \${COMP_WORDS[1]} in
    ${ids.join('|')}) cmd=\${COMP_WORDS[1]}; first=2 ;;
  esac
  if (( COMP_CWORD == 1 )) && [[ $cur != -* ]]; then
    COMPREPLY=( $(compgen -W "${ids.join(' ')} $(_attachkit_lxc_names "$lxcpath")" -- "$cur") )
    return 0
  fi
  case $cmd in
    help) (( COMP_CWORD == 2 )) && COMPREPLY=( $(compgen -W "${ids.filter((id) => id !== 'help').join(' ')}" -- "$cur") ); return 0 ;;
    autocomplete) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ); return 0 ;;
    attach|stages) ;;
    *) [[ $cur == -* ]] && COMPREPLY=( $(compgen -W "\${_attachkit_flags[$cmd]}" -- "$cur") ); return 0 ;;
  esac
  # The words before this one: their options, and where the options end.
  for (( i = first; i < COMP_CWORD; i++ )); do
    word=\${COMP_WORDS[i]}
    case $word in
      --) return 0 ;;
      -P|--lxcpath) lxcpath=\${COMP_WORDS[i+1]} ;;
      -P?*) lxcpath=\${word#-P} ;;
      --oci-root) ociroot=\${COMP_WORDS[i+1]} ;;
    esac
    [[ \${COMP_WORDS[i+1]} == = && $word == --* ]] && case $word in --lxcpath) lxcpath=\${COMP_WORDS[i+2]} ;; --oci-root) ociroot=\${COMP_WORDS[i+2]} ;; esac
    case $word in
      -n|-n?*|--name|--pid|--oci) target=1 ;;
    esac
    case $word in
      ${valued.join('|')})
        if [[ \${COMP_WORDS[i+1]} == = ]]; then (( i += 2 )); else (( i++ )); fi ;;
      -?*) ;;
      *) [[ -n $target ]] && return 0; target=1 ;;
    esac
  done
  case $prev in
    -n|--name) COMPREPLY=( $(compgen -W "$(_attachkit_lxc_names "$lxcpath")" -- "$cur") ); return 0 ;;
    --oci)
      if [[ -n $ociroot ]]; then roots=("$ociroot"); else roots=(${roots} \${XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR/runc" "$XDG_RUNTIME_DIR/crun"}); fi
      COMPREPLY=( $(compgen -W "$(_attachkit_oci_ids "\${roots[@]}")" -- "$cur") ); return 0 ;;
    -l|--logpriority) COMPREPLY=( $(compgen -W "${LOG_PRIORITIES.join(' ')}" -- "$cur") ); return 0 ;;
    -P|--lxcpath|--oci-root|--cwd) COMPREPLY=( $(compgen -d -- "$cur") ); return 0 ;;
    -f|--rcfile|-o|--logfile|-L|--pty-log|--executor|--mount-host) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
    ${valued.join('|')}) return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=( $(compgen -W "\${_attachkit_flags[$cmd]}" -- "$cur") )
  elif [[ -z $target ]]; then
    COMPREPLY=( $(compgen -W "$(_attachkit_lxc_names "$lxcpath")" -- "$cur") )
  fi
  return 0
}
declare -gA _attachkit_flags=(${Object.keys(commands).map((id) => ` [${id}]=${q(words(id))}`).join('')} )
complete -o default -F _attachkit attachkit
`;
}
