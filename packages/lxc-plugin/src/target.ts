import type { AttachTarget, TargetResolver } from '@attachkit/core';
import { resolveContainer, type ContainerTarget } from './resolve-container.js';

declare module '@attachkit/core' {
  interface AttachTargets {
    /** An LXC container by name, as `lxc-attach -n NAME [-P LXCPATH] [-f RCFILE]` names it. */
    lxc: ContainerTarget;
  }
}

export function isLxcTarget(target: AttachTarget): target is ContainerTarget {
  return typeof (target as { name?: unknown }).name === 'string';
}

/** Resolves `{ name, lxcpath?, rcfile? }`: the container's init from its monitor, and its config as the container model. */
export const lxcTargetResolver: TargetResolver = {
  kind: 'an LXC container by name',
  accepts: isLxcTarget,
  resolve: (ctx, target) => resolveContainer(ctx, target as ContainerTarget),
};
