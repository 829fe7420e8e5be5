import { definePlugin, STAGE } from '@attachkit/core';
import { ExecHost } from './exec-host.js';
import { MountHost } from './mount-host.js';

export { ElfError, isElf, readElf, readElfFile, type ElfInfo } from './elf.js';
export { ExecHost, HOST_DIR, VIEW_MOUNTS } from './exec-host.js';
export { DEFAULT_SEARCH_PATH, findOnHost, sealedCopy } from './host-program.js';
export { openHostSource, type HostSource } from './host-source.js';
export { defaultSystemDirs, readLdSoConf, resolveLibraries, type HostLibrary, type LibrarySearchOptions } from './libraries.js';
export { MountHost } from './mount-host.js';
export { hostMounts, parseMountHost, type HostMount } from './options.js';
export { planView, type ViewMount, type ViewPlan, type ViewSource } from './view-plan.js';

/**
 * Host programs and host paths for one command (docs/distroless.md):
 * `execHost` runs a program of the host inside the container's isolation,
 * `mountHost` binds host paths where only that command sees them.
 */
export function hostPlugin() {
  return definePlugin({
    name: '@attachkit/host-plugin',
    register(container) {
      container.register(STAGE, { useClass: ExecHost });
      container.register(STAGE, { useClass: MountHost });
    },
  });
}
