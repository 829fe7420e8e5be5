import { createPipeline, type AttachPlugin, type Pipeline } from '@attachkit/core';
import { capsPlugin } from '@attachkit/caps-plugin';
import { cgroupPlugin } from '@attachkit/cgroup-plugin';
import { lsmPlugin } from '@attachkit/lsm-plugin';
import { lxcPlugin } from '@attachkit/lxc-plugin';
import { nsPlugin } from '@attachkit/ns-plugin';
import { ociPlugin } from '@attachkit/oci-plugin';
import { ptyPlugin } from '@attachkit/pty-plugin';
import { seccompPlugin } from '@attachkit/seccomp-plugin';

/** The plugins the CLI attaches with. */
export function defaultPlugins(): AttachPlugin[] {
  return [lxcPlugin(), ociPlugin(), nsPlugin(), cgroupPlugin(), lsmPlugin(), capsPlugin(), seccompPlugin(), ptyPlugin()];
}

export function defaultPipeline(): Pipeline {
  return createPipeline({ plugins: defaultPlugins() });
}
