import { contextKey } from './context.js';

/** A seccomp filter the container puts on every process that enters it, in the format its runtime keeps it. */
export type SeccompSource =
  /** A profile file in LXC's seccomp format (v1/v2), and whether a caller already under seccomp still loads it. */
  | { readonly format: 'lxc-profile'; readonly path: string; readonly from: string; readonly allowNesting: boolean }
  /** The OCI runtime spec's `linux.seccomp` object, as parsed JSON. */
  | { readonly format: 'oci'; readonly spec: unknown; readonly from: string }
  /** A compiled classic BPF program (struct sock_filter[]), as a runtime stored it. */
  | { readonly format: 'bpf'; readonly program: Uint8Array; readonly flags: number; readonly from: string };

/** The cgroup directories a process entering the container goes into, when the runtime knows them better than /proc/<pid>/cgroup. */
export interface ContainerCgroups {
  readonly dirs: ReadonlyArray<{
    /** A path that opens the directory (a held fd's /proc/self/fd/N, or a host path). */
    readonly open: string;
    /** How errors name it: its host path. */
    readonly shown: string;
    /** The cgroup2 hierarchy (entered by a fork born inside), or a v1 one (a write to `tasks`). */
    readonly unified: boolean;
  }>;
  /** A child of the cgroup2 directory to use instead, made when missing (LXC's `.lxc`). */
  readonly leaf?: string;
}

/** The five capability sets of a process entering the container (masks over 0..cap_last_cap). */
export interface CapabilitySets {
  readonly bounding: bigint;
  readonly effective: bigint;
  readonly permitted: bigint;
  readonly inheritable: bigint;
  readonly ambient: bigint;
}

/** A resource limit (setrlimit(2)): soft and hard, RLIM_INFINITY as 2^64-1. */
export interface ResourceLimit {
  /** RLIMIT_* by its name without the prefix: NOFILE, NPROC, … */
  readonly type: string;
  readonly soft: bigint;
  readonly hard: bigint;
}

/** The user a process entering the container runs as, inside its user namespace. */
export interface ContainerUser {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups; empty: none. */
  readonly additionalGids: readonly number[];
}

/**
 * What a container demands of a process that enters it, in no runtime's
 * terms. The target's plugin publishes it while it resolves the target
 * (CONTAINER_MODEL) by mapping its runtime's configuration onto it; the
 * stages enforce it and never read a runtime's configuration themselves.
 *
 * Each member is optional: absent, the stage does what it does for a bare
 * process (what /proc shows of the target, or nothing). Members are methods
 * so that a runtime asks what it must ask (a monitor, a file) only when a
 * stage needs it; a configuration a member cannot read throws an Error whose
 * message names the runtime's key, which the stage stamps with its id. An
 * error may carry `operation` (what was being done): the stage then reports
 * it as a failed operation of its own, with the cause's errno.
 */
export interface ContainerModel {
  /** Who described it, for messages: `LXC`, `runc`, … */
  readonly runtime: string;
  /** The capabilities the command's bounding set may keep (a mask of 0..lastCap), narrowing the target init's; undefined: the init's. */
  boundingSet?(lastCap: number): bigint | undefined;
  /** Whether the command runs with no_new_privs. */
  noNewPrivileges?(): boolean;
  /** The container's seccomp filter; undefined: none. */
  seccomp?(): SeccompSource | undefined;
  /** The LSM label the container is configured with, for when its init shows none. */
  lsmLabel?(lsm: 'apparmor' | 'selinux'): string | undefined;
  /** The personality, by LXC's architecture names (x86, i686, x86_64, …), and where it comes from. */
  personality?(): { readonly arch: string; readonly from: string } | undefined;
  /**
   * The environment the container gives a process entering it, applied in
   * order over the caller's (what the request keeps of it) and under the
   * request's own variables.
   */
  environment?(): ReadonlyArray<readonly [name: string, value: string]>;
  /** The cgroups to enter; undefined: the target's, from /proc. */
  cgroups?(): ContainerCgroups | undefined;
  /** A directory fd of the container's own devpts (the caller closes it), when the runtime hands one out. */
  devpts?(): number | undefined;
  /**
   * Whether environment() is the whole environment (an OCI process spec's
   * env: the caller's is not kept, as with `runc exec`), rather than what is
   * added over the caller's (LXC). The request's own variables still apply.
   */
  readonly environmentReplaces?: boolean;
  /** The user the command runs as when the request names none (-u/-g/--groups). */
  user?(): ContainerUser | undefined;
  /** The working directory inside the container when the request names none (--cwd). */
  cwd?(): string | undefined;
  /** All five capability sets, when the runtime says each (an OCI process spec); else bounding alone (boundingSet). */
  capabilities?(lastCap: number): CapabilitySets | undefined;
  /** Resource limits to set on the command. */
  rlimits?(): readonly ResourceLimit[];
  /** /proc/<pid>/oom_score_adj of the command. */
  oomScoreAdj?(): number | undefined;
  /** The command's umask. */
  umask?(): number | undefined;
}

export const CONTAINER_MODEL = contextKey<ContainerModel>('container-model');

/** The error of a model member, as a stage reports it: its operation, when it names one. */
export interface ModelFailure extends Error {
  readonly operation?: string;
}
