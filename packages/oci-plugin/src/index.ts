import { definePlugin, TARGET_RESOLVER } from '@attachkit/core';
import { ociTargetResolver } from './resolve.js';

export { isOciTarget, ociTargetResolver, resolveOci, type OciTarget } from './resolve.js';
export { defaultRoots, type StateRoot } from './roots.js';
export { OciSpecError, readSpec, specModel } from './spec.js';
export { findContainer, OciStateError, readState, type OciState } from './state.js';

/** OCI runtime containers by id: `{ oci, root? }` targets (runc, crun, Docker, containerd, Podman). */
export function ociPlugin() {
  return definePlugin({
    name: '@attachkit/oci-plugin',
    register(container) {
      container.register(TARGET_RESOLVER, { useValue: ociTargetResolver });
    },
  });
}
