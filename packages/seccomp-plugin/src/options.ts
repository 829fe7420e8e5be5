import type { InjectionToken } from '@attachkit/core';

export interface SeccompOptions {
  /** The procfs to read this process's seccomp state from (/proc/self/status); tests point it elsewhere. */
  readonly procRoot: string;
}

export const SECCOMP_OPTIONS: InjectionToken<SeccompOptions> = Symbol.for('attachkit.seccomp.options');
export const defaultSeccompOptions: SeccompOptions = { procRoot: '/proc' };
