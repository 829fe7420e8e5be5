import { statSync } from 'node:fs';
import {
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS,
} from '@attachkit/core';

export interface NamespaceKind {
  /** Its name under /proc/<pid>/ns. */
  readonly proc: string;
  /** Its name for lxc-attach -s. */
  readonly lxc: string;
  readonly flag: number;
  readonly clone: string;
}

/**
 * Every namespace type, in join order. The order matters only where a
 * namespace is joined by its own fd (kernels before 5.8): user first, since
 * joining an unprivileged container's user namespace is what grants the
 * capabilities the other setns calls need there (setns(2), "user_namespaces(7)");
 * mnt before pid and the rest as nsenter(1) does. With one setns(pidfd, flags)
 * the kernel applies them atomically in its own safe order.
 */
export const NAMESPACES: readonly NamespaceKind[] = [
  { proc: 'user', lxc: 'USER', flag: CLONE_NEWUSER, clone: 'CLONE_NEWUSER' },
  { proc: 'mnt', lxc: 'MOUNT', flag: CLONE_NEWNS, clone: 'CLONE_NEWNS' },
  { proc: 'pid', lxc: 'PID', flag: CLONE_NEWPID, clone: 'CLONE_NEWPID' },
  { proc: 'uts', lxc: 'UTSNAME', flag: CLONE_NEWUTS, clone: 'CLONE_NEWUTS' },
  { proc: 'ipc', lxc: 'IPC', flag: CLONE_NEWIPC, clone: 'CLONE_NEWIPC' },
  { proc: 'net', lxc: 'NETWORK', flag: CLONE_NEWNET, clone: 'CLONE_NEWNET' },
  { proc: 'cgroup', lxc: 'CGROUP', flag: CLONE_NEWCGROUP, clone: 'CLONE_NEWCGROUP' },
  { proc: 'time', lxc: 'TIME', flag: CLONE_NEWTIME, clone: 'CLONE_NEWTIME' },
];

/** `CLONE_NEWNS|CLONE_NEWPID` for a set of kinds. */
export function cloneFlagNames(kinds: readonly NamespaceKind[]): string {
  return kinds.map((k) => k.clone).join('|');
}

/** The identity of a process's namespace (the nsfs inode), or undefined when the kernel lacks the type. */
export function namespaceId(pid: number | 'self', kind: NamespaceKind, procRoot = '/proc'): string | undefined {
  try {
    const st = statSync(`${procRoot}/${pid}/ns/${kind.proc}`);
    return `${st.dev}:${st.ino}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
