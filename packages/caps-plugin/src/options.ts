import { optional, type InjectionToken, type StageRef } from '@attachkit/core';

export interface CapsOptions {
  /** The procfs to read the target's status and cap_last_cap from; tests may point it elsewhere. */
  readonly procRoot: string;
}

export const CAPS_OPTIONS: InjectionToken<CapsOptions> = Symbol.for('attachkit.caps.options');
export const defaultCapsOptions: CapsOptions = { procRoot: '/proc' };

/** The stages this plugin's stages read after (the design card's order: ... join ns → enter cgroup → apply LSM → drop caps). */
export const AFTER_ISOLATION: readonly StageRef[] = ['resolve-target', ...['open-pty', 'join-namespaces', 'enter-cgroup', 'apply-lsm'].map(optional)];
