import { createPipeline, type AttachPlugin, type Pipeline } from '@attachkit/core';
import { nsPlugin } from '@attachkit/ns-plugin';

/** The plugins the CLI attaches with. */
export const defaultPlugins: readonly AttachPlugin[] = [nsPlugin];

export function defaultPipeline(): Pipeline {
  return createPipeline({ plugins: defaultPlugins });
}
