import { definePlugin, STAGE } from '@attachkit/core';
import { JoinNamespaces } from './join-namespaces.js';
import { RemountSysProc } from './remount-sys-proc.js';
import { SetIdentity } from './set-identity.js';

export { readTargetEntries } from './container-files.js';
export { JOINED_NAMESPACES, JoinNamespaces, kernelHasPidfdSetns } from './join-namespaces.js';
export { parseGroup, parseGroupLine, parseLines, parsePasswd, parsePasswdLine, type GroupEntry, type PasswdEntry } from './passwd.js';
export { RemountSysProc } from './remount-sys-proc.js';
export { SetIdentity } from './set-identity.js';
export { cloneFlagNames, NAMESPACES, namespaceId, type NamespaceKind } from './namespaces.js';

/** Namespaces and identity: join the target's namespaces, run as the right user, -R. */
export function nsPlugin() {
  return definePlugin({
    name: '@attachkit/ns-plugin',
    register(container) {
      container.register(STAGE, { useClass: JoinNamespaces });
      container.register(STAGE, { useClass: SetIdentity });
      container.register(STAGE, { useClass: RemountSysProc });
    },
  });
}
