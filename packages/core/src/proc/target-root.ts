import { closeSync, openSync } from 'node:fs';
import { RESOLVE_IN_ROOT } from '../libc/constants.js';
import type { Libc } from '../libc/libc.js';
import type { ResolvedTarget } from '../pipeline/context.js';

/**
 * Open `path` in the root filesystem of `target` (or in our own, 'self')
 * from the parent: through /proc/<pid>/root with openat2(RESOLVE_IN_ROOT), so
 * that no symlink or `..` inside the container leads out to a host file. The
 * root is checked against the target's pidfd once opened: it belongs to the
 * process we hold. Throws SyscallError: `openat2` ENOENT when the path does
 * not exist there, `pidfd_send_signal` when the target is gone.
 */
export function openInRoot(libc: Libc, target: Pick<ResolvedTarget, 'pid' | 'pidfd'> | 'self', path: string, flags: number): number {
  const root = openSync(target === 'self' ? '/' : `/proc/${target.pid}/root`, 'r');
  try {
    if (target !== 'self') libc.pidfdSendSignal(target.pidfd, 0);
    return libc.openat2(root, path.replace(/^\/+/, ''), flags, RESOLVE_IN_ROOT);
  } finally {
    closeSync(root);
  }
}
