// The target kinds ({ name }, { oci }) and request options (execHost,
// mountHost) that these plugins declare on core's types: known to a program
// that imports the preset alone.
/// <reference types="@attachkit/lxc-plugin" preserve="true" />
/// <reference types="@attachkit/oci-plugin" preserve="true" />
/// <reference types="@attachkit/host-plugin" preserve="true" />
import { capsPlugin } from '@attachkit/caps-plugin';
import { cgroupPlugin } from '@attachkit/cgroup-plugin';
import { createPipeline, type AttachPlugin, type CreatePipelineOptions, type Pipeline } from '@attachkit/core';
import { hostPlugin } from '@attachkit/host-plugin';
import { lsmPlugin } from '@attachkit/lsm-plugin';
import { lxcPlugin } from '@attachkit/lxc-plugin';
import { nsPlugin } from '@attachkit/ns-plugin';
import { ociPlugin } from '@attachkit/oci-plugin';
import { ptyPlugin } from '@attachkit/pty-plugin';
import { seccompPlugin } from '@attachkit/seccomp-plugin';

/**
 * Every plugin of attachkit's full isolation, as the CLI attaches: the LXC
 * and OCI targets, namespaces and identity, cgroups, the LSM label, the
 * capability sets and no_new_privs, seccomp, the pty, and host programs and
 * paths for one command (--exec-host, --mount-host: off unless asked). A composition that
 * leaves one out confines less (docs/writing-a-stage.md says what each adds).
 */
export function defaultPlugins(): AttachPlugin[] {
  return [lxcPlugin(), ociPlugin(), nsPlugin(), cgroupPlugin(), lsmPlugin(), capsPlugin(), seccompPlugin(), ptyPlugin(), hostPlugin()];
}

/** A pipeline with the full isolation (defaultPlugins), ready to attach or to change (add, remove, replace). */
export function createDefaultPipeline(options: Omit<CreatePipelineOptions, 'plugins'> = {}): Pipeline {
  return createPipeline({ ...options, plugins: defaultPlugins() });
}
