import { CONTAINER_CONFIG, CONTAINER_MODEL, optional, type ContainerConfig, type Stage } from '@attachkit/core';
import { lxcModel } from '@attachkit/lxc-plugin';

/** A container config from key → values, as a resolver by name would provide it. */
export function config(entries: Record<string, readonly string[]>): ContainerConfig {
  const getAll = (key: string) => entries[key] ?? [];
  return { getAll, get: (key) => getAll(key).at(-1) };
}

/** A stage that hands the other stages an LXC container's config and model, as the LXC resolver does. */
export function configStage(entries: Record<string, readonly string[]>): Stage {
  return {
    id: 'test-config',
    description: 'a container config for the test',
    after: ['resolve-target'],
    before: ['apply-lsm', 'drop-caps', 'no-new-privs', 'set-personality', 'build-env'].map(optional),
    plan: (ctx) => {
      ctx.set(CONTAINER_CONFIG, config(entries));
      ctx.set(CONTAINER_MODEL, lxcModel(config(entries)));
    },
  };
}
