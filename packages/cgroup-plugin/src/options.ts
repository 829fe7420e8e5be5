import type { InjectionToken } from '@attachkit/core';

export interface CgroupOptions {
  /** The procfs to read mounts and memberships from; tests point it elsewhere. */
  readonly procRoot: string;
}

export const CGROUP_OPTIONS: InjectionToken<CgroupOptions> = Symbol.for('attachkit.cgroup.options');
export const defaultCgroupOptions: CgroupOptions = { procRoot: '/proc' };
