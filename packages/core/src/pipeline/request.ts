import type { Readable } from 'node:stream';
import { AttachError, ErrorCodes } from '../errors.js';
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

/** lxc-attach's environment options: --keep-env / --clear-env, --keep-var, -v. */
export interface EnvOptions {
  readonly policy?: EnvPolicy;
  /** -v NAME=VALUE */
  readonly set?: Readonly<Record<string, string>>;
  /** --keep-var NAME, with policy 'clear'. */
  readonly keep?: readonly string[];
}

/** The environment request, one form: `exact` is a plain object's variables (child_process's `env`). */
export type NormalizedEnv =
  | { readonly exact: false; readonly policy: EnvPolicy; readonly set: Readonly<Record<string, string>>; readonly keep: readonly string[] }
  | { readonly exact: true; readonly set: Readonly<Record<string, string>> };

/**
 * Tell the two forms of AttachRequest.env apart. The policy form has only
 * the keys policy (a string 'keep' or 'clear'), set (an object) and keep
 * (an array); any other object whose values are all strings is a plain
 * environment. `{ policy: 'clear' }` is read as the policy form; anything
 * else (a mix, a non-string value) is refused as BAD_REQUEST.
 */
export function normalizeEnv(env: AttachRequest['env']): NormalizedEnv {
  if (env === undefined) return { exact: false, policy: 'keep', set: {}, keep: [] };
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, 'env must be an object: { policy, set, keep } or NAME → value');
  }
  const o = env as Record<string, unknown>;
  const keys = Object.keys(o);
  const policyForm = keys.every((k) =>
    (k === 'policy' && (o[k] === undefined || o[k] === 'keep' || o[k] === 'clear'))
    || (k === 'set' && (o[k] === undefined || (typeof o[k] === 'object' && o[k] !== null && !Array.isArray(o[k]))))
    || (k === 'keep' && (o[k] === undefined || Array.isArray(o[k]))));
  if (policyForm) {
    const { policy = 'keep', set = {}, keep = [] } = env as EnvOptions;
    return { exact: false, policy, set, keep };
  }
  for (const [name, value] of Object.entries(o)) checkVariable(name, value, 'env');
  return { exact: true, set: o as Record<string, string> };
}

function checkVariable(name: string, value: unknown, where: string): void {
  if (typeof value !== 'string') {
    throw new AttachError(ErrorCodes.BAD_REQUEST, `${where}: ${name} must be a string, not ${value === null ? 'null' : typeof value} (env is either { policy, set, keep } or a plain NAME → string object)`);
  }
  if (name === '' || name.includes('=') || name.includes('\0') || value.includes('\0')) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, `${where}: ${JSON.stringify(name)} is not a valid environment variable`);
  }
}

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
  /**
   * The command's environment, in one of two forms:
   *
   * - `{ policy, set, keep }`, lxc-attach's: the caller's environment
   *   (policy 'keep', the default) or only the `keep` names (policy 'clear',
   *   with LXC's PATH unless kept), then what the container gives a process
   *   entering it (its model's environment, `container=lxc` for LXC and a
   *   bare process), then `set` over them.
   * - a plain object `{ NAME: 'value', … }`, child_process's `env`: the
   *   environment is exactly these variables plus what the container model
   *   adds (`container=lxc`, an LXC container's configured variables, an OCI
   *   process's environment); these win over the model's. Nothing of the
   *   caller's environment is kept and no PATH is added (the command is then
   *   looked up in the default search path; give PATH to choose). HOME, when
   *   absent, is set by set-identity (ns-plugin) as for the policy form.
   *
   * An object that has only the keys policy ('keep' | 'clear'), set (an
   * object) and keep (an array) is the policy form; any other must have
   * string values only (see normalizeEnv).
   */
  readonly env?: EnvOptions | Readonly<Record<string, string>>;
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
  /** stdio of the attached process; default: inherit all three (stdin a pipe when `input` is given). */
  readonly stdio?: readonly [StdioOption, StdioOption, StdioOption];
  /**
   * Written to the command's stdin, which is then closed (end-of-file), as
   * child_process's and execa's `input`. Needs stdin 'pipe', or `stdio`
   * absent (stdin then becomes a pipe; stdout and stderr stay inherited);
   * another stdin is refused (BAD_REQUEST). A stream is piped in; a command
   * that exits without reading it all ends the writing quietly (EPIPE is not
   * an error). A stage that gives the command its own stdin (a pty) takes
   * precedence: the input is then not written.
   */
  readonly input?: string | Buffer | Uint8Array | Readable;
  /**
   * Milliseconds the RUNNING command may run, counted from its exec (the
   * start has `startTimeout`): then it is sent `killSignal` through its
   * pidfd, once, and `exited` reports that signal (SIGTERM: exit code 143)
   * unless the command handles it. Not armed for a released command after
   * release(). Default: no limit.
   */
  readonly timeout?: number;
  /** The signal `timeout` sends; default SIGTERM. */
  readonly killSignal?: NodeJS.Signals | number;
  /**
   * Give the command a new pseudo terminal of this size, whatever the
   * caller's own fds are (a daemon serving a web terminal has none): the pty
   * is the command's stdin, stdout and stderr and the controlling terminal of
   * its new session, and the caller gets its other side as
   * `AttachedProcess.terminal` (a duplex stream) with `resize()`. A stage
   * must provide it (the pty plugin's open-pty); a pipeline without one
   * refuses the request. `stdio` and `input` cannot be given with it.
   */
  readonly tty?: TtyOptions;
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** A terminal's size in character cells. */
export interface TtyOptions {
  readonly cols: number;
  readonly rows: number;
}

/** Refuse a malformed `tty`, or one combined with what it replaces (stdio, input), before anything starts. */
export function checkTty(request: AttachRequest): void {
  const { tty } = request;
  if (tty === undefined) return;
  if (tty === null || typeof tty !== 'object') throw new AttachError(ErrorCodes.BAD_REQUEST, 'tty must be { cols, rows }');
  checkTerminalSize(tty.cols, tty.rows, 'tty');
  if (request.stdio !== undefined) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, "tty: the pty is the command's stdin, stdout and stderr; stdio cannot be given with it");
  }
  if (request.input !== undefined) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, "tty: the command reads its terminal; write to the AttachedProcess's terminal instead of giving input");
  }
}

/** cols and rows: whole numbers from 1 to 65535 (struct winsize holds unsigned shorts). */
export function checkTerminalSize(cols: unknown, rows: unknown, where: string): void {
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 0xffff;
  if (!ok(cols) || !ok(rows)) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, `${where}: cols and rows must be whole numbers from 1 to 65535, not ${String(cols)} × ${String(rows)}`);
  }
}

export function hasTargetPid(target: AttachTarget): target is AttachTargets['pid'] {
  return 'pid' in target && Object.keys(target).length === 1;
}
