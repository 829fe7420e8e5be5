import type { ElevatedPrivilege } from '@attachkit/core';

/** lxc-attach's -e names. */
export const PRIVILEGES: readonly ElevatedPrivilege[] = ['CGROUP', 'CAP', 'LSM'];

/**
 * lxc-attach's -e takes an optional value: `-e` alone elevates everything.
 * oclif flags cannot be optional-valued, so a bare -e (followed by nothing,
 * `--`, or another option) gets the full list spelled out.
 */
export function expandBareElevated(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    out.push(arg);
    if (arg === '--') {
      out.push(...argv.slice(i + 1));
      break;
    }
    const next = argv[i + 1];
    if ((arg === '-e' || arg === '--elevated-privileges') && (next === undefined || next.startsWith('-'))) {
      out.push(PRIVILEGES.join('|'));
    }
  }
  return out;
}

/**
 * The positional arguments (the name without -n, then the command), in the
 * order given. Not oclif's `argv`: for a non-strict command oclif sorts it by
 * each value's first position in the whole input (parser/parse.js), which
 * scrambles a command that repeats a token of the options: `-u 5 -- id -u`
 * would run `-u id`.
 */
export function positionals(raw: ReadonlyArray<{ readonly type: string; readonly input: string }>): string[] {
  return raw.filter((token) => token.type === 'arg').map((token) => token.input);
}
