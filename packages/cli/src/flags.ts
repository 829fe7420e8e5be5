import { Flags } from '@oclif/core';
import type { AttachRequest, AttachTarget, ElevatedPrivilege } from '@attachkit/core';
import { DEFAULT_LXCPATH } from '@attachkit/lxc-plugin';
import '@attachkit/oci-plugin'; // its target kind: { oci, root? }
import { parseMountHost } from '@attachkit/host-plugin'; // and the request's execHost, mountHost
import { namespacesOverrideElevated, PRIVILEGES } from './argv.js';
import { LOG_PRIORITIES } from './log.js';

export { DEFAULT_LXCPATH };


/** The flags that describe an attach (lxc-attach's, and attachkit's extensions), shared by `attach` and `stages`. */
export const attachFlags = {
  name: Flags.string({ char: 'n', description: 'name of the container' }),
  pid: Flags.integer({ description: 'attach to the process with this pid instead (any process, not only LXC)', min: 1, exclusive: ['name', 'oci'] }),
  oci: Flags.string({ description: 'attach to this OCI container (runc, crun, Docker, containerd, Podman) by id or unique id prefix', exclusive: ['name', 'pid'] }),
  'oci-root': Flags.string({ description: "the OCI runtime's state root (runc --root); default: the usual roots of runc, crun, Docker and containerd", dependsOn: ['oci'] }),
  lxcpath: Flags.string({ char: 'P', description: `use this container path (default ${DEFAULT_LXCPATH})` }),
  rcfile: Flags.string({ char: 'f', description: "load this configuration file instead of the container's" }),
  'elevated-privileges': Flags.custom<string | undefined>({
    char: 'e',
    description: "keep these privileges, '|'-separated: CGROUP (no cgroup move), CAP (no capability drop), LSM (no LSM label or seccomp); alone: all; the last of -e and -s decides",
    // lxc-attach applies -s and -e in command-line order, the last winning:
    // an -e that an -s follows is no -e at all (-s elevates every privilege),
    // though, as there, its value must still be valid (toRequest reports it).
    parse: async (input, ctx) => (namespacesOverrideElevated(ctx.argv) && privilegesValid(input) ? undefined : input),
  })(),
  arch: Flags.string({ char: 'a', description: 'personality of the command (x86, i686, x86_64, amd64, linux32, linux64, ...)' }),
  namespaces: Flags.string({ char: 's', description: "namespaces to join, '|'-separated (MOUNT, PID, UTSNAME, IPC, USER, NETWORK, CGROUP, TIME); implies -e (all privileges) unless an -e follows it" }),
  'remount-sys-proc': Flags.boolean({ char: 'R', description: 'without the mount namespace, remount /proc and /sys for the joined namespaces' }),
  'clear-env': Flags.boolean({ description: 'start from a clean environment (PATH and container=lxc only)', exclusive: ['keep-env'] }),
  'keep-env': Flags.boolean({ description: "keep the caller's environment (the default)" }),
  'keep-var': Flags.string({ description: 'with --clear-env, keep this variable (repeatable)', multiple: true, dependsOn: ['clear-env'] }),
  'set-var': Flags.string({ char: 'v', description: 'set VAR=VALUE in the attached environment (repeatable)', multiple: true }),
  'pty-log': Flags.string({ char: 'L', description: "record the pty's output in this file" }),
  uid: Flags.string({ char: 'u', description: 'uid inside the container (or a user name from its /etc/passwd)' }),
  gid: Flags.string({ char: 'g', description: 'gid inside the container (or a group name from its /etc/group)' }),
  groups: Flags.string({ description: "supplementary groups inside the container, ','-separated (default: none)" }),
  context: Flags.string({ char: 'c', description: 'SELinux context for the command' }),
  cwd: Flags.string({ description: 'working directory inside the target (default: the current one if it exists there, else /)' }),
  'exec-host': Flags.boolean({ description: "run a program of the host (found with the caller's PATH) inside the container's isolation, from a sealed copy; a dynamic one with the host's loader and libraries, seen by it alone (docs/distroless.md)" }),
  'mount-host': Flags.string({ description: 'bind the host path SRC at DST for the command alone, read-only unless :rw; DST is created in its private view only (repeatable)', multiple: true, helpValue: 'SRC:DST[:rw]' }),
  'preserve-fds': Flags.integer({ description: "keep the caller's fds 3 … 3+N-1 open in the command, as the same numbers (runc's --preserve-fds); every other fd is closed", min: 0 }),
  // Read by main before parsing (log.ts, logOptionsFrom), since parse errors are reported too; declared for validation and help.
  logfile: Flags.string({ char: 'o', description: "append a log of the attach to this file ('none': no log)" }),
  logpriority: Flags.string({ char: 'l', description: `lowest priority logged, default ERROR (${LOG_PRIORITIES.join(', ')})`, options: [...LOG_PRIORITIES] }),
  quiet: Flags.boolean({ char: 'q', description: 'print no error message (the exit status is unchanged)' }),
};

export interface AttachFlagValues {
  name?: string | undefined;
  pid?: number | undefined;
  oci?: string | undefined;
  'oci-root'?: string | undefined;
  lxcpath?: string | undefined;
  rcfile?: string | undefined;
  /** The last -e when no -s follows it (`-s … -eCAP`); an -e before the last -s counts for nothing, as with lxc-attach. */
  'elevated-privileges'?: string | undefined;
  arch?: string | undefined;
  namespaces?: string | undefined;
  'remount-sys-proc'?: boolean | undefined;
  'clear-env'?: boolean | undefined;
  'keep-env'?: boolean | undefined;
  'keep-var'?: string[] | undefined;
  'set-var'?: string[] | undefined;
  'pty-log'?: string | undefined;
  uid?: string | undefined;
  gid?: string | undefined;
  groups?: string | undefined;
  context?: string | undefined;
  cwd?: string | undefined;
  'preserve-fds'?: number | undefined;
  'exec-host'?: boolean | undefined;
  'mount-host'?: string[] | undefined;
  logfile?: string | undefined;
}

/** Every '|'-separated token of an -e value is a privilege lxc-attach knows. */
function privilegesValid(value: string): boolean {
  return value.split('|').every((token) => PRIVILEGES.includes(token.trim() as ElevatedPrivilege));
}

const MAX_ID = 0xfffffffe; // (uid_t)-1 is "no change" for the kernel, never an id

/** `1000` → 1000; a name is kept for the stage that reads the container's passwd; anything else is refused. */
function parseId(value: string, what: string): number | string {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n > MAX_ID) throw new Error(`${what}: ${value} is not a valid id (0..${MAX_ID})`);
    return n;
  }
  if (/^[a-z_][a-z0-9_.-]*\$?$/i.test(value) && value.length <= 32) return value;
  throw new Error(`${what}: '${value}' is neither a numeric id nor a valid name`);
}

/** Flags (and, without -n, the first argument as the name, as lxc-attach) → request; refuses malformed values with one clear line. */
export function toRequest(flags: AttachFlagValues, argv: readonly string[]): AttachRequest {
  for (const [flag, what] of [['pty-log', '-L/--pty-log'], ['logfile', '-o/--logfile'], ['rcfile', '-f/--rcfile'], ['lxcpath', '-P/--lxcpath']] as const) {
    if (flags[flag] === '') throw new Error(`${what}: an empty path`);
  }
  const command = [...argv];
  let target: AttachTarget;
  if (flags.pid !== undefined) {
    target = { pid: flags.pid };
  } else if (flags.oci !== undefined) {
    if (flags.oci === '') throw new Error('--oci: an empty container id');
    target = { oci: flags.oci, ...(flags['oci-root'] !== undefined ? { root: flags['oci-root'] } : {}) };
  } else {
    const name = flags.name ?? command.shift();
    if (name === undefined) throw new Error('no container name specified (-n NAME, or --pid PID)');
    if (name === '' || name.includes('/') || name === '.' || name === '..') throw new Error(`invalid container name '${name}'`);
    target = {
      name,
      lxcpath: (flags.lxcpath ?? DEFAULT_LXCPATH).replace(/(.)\/+$/, '$1'),
      ...(flags.rcfile !== undefined ? { rcfile: flags.rcfile } : {}),
    };
  }

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

  // An -e here came after any -s, and alone decides what is kept; without one, -s keeps everything (AttachRequest.elevated).
  let elevated: ElevatedPrivilege[] | undefined;
  if (flags['elevated-privileges'] !== undefined) {
    elevated = flags['elevated-privileges'].split('|').map((token) => {
      const p = token.trim() as ElevatedPrivilege;
      if (!PRIVILEGES.includes(p)) throw new Error(`-e/--elevated-privileges: unknown privilege '${token}' (known: ${PRIVILEGES.join(', ')})`);
      return p;
    });
  }
  if (flags.context !== undefined && elevated?.includes('LSM')) throw new Error('-c/--context cannot be used with -e LSM');

  const mountHost = (flags['mount-host'] ?? []).map(parseMountHost);

  const groups = flags.groups === undefined ? undefined
    : flags.groups.split(',').filter(Boolean).map((g) => parseId(g, '--groups'));

  return {
    target,
    ...(command.length ? { command } : {}),
    ...(flags.cwd !== undefined ? { cwd: flags.cwd } : {}),
    ...(namespaces ? { namespaces } : {}),
    ...(elevated ? { elevated } : {}),
    ...(flags['remount-sys-proc'] ? { remountSysProc: true } : {}),
    ...(flags.uid !== undefined ? { uid: parseId(flags.uid, '-u/--uid') } : {}),
    ...(flags.gid !== undefined ? { gid: parseId(flags.gid, '-g/--gid') } : {}),
    ...(groups ? { groups } : {}),
    ...(flags.arch !== undefined ? { arch: flags.arch } : {}),
    ...(flags.context !== undefined ? { selinuxContext: flags.context } : {}),
    ...(flags['pty-log'] !== undefined ? { ptyLog: flags['pty-log'] } : {}),
    ...(flags['exec-host'] ? { execHost: true } : {}),
    ...(mountHost.length ? { mountHost } : {}),
    ...(flags['preserve-fds'] ? { preserveFds: Array.from({ length: flags['preserve-fds'] }, (_, i) => 3 + i) } : {}),
    env: { policy: flags['clear-env'] ? 'clear' : 'keep', set, keep: flags['keep-var'] ?? [] },
  };
}
