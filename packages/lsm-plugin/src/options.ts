import type { InjectionToken } from '@attachkit/core';

/** Where the LSM state is read from; tests point these at a fake tree. */
export interface LsmOptions {
  /** The host's procfs: the target's label is read here, and the attached process opens its attr file beneath it. */
  readonly procRoot: string;
  /** securityfs: `lsm` lists the active LSMs (Linux 4.14+). */
  readonly securityfsRoot: string;
  /** sysfs: AppArmor's module parameter and the selinuxfs mount, when securityfs is not mounted. */
  readonly sysfsRoot: string;
}

export const LSM_OPTIONS: InjectionToken<LsmOptions> = Symbol.for('attachkit.lsm.options');
export const defaultLsmOptions: LsmOptions = { procRoot: '/proc', securityfsRoot: '/sys/kernel/security', sysfsRoot: '/sys' };
