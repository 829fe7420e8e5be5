import type { StdioOption } from '../executor/launch.js';

/**
 * The kinds of target a request can name, by kind. The core knows a process
 * by pid; a target plugin adds its own kind by declaration merging
 * (`declare module '@attachkit/core' { interface AttachTargets { lxc: {...} } }`)
 * and a TargetResolver that takes it.
 */
export interface AttachTargets {
  pid: { readonly pid: number };
}

/** Whom to attach to. */
export type AttachTarget = AttachTargets[keyof AttachTargets];

/** lxc-attach's -e names: privileges the attached process keeps (the stages that impose them step aside). */
export type ElevatedPrivilege = 'CGROUP' | 'CAP' | 'LSM';

export type EnvPolicy = 'keep' | 'clear';

/**
 * One attach, as the CLI or a program asks for it. Plugins read the fields
 * that concern them; `extensions` carries options of third-party stages.
 */
export interface AttachRequest {
  readonly target: AttachTarget;
  /** argv of the command; when absent, the default shell. */
  readonly command?: readonly string[];
  /** Working directory inside the container; default: the caller's, else /. */
  readonly cwd?: string;
  readonly env?: {
    readonly policy?: EnvPolicy;
    /** -v NAME=VALUE */
    readonly set?: Readonly<Record<string, string>>;
    /** --keep-var NAME, with policy 'clear'. */
    readonly keep?: readonly string[];
  };
  /**
   * -e: privileges kept (CGROUP: no cgroup move; CAP: no capability drop;
   * LSM: no LSM label and no seccomp profile). When given, it alone decides,
   * with or without `namespaces`: `[]` keeps nothing. When absent, a request
   * with `namespaces` keeps them all (lxc-attach's `-s` implies `-e`) and one
   * without keeps none. lxc-attach applies `-s` and `-e` in command-line
   * order, the last winning: a CLI sets this for `-s … -eCAP` (only CAP
   * kept) and leaves it out for `-s` alone or `-eCAP -s …` (all kept).
   */
  readonly elevated?: readonly ElevatedPrivilege[];
  /** -s: namespace names to join (MOUNT, PID, ...); absent: all the target has. Without `elevated`, keeps every privilege (see `elevated`). */
  readonly namespaces?: readonly string[];
  /** -R: without the mount namespace, remount /proc and /sys for the joined namespaces. */
  readonly remountSysProc?: boolean;
  /** -u: uid inside the target, or a user name looked up in the target's own /etc/passwd. */
  readonly uid?: number | string;
  /** -g: gid inside the target, or a group name from the target's /etc/group. */
  readonly gid?: number | string;
  /** --groups: supplementary groups inside the target (lxc-attach drops them all). */
  readonly groups?: readonly (number | string)[];
  /** -a: personality, by LXC's architecture names (x86, i686, x86_64, amd64, linux32, ...). */
  readonly arch?: string;
  /** -c: SELinux context for the attached process. */
  readonly selinuxContext?: string;
  /** -L: record the pty's output in this file. */
  readonly ptyLog?: string;
  /**
   * Fds of the caller the command keeps, as fds 3, 4, … in this order; every
   * other fd is closed before exec. The CLI's `--preserve-fds N` (runc's
   * flag) passes the caller's 3 … 3+N-1 through as the same numbers.
   */
  readonly preserveFds?: readonly number[];
  /**
   * Gives up the start when aborted: until the command has been exec'd, every
   * process of the attach is killed and reaped, and spawn() rejects with an
   * AttachError (code AK_ABORTED unless the reason is an AttachError itself).
   */
  readonly signal?: AbortSignal;
  /** Milliseconds the command has to start (be exec'd) before the attach gives up, as `signal` does. */
  readonly startTimeout?: number;
  /** stdio of the attached process; default: inherit all three. */
  readonly stdio?: readonly [StdioOption, StdioOption, StdioOption];
  readonly extensions?: Readonly<Record<string, unknown>>;
}

export function hasTargetPid(target: AttachTarget): target is AttachTargets['pid'] {
  return 'pid' in target && Object.keys(target).length === 1;
}
