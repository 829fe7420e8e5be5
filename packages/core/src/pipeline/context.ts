import { readFileSync } from 'node:fs';
import { AttachError, ErrorCodes, SyscallError } from '../errors.js';
import { errnoName } from '../libc/errno.js';
import type { Libc } from '../libc/libc.js';
import type { SyscallTable } from '../libc/syscalls.js';
import { PreExecProgram, type ProgramEmitter } from '../program/program.js';
import type { AttachRequest } from './request.js';

/** A typed slot in the attach's shared state, for data one stage leaves for another. */
export interface ContextKey<T> {
  readonly name: string;
  /** Type carrier only; never set. */
  readonly __type?: T;
}
export function contextKey<T>(name: string): ContextKey<T> {
  return { name };
}

/**
 * A runtime's configuration as key → values (LXC's, read with its includes
 * expanded), for the runtime's own code: stages read the runtime-neutral
 * CONTAINER_MODEL, which the runtime's plugin maps this onto.
 */
export interface ContainerConfig {
  /** Every value of a key, in file order. */
  getAll(key: string): readonly string[];
  /** The last value of a key (LXC's rule for single-valued keys). */
  get(key: string): string | undefined;
}
export const CONTAINER_CONFIG = contextKey<ContainerConfig>('container-config');

/** The ids the command will run as inside the target (set by the stage that switches them). */
export const COMMAND_IDENTITY = contextKey<{ readonly uid: number; readonly gid: number }>('command-identity');

/** The process attached to, held by a pidfd from the first moment. */
export interface ResolvedTarget {
  /** Its pid in the caller's pid namespace. */
  readonly pid: number;
  readonly pidfd: number;
  /** How errors name it: `pid 4089`, `container c1 (init pid 4089)`. */
  readonly description: string;
}

/** What a stage sees while it plans: the request, the shared state, and a program view stamped with its id. */
export interface StageContext {
  readonly stage: string;
  readonly request: AttachRequest;
  readonly libc: Libc;
  readonly program: ProgramEmitter;
  /** The target; throws if no stage has resolved it yet. */
  readonly target: ResolvedTarget;
  setTarget(target: ResolvedTarget): void;
  /** The attached process's environment, built up by stages; the exec stage passes it. */
  readonly env: Map<string, string>;
  get<T>(key: ContextKey<T>): T | undefined;
  set<T>(key: ContextKey<T>, value: T): void;
  /** Run `cleanup` once the attach has started or failed (close the fds planning opened). */
  defer(cleanup: () => void): void;
  /**
   * Hand a value to the caller of Pipeline.spawn(), who reads it with
   * AttachedProcess.get(key): what a stage made that outlives planning (the
   * pty master). Should the attach fail instead, `discard` releases it.
   */
  publish<T>(key: ContextKey<T>, value: T, discard?: (value: T) => void): void;
  /** An AttachError stamped with this stage, for a failed operation (keeps the errno of a SyscallError). */
  error(operation: string, cause?: unknown): AttachError;
  /**
   * Run `read`, which reads the target through /proc/<pid>, then prove with
   * the target's pidfd that the pid still names the process we hold (a
   * recycled pid would be another's). Each failure is an AttachError naming
   * the stage, `read <file> of <target>`, the syscall and errno: gone (the
   * pidfd says so, or ENOENT/ESRCH of an exited process) → AK_TARGET
   * `<stage>: the target … exited during the attach`; denied (EACCES/EPERM)
   * → AK_TARGET `cannot read /proc/<pid>/…: permission denied (attaching to
   * another user's process needs root)`; anything else → AK_STAGE_FAILED.
   */
  readTarget<T>(read: () => T): T;
}

/** The state of one attach, shared by its stages. */
export class AttachSession {
  readonly program: PreExecProgram;
  readonly env = new Map<string, string>();
  /** What stages published for the caller (publish()). */
  readonly published = new Map<string, unknown>();
  private target: ResolvedTarget | undefined;
  private readonly store = new Map<string, unknown>();
  private readonly cleanups: Array<() => void> = [];
  private readonly discards: Array<() => void> = [];

  constructor(readonly request: AttachRequest, readonly libc: Libc, syscalls?: SyscallTable) {
    this.program = new PreExecProgram(syscalls);
  }

  get resolvedTarget(): ResolvedTarget | undefined {
    return this.target;
  }

  contextFor(stage: string): StageContext {
    const session = this;
    return {
      stage,
      request: this.request,
      libc: this.libc,
      program: this.program.emitter(stage),
      env: this.env,
      get target(): ResolvedTarget {
        if (!session.target) {
          throw new AttachError(ErrorCodes.STAGE_ORDER, `${stage}: needs the target, but no stage has resolved it (order it after 'resolve-target')`, { stage });
        }
        return session.target;
      },
      setTarget: (target) => { this.target = target; },
      get: <T>(key: ContextKey<T>) => this.store.get(key.name) as T | undefined,
      set: <T>(key: ContextKey<T>, value: T) => { this.store.set(key.name, value); },
      defer: (cleanup) => this.defer(cleanup),
      publish: (key, value, discard) => {
        this.published.set(key.name, value);
        if (discard) this.discards.push(() => discard(value));
      },
      error: (operation, cause) => stageError(stage, operation, cause),
      readTarget(read) {
        const { pidfd, description } = this.target;
        let value: ReturnType<typeof read>;
        try {
          value = read();
        } catch (cause) {
          throw readFailure(session.libc, stage, this.target, cause);
        }
        const end = pidfdGone(session.libc, pidfd);
        if (end !== undefined) {
          throw new AttachError(ErrorCodes.TARGET, `${stage}: the target ${description} exited during the attach`,
            { stage, operation: `signal 0 to the pidfd of ${description}`, syscall: end.syscall, errno: end.errno, cause: end });
        }
        return value;
      },
    };
  }

  /** Run `cleanup` at release. */
  defer(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  /** Run the deferred cleanups, last first; when the attach did not start, discard what was published first. */
  release(started: boolean): void {
    const discards = this.discards.splice(0).reverse();
    for (const cleanup of [...(started ? [] : discards), ...this.cleanups.splice(0).reverse()]) {
      try {
        cleanup();
      } catch {
        // A failed close must not hide the attach's own outcome.
      }
    }
  }
}

/**
 * Why a read of the target through /proc failed, as one AttachError naming
 * the stage, the file (and so the target's pid), the syscall and errno:
 * the target is gone (its pidfd says so, or ENOENT/ESRCH from a zombie's
 * /proc), the read is not allowed (EACCES/EPERM: another user's process),
 * or something else failed.
 */
function readFailure(libc: Libc, stage: string, target: ResolvedTarget, cause: unknown): AttachError {
  const { pid, pidfd, description } = target;
  const errno = cause instanceof SyscallError ? cause.errno : errnoOf(cause);
  const name = errno === undefined ? undefined : errnoName(errno);
  const path = (cause as { path?: unknown } | null)?.path;
  const file = typeof path === 'string' ? path : `/proc/${pid}/…`;
  const syscall = (cause as { syscall?: unknown } | null)?.syscall;
  const details = { stage, operation: `read ${file} of ${description}`, ...(typeof syscall === 'string' ? { syscall } : {}), ...(errno === undefined ? {} : { errno }), cause };
  const gone = pidfdGone(libc, pidfd);
  if (gone !== undefined || ((name === 'ENOENT' || name === 'ESRCH') && exitedButUnreaped(pid))) {
    return new AttachError(ErrorCodes.TARGET, `${stage}: the target ${description} exited during the attach`, details);
  }
  if (name === 'EACCES' || name === 'EPERM') {
    return new AttachError(ErrorCodes.TARGET,
      `${stage}: cannot read ${file}: permission denied (attaching to another user's process needs root)`, details);
  }
  if (errno !== undefined) return AttachError.fromErrno(ErrorCodes.STAGE_FAILED, { ...details, errno });
  return new AttachError(ErrorCodes.STAGE_FAILED, `${stage}: ${details.operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`, details);
}

/** The pidfd's word on the process: the SyscallError (ESRCH) once it is gone; EPERM (another user's) means alive. */
function pidfdGone(libc: Libc, pidfd: number): SyscallError | undefined {
  try {
    libc.pidfdSendSignal(pidfd, 0);
  } catch (err) {
    if (err instanceof SyscallError && errnoName(err.errno) !== 'EPERM') return err;
  }
  return undefined;
}

/** A zombie still answers its pidfd, but its /proc has no namespaces or fds any more: its state says it has exited. */
function exitedButUnreaped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch (err) {
    const name = errnoName(errnoOf(err) ?? 0);
    return name === 'ENOENT' || name === 'ESRCH';
  }
}

/**
 * What a stage threw without wrapping it (`when`: planning, the sync point),
 * as an AttachError naming the stage and, for a libc or fs failure, the call
 * itself: `open-pty: openat2(/dev/pts/ptmx) failed: EACCES (…)` rather than
 * `planning failed: EACCES`.
 */
export function escapedError(stage: string, when: string, cause: unknown): AttachError {
  if (cause instanceof SyscallError) {
    const call = cause.message.slice(0, cause.message.lastIndexOf(' failed: '));
    return AttachError.fromErrno(ErrorCodes.STAGE_FAILED, { stage, operation: call || cause.syscall, syscall: cause.syscall, errno: cause.errno, cause });
  }
  const { syscall, path } = (cause ?? {}) as { syscall?: unknown; path?: unknown };
  if (errnoOf(cause) !== undefined && typeof syscall === 'string') {
    return stageError(stage, typeof path === 'string' ? `${syscall} ${path}` : `${syscall} while ${when}`, cause);
  }
  return stageError(stage, when, cause);
}

export function stageError(stage: string, operation: string, cause?: unknown): AttachError {
  if (cause instanceof AttachError) return cause;
  if (cause instanceof SyscallError) {
    return AttachError.fromErrno(ErrorCodes.STAGE_FAILED, { stage, operation, syscall: cause.syscall, errno: cause.errno, cause });
  }
  const errno = errnoOf(cause);
  if (errno !== undefined) {
    return AttachError.fromErrno(ErrorCodes.STAGE_FAILED, { stage, operation, syscall: (cause as { syscall?: string }).syscall ?? 'unknown', errno, cause });
  }
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new AttachError(ErrorCodes.STAGE_FAILED, `${stage}: ${operation} failed${detail}`, { stage, operation, cause });
}

/** Node's fs errors carry a negative errno. */
function errnoOf(err: unknown): number | undefined {
  const n = (err as { errno?: unknown } | undefined)?.errno;
  return typeof n === 'number' ? Math.abs(n) : undefined;
}
