import { definePlugin, STAGE } from '@attachkit/core';
import { JoinNamespaces } from './join-namespaces.js';

export { JoinNamespaces, kernelHasPidfdSetns } from './join-namespaces.js';
export { cloneFlagNames, NAMESPACES, namespaceId, type NamespaceKind } from './namespaces.js';

/** Namespaces: join the target's. */
export function nsPlugin() {
  return definePlugin({
    name: '@attachkit/ns-plugin',
    register(container) {
      container.register(STAGE, { useClass: JoinNamespaces });
    },
  });
}
