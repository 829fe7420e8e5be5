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

/** Short options that take no value: oclif reads a group such as `-Rs` or `-qeCAP` on past them. */
const SHORT_BOOLEANS = new Set(['R', 'q', 'd', 'h']);

/**
 * lxc-attach's -e and -s among the options (before `--`), in command-line
 * order: `-s UTSNAME -eCAP` → `['s', 'e']`.
 * lxc-attach applies them in that order, the last winning: -s elevates
 * every privilege, -e sets exactly the ones it names. Reads the options as
 * oclif does: `--namespaces[=V]`, `--elevated-privileges[=V]`, and a short
 * group (`-Rs`, `-qeCAP`) up to its first option that takes a value; a
 * token that is another option's value never looks like an option (oclif
 * refuses that).
 */
export function elevationOrder(argv: readonly string[]): Array<'e' | 's'> {
  const order: Array<'e' | 's'> = [];
  for (const arg of argv) {
    if (arg === '--') break;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0];
      if (name === 'elevated-privileges') order.push('e');
      else if (name === 'namespaces') order.push('s');
      continue;
    }
    if (!arg.startsWith('-')) continue;
    for (const c of arg.slice(1)) {
      if (c === 'e' || c === 's') order.push(c);
      if (!SHORT_BOOLEANS.has(c)) break;
    }
  }
  return order;
}

/** Whether an -s follows the last -e: then -s decides, and every privilege is elevated whatever that -e named. */
export function namespacesOverrideElevated(argv: readonly string[]): boolean {
  const order = elevationOrder(argv);
  return order.lastIndexOf('s') > order.lastIndexOf('e');
}
