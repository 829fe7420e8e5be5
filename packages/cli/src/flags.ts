import { Flags } from '@oclif/core';
import type { AttachRequest, ElevatedPrivilege } from '@attachkit/core';
import { PRIVILEGES } from './argv.js';

/** The flags that describe an attach, shared by `attach` and `stages`. */
export const attachFlags = {
  pid: Flags.integer({ description: 'attach to the process with this pid (any process, not only LXC)', min: 1, required: true }),
  'elevated-privileges': Flags.string({
    char: 'e',
    description: "keep these privileges, '|'-separated: CGROUP (no cgroup move), CAP (no capability drop), LSM (no LSM label); alone: all",
  }),
  namespaces: Flags.string({ char: 's', description: "namespaces to join, '|'-separated (MOUNT, PID, UTSNAME, IPC, USER, NETWORK, CGROUP, TIME)" }),
  'clear-env': Flags.boolean({ description: 'start from a clean environment (PATH and container=lxc only)', exclusive: ['keep-env'] }),
  'keep-env': Flags.boolean({ description: "keep the caller's environment (the default)" }),
  'keep-var': Flags.string({ description: 'with --clear-env, keep this variable (repeatable)', multiple: true, dependsOn: ['clear-env'] }),
  'set-var': Flags.string({ char: 'v', description: 'set VAR=VALUE in the attached environment (repeatable)', multiple: true }),
  cwd: Flags.string({ description: 'working directory inside the target (default: the current one if it exists there, else /)' }),
};

export interface AttachFlagValues {
  pid: number;
  'elevated-privileges'?: string | undefined;
  namespaces?: string | undefined;
  'clear-env'?: boolean | undefined;
  'keep-env'?: boolean | undefined;
  'keep-var'?: string[] | undefined;
  'set-var'?: string[] | undefined;
  cwd?: string | undefined;
}

/** Flags → request; refuses malformed values with one clear line. */
export function toRequest(flags: AttachFlagValues, command: readonly string[]): AttachRequest {
  const set: Record<string, string> = {};
  for (const entry of flags['set-var'] ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`-v/--set-var expects VAR=VALUE, got '${entry}'`);
    set[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  let namespaces: string[] | undefined;
  if (flags.namespaces !== undefined) {
    namespaces = flags.namespaces.split('|').map((s) => s.trim()).filter(Boolean);
    if (namespaces.length === 0) throw new Error('-s/--namespaces needs at least one namespace name');
  }
  let elevated: ElevatedPrivilege[] | undefined;
  if (flags['elevated-privileges'] !== undefined) {
    elevated = flags['elevated-privileges'].split('|').map((token) => {
      const p = token.trim() as ElevatedPrivilege;
      if (!PRIVILEGES.includes(p)) throw new Error(`-e/--elevated-privileges: unknown privilege '${token}' (known: ${PRIVILEGES.join(', ')})`);
      return p;
    });
  }
  return {
    target: { pid: flags.pid },
    ...(elevated ? { elevated } : {}),
    ...(command.length ? { command } : {}),
    ...(flags.cwd !== undefined ? { cwd: flags.cwd } : {}),
    ...(namespaces ? { namespaces } : {}),
    env: { policy: flags['clear-env'] ? 'clear' : 'keep', set, keep: flags['keep-var'] ?? [] },
  };
}

