import { contextKey } from '@attachkit/core';
import type { LxcMonitor } from './monitor.js';

/** statfs(2) f_type of a cgroup2 directory (CGROUP2_SUPER_MAGIC, linux/magic.h). */
export const CGROUP2_SUPER_MAGIC = 0x63677270;
/** statfs(2) f_type of a cgroup v1 directory (CGROUP_SUPER_MAGIC). */
export const CGROUP_SUPER_MAGIC = 0x27e0eb;

/** The container's cgroup in one hierarchy, as its monitor hands it out. */
export interface LxcCgroupDir {
  /** A directory fd (close-on-exec), held until the attach has started or failed. */
  readonly fd: number;
  /** Its path on the host, as /proc/self/fd shows it: `/sys/fs/cgroup/memory/lxc.payload.c1`. */
  readonly dir: string;
  /** statfs f_type of the directory: CGROUP2_SUPER_MAGIC or CGROUP_SUPER_MAGIC. */
  readonly fsType: number;
  /** True for the cgroup2 hierarchy, where LXC puts attached processes in a `.lxc` leaf. */
  readonly unified: boolean;
}

/** LXC's cgroup layout (enum cgroup_layout): how the host mounts its hierarchies. */
export type LxcCgroupLayout = 'unknown' | 'legacy' | 'hybrid' | 'unified';

export interface LxcCgroups {
  readonly layout: LxcCgroupLayout;
  /** One per writable hierarchy, in the monitor's order; empty when none is writable. */
  readonly dirs: readonly LxcCgroupDir[];
}

/**
 * A running LXC container, as resolve-target found it when the target is a
 * container name. Stages that need LXC's own view of the container read it
 * here; each field says what it is for. The methods ask the monitor when
 * called and throw LxcCommandError or SyscallError: wrap them in the calling
 * stage's ctx.error, so the error names that stage.
 */
export interface LxcContainer {
  readonly name: string;
  /** The lxcpath, literally as given (LXC names the socket from the string, unnormalised). */
  readonly lxcpath: string;
  /** The file read into CONTAINER_CONFIG: the -f rcfile, or `<lxcpath>/<name>/config`; undefined if the container has none. */
  readonly configFile: string | undefined;
  /** Its command socket, `@/var/lib/lxc/c1/command`. */
  readonly socket: string;
  /** The init's pid (also ctx.target.pid; ctx.target.pidfd holds it). */
  readonly initPid: number;
  /**
   * The CLONE_NEW* flags the container was started with (GET_CLONE_FLAGS):
   * the namespaces lxc-attach joins when -s is not given. Asked for on first
   * read (GET_CLONE_FLAGS); an attach does not need it. A privileged
   * container here: 0x6e020000 (mnt|uts|ipc|pid|net|cgroup); +CLONE_NEWUSER when unprivileged.
   */
  readonly cloneFlags: number;
  /**
   * The container's cgroup directories (GET_CGROUP_CTX), for the stage that
   * moves the attach into them. Asked for on the first call only (lxc-attach
   * does not ask with -e CGROUP), then the same answer; the fds are closed
   * when the attach has started or failed. Undefined when the monitor cannot
   * hand them out (older LXC): fall back to /proc/<pid>/cgroup or cgroupPath.
   */
  cgroups(): LxcCgroups | undefined;
  /**
   * A key of the *running* container's config (GET_CONFIG_ITEM), undefined
   * when unset. lxc-attach reads lxc.arch, lxc.seccomp.profile and
   * lxc.no_new_privs this way; CONTAINER_CONFIG is the config on disk.
   */
  runningConfig(key: string): string | undefined;
  /** The container's cgroup path for a controller (GET_CGROUP), e.g. `/lxc.payload.c1`; undefined when it has none. */
  cgroupPath(controller: string): string | undefined;
  /** The monitor, for commands not wrapped here (GET_DEVPTS_FD for a pty of the container's devpts). */
  readonly monitor: LxcMonitor;
}

/** Set by resolve-target when the target is an LXC container (absent for a --pid target). */
export const LXC_CONTAINER = contextKey<LxcContainer>('lxc-container');
