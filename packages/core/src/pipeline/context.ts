import { AttachError, ErrorCodes, SyscallError } from '../errors.js';
import { errnoName } from '../libc/errno.js';
import type { Libc } from '../libc/libc.js';
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
   * recycled pid would be another's). When the pidfd says the process is
   * gone: `<stage>: the target … exited during the attach`; a read denied
   * (EACCES/EPERM) to a live process: `cannot read /proc/<pid>/…: permission
   * denied (attaching to another user's process needs root)`.
   */
  readTarget<T>(read: () => T): T;
}

/** The state of one attach, shared by its stages. */
export class AttachSession {
  readonly program = new PreExecProgram();
  readonly env = new Map<string, string>();
  /** What stages published for the caller (publish()). */
  readonly published = new Map<string, unknown>();
  private target: ResolvedTarget | undefined;
  private readonly store = new Map<string, unknown>();
  private readonly cleanups: Array<() => void> = [];
  private readonly discards: Array<() => void> = [];

  constructor(readonly request: AttachRequest, readonly libc: Libc) {}

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
        const { pid, pidfd, description } = this.target;
        const exited = (cause: unknown): AttachError => {
          const errno = cause instanceof SyscallError ? { syscall: cause.syscall, errno: cause.errno } : {};
          return new AttachError(ErrorCodes.TARGET, `${stage}: the target ${description} exited during the attach`, { stage, ...errno, cause });
        };
        // The pidfd alone says whether the process is gone: ESRCH. EPERM (a
        // process of another user) means it is alive.
        const gone = (): unknown => {
          try {
            session.libc.pidfdSendSignal(pidfd, 0);
          } catch (err) {
            if (!(err instanceof SyscallError) || errnoName(err.errno) !== 'EPERM') return err;
          }
          return undefined;
        };
        let value: ReturnType<typeof read>;
        try {
          value = read();
        } catch (cause) {
          const end = gone();
          if (end !== undefined) throw exited(cause);
          const errno = cause instanceof SyscallError ? cause.errno : errnoOf(cause);
          const name = errno === undefined ? undefined : errnoName(errno);
          if (name === 'EACCES' || name === 'EPERM') {
            const path = (cause as { path?: unknown }).path;
            const what = typeof path === 'string' ? path : `/proc/${pid}/…`;
            throw new AttachError(ErrorCodes.TARGET,
              `${stage}: cannot read ${what}: permission denied (attaching to another user's process needs root)`,
              { stage, operation: `read ${what}`, syscall: (cause as { syscall?: string }).syscall ?? 'open', errno, cause });
          }
          throw stageError(stage, `read /proc/${pid} of ${description}`, cause);
        }
        const end = gone();
        if (end !== undefined) throw exited(end);
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
