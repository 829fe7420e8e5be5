import { definePlugin, registerPluginOptions, STAGE } from '@attachkit/core';
import { ApplyLsmLabel } from './apply-lsm.js';
import { defaultLsmOptions, LSM_OPTIONS, type LsmOptions } from './options.js';

export { ApplyLsmLabel } from './apply-lsm.js';
export { activeLsm, apparmor, readLabel, selinux, type LsmKind, type LsmName } from './lsms.js';
export { defaultLsmOptions, LSM_OPTIONS, type LsmOptions } from './options.js';

/** LSM: the command gets the target's AppArmor profile or SELinux context; steps aside where neither is active. */
export function lsmPlugin(options: Partial<LsmOptions> = {}) {
  return definePlugin({
    name: '@attachkit/lsm-plugin',
    register(container) {
      registerPluginOptions(container, LSM_OPTIONS, defaultLsmOptions, options);
      container.register(STAGE, { useClass: ApplyLsmLabel });
    },
  });
}
