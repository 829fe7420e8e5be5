import { definePlugin, registerPluginOptions, STAGE } from '@attachkit/core';
import { EnterCgroup } from './enter-cgroup.js';
import { CGROUP_OPTIONS, defaultCgroupOptions, type CgroupOptions } from './options.js';

export { EnterCgroup } from './enter-cgroup.js';
export { parseMountinfo, parseProcCgroup, place, type CgroupPlacement, type Hierarchy, type Membership } from './hierarchies.js';
export { CGROUP_OPTIONS, defaultCgroupOptions, kernelAtLeast, type CgroupOptions } from './options.js';

/** Cgroups: the attach enters the target's cgroups before it runs anything. */
export function cgroupPlugin(options: Partial<CgroupOptions> = {}) {
  return definePlugin({
    name: '@attachkit/cgroup-plugin',
    register(container) {
      registerPluginOptions(container, CGROUP_OPTIONS, defaultCgroupOptions, options);
      container.register(STAGE, { useClass: EnterCgroup });
    },
  });
}
