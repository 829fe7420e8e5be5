import { definePlugin, TARGET_RESOLVER } from '@attachkit/core';
import { lxcTargetResolver } from './target.js';

export { LXC_STATES, LxcCommand, type LxcCommandName, type LxcState } from './commands.js';
export { LxcConfig, LxcConfigError, readLxcConfig, type ConfigEntry } from './config.js';
export {
  CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, LXC_CONTAINER,
  type LxcCgroupDir, type LxcCgroupLayout, type LxcCgroups, type LxcContainer,
} from './container.js';
export { configuredCapabilities, containerEnvironment, lxcModel, parseCapability } from './model.js';
export { LxcCommandError, LxcMonitor, MONITOR_TIMEOUT_MS, type LxcCommandFailure, type MonitorResponse, type SentCommand } from './monitor.js';
export { checkContainerName, DEFAULT_LXCPATH, resolveContainer, type ContainerTarget } from './resolve-container.js';
export { abstractSockaddr, commandSocketName, fnv1a64 } from './socket-name.js';
export { isLxcTarget, lxcTargetResolver } from './target.js';

/** LXC containers by name: `{ name, lxcpath?, rcfile? }` targets, resolved through the container's monitor. */
export function lxcPlugin() {
  return definePlugin({
    name: '@attachkit/lxc-plugin',
    register(container) {
      container.register(TARGET_RESOLVER, { useValue: lxcTargetResolver });
    },
  });
}
