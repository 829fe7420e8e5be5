/** What the splitter needs of an oclif flag definition. */
export interface FlagShape {
  readonly type: string;
  readonly char?: string | undefined;
}

/** Flags whose presence names the target: after one, the first positional is the command. */
const TARGET_FLAGS = new Set(['name', 'pid', 'oci']);
/** The help flags of lxc-attach (-h, -?, --help): all give the attach's help. */
const HELP = new Set(['-h', '-?', '--help']);

/**
 * The options end at the first argument that is not one, after the target:
 * `-n c1 ls -l /etc` runs `ls -l /etc`, and `-n c1 sh -c 'echo a'` runs
 * `sh -c 'echo a'` (`--` still ends them too). Without -n, --pid or --oci
 * the first positional is the container's name, as lxc-attach's, and the
 * next one starts the command. Returns argv with `--` put before the
 * command, so that oclif reads no option of the command's, and lxc-attach's
 * help flags -h and -? spelt --help. A flag that takes a value takes the
 * next argument unless that is an option (as oclif: then it has none, and
 * -e alone means every privilege); `-nc1`, `--name=c1` and groups of short
 * flags (`-qn c1`) are read as oclif reads them.
 *
 * (lxc-attach's getopt permutes instead: it reads `-l /etc` in
 * `lxc-attach -n c1 ls -l /etc` as its own log priority and runs `ls`.)
 */
export function splitCommand(argv: readonly string[], flags: Readonly<Record<string, FlagShape>>): string[] {
  const byChar = new Map(Object.entries(flags).filter(([, f]) => f.char).map(([name, f]) => [f.char!, name]));
  const takesValue = (name: string | undefined) => name !== undefined && flags[name]?.type === 'option';
  const isOption = (arg: string | undefined) => arg !== undefined && arg.length > 1 && arg.startsWith('-');
  const out: string[] = [];
  let target = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return [...out, ...argv.slice(i)];
    if (HELP.has(arg)) {
      out.push('--help');
      continue;
    }
    if (!isOption(arg)) {
      if (!target) {
        // The name without -n.
        target = true;
        out.push(arg);
        continue;
      }
      return [...out, '--', ...argv.slice(i)];
    }
    out.push(arg);
    let name: string | undefined;
    let valueFollows = false;
    if (arg.startsWith('--')) {
      name = arg.slice(2).split('=')[0];
      valueFollows = !arg.includes('=') && takesValue(name);
    } else {
      for (let j = 1; j < arg.length; j++) {
        name = byChar.get(arg[j]!);
        if (name === undefined) break; // oclif reports it
        if (takesValue(name)) {
          valueFollows = j === arg.length - 1;
          break;
        }
      }
    }
    if (name !== undefined && TARGET_FLAGS.has(name)) target = true;
    if (valueFollows && i + 1 < argv.length && !isOption(argv[i + 1])) out.push(argv[++i]!);
  }
  return out;
}
