import { closeSync, readFileSync } from 'node:fs';
import { AttachError, ErrorCodes, O_CLOEXEC, O_RDONLY, openInRoot, SyscallError, type StageContext } from '@attachkit/core';

/**
 * Read a file of the target's own root filesystem, e.g. its /etc/passwd,
 * from the parent, without leaving that root (openInRoot) and never through
 * the host's NSS. `undefined` when it does not exist. `ownRoot` reads ours
 * instead (when the mount namespace is not joined).
 */
export function readTargetFile(ctx: StageContext, path: string, ownRoot = false): string | undefined {
  const { pid, description } = ctx.target;
  let fd: number;
  try {
    fd = openInRoot(ctx.libc, ownRoot ? 'self' : ctx.target, path, O_RDONLY | O_CLOEXEC);
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'ENOENT') return undefined;
    if (err instanceof SyscallError && err.syscall === 'pidfd_send_signal') {
      throw new AttachError(ErrorCodes.TARGET, `${ctx.stage}: the target ${description} exited during the attach`, { stage: ctx.stage, cause: err });
    }
    const root = ownRoot ? '/' : `/proc/${pid}/root`;
    const opening = (err as { syscall?: string }).syscall === 'open'; // the root itself
    throw ctx.error(opening ? `open(${root})` : `openat2(${root}, ${path}, RESOLVE_IN_ROOT)`, err);
  }
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
