import { describeErrno, errnoName } from './libc/errno.js';

/**
 * The error catalogue. Each code has a documented meaning and fix in
 * docs/errors.md; the message itself is one sentence a user can act on.
 */
export const ErrorCodes = {
  /** A stage's ordering constraints cannot be met (cycle, unknown id, duplicate id). */
  STAGE_ORDER: 'AK_STAGE_ORDER',
  /** The pipeline was changed after it was frozen. */
  PIPELINE_FROZEN: 'AK_PIPELINE_FROZEN',
  /** The request itself is invalid (bad option value, missing target). */
  BAD_REQUEST: 'AK_BAD_REQUEST',
  /** The target process or container cannot be found or has gone away. */
  TARGET: 'AK_TARGET',
  /** A stage's parent-side work failed (a syscall in the Node process). */
  STAGE_FAILED: 'AK_STAGE_FAILED',
  /** An operation of the pre-exec program failed in the executor. */
  OP_FAILED: 'AK_OP_FAILED',
  /** The command could not be executed (missing: exit 127, not executable: 126). */
  EXEC_FAILED: 'AK_EXEC_FAILED',
  /** The executor could not be started or broke the protocol, or the attached process died before exec. */
  EXECUTOR: 'AK_EXECUTOR',
  /** A plugin's registrations cannot be resolved: a stage DI cannot construct, a register() that throws. */
  PLUGIN: 'AK_PLUGIN',
  /** A stage declares a syscall number that disagrees with the core's table or another stage's, or none for this architecture. */
  SYSCALL_TABLE: 'AK_SYSCALL_TABLE',
  /** The attach was given up before the command started: a signal, an AbortSignal or the start timeout. */
  ABORTED: 'AK_ABORTED',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface AttachErrorDetails {
  /** The stage that failed, when one did. */
  stage?: string;
  /** What was being done, with its target: `setns(CLONE_NEWNS) on pid 4089`. */
  operation?: string;
  /** The failing libc function or syscall. */
  syscall?: string;
  errno?: number;
  /** The exit status the CLI should use (defaults to 1). */
  exitCode?: number;
  cause?: unknown;
}

/** Every failure of an attach: names the stage, the operation and its target, the syscall and errno. */
export class AttachError extends Error {
  readonly code: ErrorCode;
  readonly stage: string | undefined;
  readonly operation: string | undefined;
  readonly syscall: string | undefined;
  readonly errno: number | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, details: AttachErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AttachError';
    this.code = code;
    this.stage = details.stage;
    this.operation = details.operation;
    this.syscall = details.syscall;
    this.errno = details.errno;
    this.exitCode = details.exitCode ?? 1;
  }

  /** The errno's symbolic name (EPERM), when there is one. */
  get errnoName(): string | undefined {
    return this.errno === undefined ? undefined : errnoName(this.errno);
  }

  /** `stage: operation failed: EPERM (Operation not permitted)` */
  static fromErrno(code: ErrorCode, details: AttachErrorDetails & { operation: string; errno: number }): AttachError {
    const prefix = details.stage ? `${details.stage}: ` : '';
    return new AttachError(code, `${prefix}${details.operation} failed: ${describeErrno(details.errno)}`, details);
  }
}

/**
 * Whether `err` is an AttachError: every failure of an attach is one. A
 * guard that also holds across copies of this package (an AttachError made
 * by another copy of @attachkit/core has the same name and a known code).
 */
export function isAttachError(err: unknown): err is AttachError {
  if (err instanceof AttachError) return true;
  const e = err as { name?: unknown; code?: unknown } | null;
  return typeof e === 'object' && e !== null && e.name === 'AttachError' && (Object.values(ErrorCodes) as unknown[]).includes(e.code);
}

/**
 * Run `call`, work of the core's own (no stage's); its failure as an
 * AttachError (one already is kept): `operation` says what was being done;
 * a SyscallError or a Node fs error keeps its syscall and errno.
 */
export function coreCall<T>(code: ErrorCode, operation: string, call: () => T): T {
  try {
    return call();
  } catch (cause) {
    if (isAttachError(cause)) throw cause;
    const errno = cause instanceof SyscallError ? cause.errno : (cause as { errno?: unknown } | null)?.errno;
    if (typeof errno === 'number') {
      const syscall = (cause as { syscall?: unknown }).syscall;
      throw AttachError.fromErrno(code, { operation, errno: Math.abs(errno), ...(typeof syscall === 'string' ? { syscall } : {}), cause });
    }
    throw new AttachError(code, `${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { operation, cause });
  }
}

/** A libc call made from the Node process failed. */
export class SyscallError extends Error {
  readonly syscall: string;
  readonly errno: number;
  constructor(syscall: string, errno: number, detail?: string) {
    super(`${syscall}(${detail ?? ''}) failed: ${describeErrno(errno)}`);
    this.name = 'SyscallError';
    this.syscall = syscall;
    this.errno = errno;
  }
  get code(): string {
    return errnoName(this.errno);
  }
}
