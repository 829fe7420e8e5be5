/**
 * Where a child-side effect happens. Stages are *planned* in pipeline order,
 * but the effects they emit run in this fixed order, whatever order the stages
 * were planned in: a constant table, as youki and crun keep theirs.
 *
 * The attached-process part follows lxc-attach 5 (attach.c, attach_child_main):
 * remount → personality → capability drop → environment → controlling tty →
 * groups → LSM label → no_new_privs → stdio → seccomp → uid/gid → exec.
 * Where attachkit differs, the phase says why.
 */
export const PHASES = [
  // ── intermediate process: still in the caller's pid namespace ──
  /** Core: wait for the parent; stages' atSyncPoint work runs now (a cgroup move by pid on old kernels). */
  'sync',
  /** Before any namespace is entered: non-dumpable (runc CVE-2016-9962), no ambient caps. */
  'harden',
  /** Into the target's cgroups, before any namespace: the intermediate moves itself (v1), or goes on in
   * a child born inside (cgroup2, CLONE_INTO_CGROUP). Neither takes the lock a move by pid takes. */
  'cgroups',
  /** setns(2). One call with a pidfd where the kernel allows it. */
  'namespaces',
  /** Core: clone(CLONE_PARENT) — the attached process is born in the joined pid namespace. */
  'fork',
  // ── attached process ──
  /** A private mount namespace with /proc and /sys for the joined namespaces (-R). */
  'remount',
  'personality',
  /** Bounding set drop, inheritable set emptied. Before the LSM label and ids: it needs CAP_SETPCAP. */
  'capabilities',
  /** Core: setsid(), so nothing inside can reach the caller's terminal (TIOCSTI, CVE-2016-10124). */
  'session',
  /** The pty as controlling terminal and as stdio. */
  'terminal',
  /** chdir(2) to the working directory inside the container. */
  'cwd',
  'groups',
  /** Label written through an attr fd opened before the mount namespace was joined (CVE-2015-1334). */
  'lsm',
  'no-new-privs',
  /** Core: FD_CLOEXEC cleared on 0, 1, 2 (Node sets it on its own stdio). */
  'stdio',
  /** Loaded as root, before the id switch, as lxc-attach does: the filter is installed with
   * CAP_SYS_ADMIN when no_new_privs is off, and must therefore come before the ids drop it. */
  'seccomp',
  'ids',
  /** What must follow the id switch: a runtime's effective, permitted, inheritable and ambient capability
   * sets (runc's finalizeNamespace applies them after setresuid, which empties them for a non-root uid). */
  'post-ids',
  /** Core: close every fd that was not asked for (CVE-2024-21626). */
  'close-fds',
  /** Core: execve with a PATH search in the new environment. */
  'exec',
] as const;

export type Phase = (typeof PHASES)[number];

/** Phases the core itself fills; stages cannot emit operations into them. */
export const CORE_PHASES: ReadonlySet<Phase> = new Set<Phase>(['sync', 'fork', 'close-fds', 'exec']);

/** Phases that run in the intermediate process, before the fork. */
export const INTERMEDIATE_PHASES: ReadonlySet<Phase> = new Set<Phase>(['sync', 'harden', 'cgroups', 'namespaces', 'fork']);

export function isPhase(value: string): value is Phase {
  return (PHASES as readonly string[]).includes(value);
}
