import { createPipeline, type AttachPlugin, type Pipeline } from '@attachkit/core';
import { cgroupPlugin } from '@attachkit/cgroup-plugin';
import { nsPlugin } from '@attachkit/ns-plugin';
import { ptyPlugin } from '@attachkit/pty-plugin';

/** The plugins the CLI attaches with. */
export function defaultPlugins(): AttachPlugin[] {
  return [nsPlugin(), cgroupPlugin(), ptyPlugin()];
}

export function defaultPipeline(): Pipeline {
  return createPipeline({ plugins: defaultPlugins() });
}
