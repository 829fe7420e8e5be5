import { closeSync, fstatSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, type Libc } from '@attachkit/core';

/** A host path opened for a bind: an O_PATH fd the caller closes, and what it is. */
export interface HostSource {
  readonly fd: number;
  readonly directory: boolean;
  /** Whether it was resolved inside the container's root (its symlinks kept inside). */
  readonly inContainer: boolean;
}

/**
 * Open `source` on the host, O_PATH, never through a magic link
 * (/proc/<pid>/root, /proc/self/fd/N). A path that passes through the
 * container's own root directory (its rootfs on the host: `containerRoot`,
 * the dev and inode of /proc/<init>/root) is resolved from there on inside
 * that root (RESOLVE_IN_ROOT): the container owns what lies below, and a
 * symlink or `..` it planted there must lead to its own files, not to the
 * host's. Throws SyscallError (openat2) when there is no such path.
 */
export function openHostSource(libc: Libc, source: string, containerRoot: { dev: number; ino: number }): HostSource {
  const parts = posix.normalize(source).split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    let st;
    try {
      st = statSync(prefix);
    } catch {
      break; // the open below reports it
    }
    if (st.dev === containerRoot.dev && st.ino === containerRoot.ino && st.isDirectory()) {
      const root = libc.openat2(AT_FDCWD, prefix, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_NO_MAGICLINKS);
      try {
        const fd = libc.openat2(root, parts.slice(i).join('/') || '.', O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        return { fd, directory: fstatSync(fd).isDirectory(), inContainer: true };
      } finally {
        closeSync(root);
      }
    }
  }
  const fd = libc.openat2(AT_FDCWD, source, O_PATH | O_CLOEXEC, RESOLVE_NO_MAGICLINKS);
  return { fd, directory: fstatSync(fd).isDirectory(), inContainer: false };
}
