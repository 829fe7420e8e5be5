import { definePlugin, registerPluginOptions, STAGE } from '@attachkit/core';
import { ClearInheritableCapabilities } from './clear-inheritable-caps.js';
import { DropCapabilities } from './drop-caps.js';
import { SetNoNewPrivileges } from './no-new-privs.js';
import { SetCapabilities } from './set-caps.js';
import { CAPS_OPTIONS, defaultCapsOptions, type CapsOptions } from './options.js';

export { CAPABILITY_NAMES, capabilityLabel, statusCapSet } from './capabilities.js';
export { ClearInheritableCapabilities } from './clear-inheritable-caps.js';
export { DropCapabilities } from './drop-caps.js';
export { SetNoNewPrivileges } from './no-new-privs.js';
export { SetCapabilities } from './set-caps.js';
export { CAPS_OPTIONS, defaultCapsOptions, type CapsOptions } from './options.js';

/** Capabilities: the bounding set of the target, no inheritable capability (or the container's own sets), no_new_privs when configured. */
export function capsPlugin(options: Partial<CapsOptions> = {}) {
  return definePlugin({
    name: '@attachkit/caps-plugin',
    register(container) {
      registerPluginOptions(container, CAPS_OPTIONS, defaultCapsOptions, options);
      container.register(STAGE, { useClass: DropCapabilities });
      container.register(STAGE, { useClass: ClearInheritableCapabilities });
      container.register(STAGE, { useClass: SetCapabilities });
      container.register(STAGE, { useClass: SetNoNewPrivileges });
    },
  });
}
