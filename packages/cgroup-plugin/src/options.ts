import { release } from 'node:os';
import type { InjectionToken } from '@attachkit/core';

export interface CgroupOptions {
  /** The procfs to read mounts and memberships from; tests point it elsewhere. */
  readonly procRoot: string;
  /**
   * Whether the attach is born in the target's cgroup2 directory
   * (clone3 CLONE_INTO_CGROUP, Linux 5.7) rather than moved there by the
   * parent at the sync point. Default: when the kernel has it.
   */
  readonly cloneIntoCgroup: boolean;
}

export const CGROUP_OPTIONS: InjectionToken<CgroupOptions> = Symbol.for('attachkit.cgroup.options');
export const defaultCgroupOptions: CgroupOptions = { procRoot: '/proc', cloneIntoCgroup: kernelAtLeast(release(), 5, 7) };

/** `6.1.0-18-amd64` ≥ 5.7. */
export function kernelAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split(/[.-]/).map(Number);
  return a > major || (a === major && b >= minor);
}
