import type { DependencyContainer, InjectionToken } from '../di.js';
import { AttachError, ErrorCodes } from '../errors.js';
import { STAGE, type Stage } from './stage.js';
import { TARGET_RESOLVER, type TargetResolver } from './target.js';

/**
 * Where a plugin's own STAGE registrations land. tsyringe's resolveAll sees
 * only the nearest container that registered a token, so plugins registering
 * STAGE in the pipeline's child container would hide every STAGE its parent
 * holds; kept apart, both are resolved (in the child: their dependencies see
 * the pipeline's LIBC and plugin options).
 */
const PLUGIN_STAGE: InjectionToken<Stage> = Symbol('attachkit.plugin-stage');
/** Likewise for the target plugins' resolvers. */
const PLUGIN_RESOLVER: InjectionToken<TargetResolver> = Symbol('attachkit.plugin-target-resolver');
const REDIRECTED = new Map<unknown, InjectionToken<unknown>>([[STAGE, PLUGIN_STAGE], [TARGET_RESOLVER, PLUGIN_RESOLVER]]);

/**
 * The container a plugin's register() gets: the pipeline's child container,
 * with STAGE and TARGET_RESOLVER registrations (register, registerType,
 * registerSingleton, registerInstance all go through register) kept apart
 * from the parent's.
 */
export function pluginRegistrar(container: DependencyContainer): DependencyContainer {
  const registrar: DependencyContainer = new Proxy(container, {
    get(target, property, receiver) {
      if (property !== 'register') return Reflect.get(target, property, receiver) as unknown;
      return (token: InjectionToken<unknown>, ...rest: unknown[]) => {
        (target.register as (...args: unknown[]) => unknown).call(receiver, REDIRECTED.get(token) ?? token, ...rest);
        return registrar;
      };
    },
  });
  return registrar;
}

/**
 * The stages of a pipeline's container: its plugins' stages, then the STAGE
 * registrations it sees (its own, else its nearest ancestor's). One of those
 * with the id of a plugin's stage takes that stage's place; the rest are added.
 */
export function stagesOf(container: DependencyContainer): Stage[] {
  gatherResolvers(container);
  const stages = container.isRegistered(PLUGIN_STAGE) ? container.resolveAll(PLUGIN_STAGE) : [];
  const extra = container.isRegistered(STAGE, true) ? container.resolveAll(STAGE) : [];
  const fromPlugins = new Map(stages.map((s, i) => [s.id, i]));
  for (const stage of extra) {
    const i = fromPlugins.get(stage.id);
    // Only once: a second registration of that id is added, and the order refuses the duplicate.
    fromPlugins.delete(stage.id);
    if (i === undefined) stages.push(stage);
    else stages[i] = stage;
  }
  return stages;
}

/**
 * The target resolvers resolve-target asks, in order: the parent's (they may
 * take a target a plugin would), then the plugins'. Registered in the
 * container itself, where resolve-target is resolved.
 */
function gatherResolvers(container: DependencyContainer): void {
  if (!container.isRegistered(PLUGIN_RESOLVER) || container.isRegistered(TARGET_RESOLVER)) return;
  const parents = container.isRegistered(TARGET_RESOLVER, true) ? container.resolveAll(TARGET_RESOLVER) : [];
  for (const resolver of [...parents, ...container.resolveAll(PLUGIN_RESOLVER)]) container.register(TARGET_RESOLVER, { useValue: resolver });
}

/**
 * A plugin's options: its explicit arguments, over what the container (or a
 * parent) has registered under `token` (a whole or partial options object),
 * over its defaults. Undefined fields fall through to the next.
 */
export function pluginOptions<T extends object>(container: DependencyContainer, token: InjectionToken<T>, defaults: T, explicit: Partial<T> = {}): T {
  const registered: unknown = container.isRegistered(token, true) ? container.resolve(token) : {};
  if (typeof registered !== 'object' || registered === null || Array.isArray(registered)) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, `the options registered under ${String(token)} are not an options object: ${String(registered)}`);
  }
  return { ...defaults, ...definedFields(registered), ...definedFields(explicit) } as T;
}

/** Register a plugin's options (pluginOptions) under its token in the pipeline's container. */
export function registerPluginOptions<T extends object>(container: DependencyContainer, token: InjectionToken<T>, defaults: T, explicit: Partial<T> = {}): void {
  container.register(token, { useValue: pluginOptions(container, token, defaults, explicit) });
}

function definedFields(o: object): object {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
