import {
  AttachError, ErrorCodes, readLinesInRoot, SyscallError, TargetFileError, type ReadInRootOptions, type StageContext,
} from '@attachkit/core';
import { parseLines } from './passwd.js';

/**
 * The entries of a file of the target's own root filesystem, e.g. its
 * /etc/passwd, read from the parent without leaving that root (openat2
 * RESOLVE_IN_ROOT) and never through the host's NSS. The container owns the
 * file: it is read only if it is a regular file within the size cap, and
 * parsed line by line as it is read (readLinesInRoot). `[]` when it does not
 * exist. `ownRoot` reads ours instead (when the mount namespace is not joined).
 */
export function readTargetEntries<T>(
  ctx: StageContext, path: string, parseLine: (line: string) => T | undefined, ownRoot = false, options: ReadInRootOptions = {},
): T[] {
  try {
    return parseLines(readLinesInRoot(ctx.libc, ownRoot ? 'self' : ctx.target, path, options), parseLine);
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'ENOENT') return [];
    throw readFailure(ctx, path, ownRoot, err);
  }
}

/** One AttachError naming the stage, what was read and where. */
function readFailure(ctx: StageContext, path: string, ownRoot: boolean, err: unknown): AttachError {
  const { stage } = ctx;
  const { pid, description } = ctx.target;
  const inside = `/${path.replace(/^\/+/, '')}`;
  if (err instanceof TargetFileError) {
    const whose = ownRoot ? "the caller's" : "the target's";
    return new AttachError(ErrorCodes.STAGE_FAILED, `${stage}: ${whose} ${inside} ${err.problem}: refused`, { stage, operation: `reading ${whose} ${inside}`, cause: err });
  }
  if (err instanceof SyscallError && err.syscall === 'pidfd_send_signal') {
    return new AttachError(ErrorCodes.TARGET, `${stage}: the target ${description} exited during the attach`,
      { stage, operation: `pidfd_send_signal(0) on ${description}, alive while ${inside} was read`, syscall: err.syscall, errno: err.errno, cause: err });
  }
  const root = ownRoot ? '/' : `/proc/${pid}/root`;
  if (err instanceof SyscallError) return ctx.error(`openat2(${root}, ${path}, RESOLVE_IN_ROOT)`, err);
  const opening = (err as { path?: string }).path === root; // Node's open of the root itself
  return ctx.error(opening ? `open(${root})` : `reading ${inside} in ${root}`, err);
}
