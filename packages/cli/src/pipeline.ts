import type { Pipeline } from '@attachkit/core';
import { createDefaultPipeline, defaultPlugins } from '@attachkit/preset';

/** The plugins the CLI attaches with: the preset's full isolation. */
export { defaultPlugins };

export function defaultPipeline(): Pipeline {
  return createDefaultPipeline();
}
