import { closeSync, openSync, readFileSync } from 'node:fs';
import { AttachError, ErrorCodes, O_CLOEXEC, O_RDONLY, RESOLVE_IN_ROOT, SyscallError, type StageContext } from '@attachkit/core';

/**
 * Read a file of the target's own root filesystem, e.g. its /etc/passwd,
 * from the parent: through /proc/<pid>/root with openat2(RESOLVE_IN_ROOT),
 * so that no symlink or `..` inside the container can lead the read out to
 * a host file, and never through the host's NSS. `undefined` when it does
 * not exist. `ownRoot` reads ours instead (when the mount namespace is not joined).
 */
export function readTargetFile(ctx: StageContext, path: string, ownRoot = false): string | undefined {
  const { pid, pidfd, description } = ctx.target;
  const rootPath = ownRoot ? '/' : `/proc/${pid}/root`;
  let root: number;
  try {
    root = openSync(rootPath, 'r');
  } catch (err) {
    throw ctx.error(`open(${rootPath})`, err);
  }
  try {
    if (!ownRoot) ctx.libc.pidfdSendSignal(pidfd, 0); // the root we opened belongs to the process we hold
    const fd = ctx.libc.openat2(root, path.replace(/^\/+/, ''), O_RDONLY | O_CLOEXEC, RESOLVE_IN_ROOT);
    try {
      return readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'ENOENT') return undefined;
    if (err instanceof SyscallError && err.syscall === 'pidfd_send_signal') {
      throw new AttachError(ErrorCodes.TARGET, `${ctx.stage}: the target ${description} exited during the attach`, { stage: ctx.stage, cause: err });
    }
    throw ctx.error(`openat2(${rootPath}, ${path}, RESOLVE_IN_ROOT)`, err);
  } finally {
    closeSync(root);
  }
}
