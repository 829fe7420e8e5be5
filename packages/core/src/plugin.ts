import { container as rootContainer, type DependencyContainer } from './di.js';
import { AttachError, coreCall, ErrorCodes } from './errors.js';
import { LIBC, realLibc, type Libc } from './libc/libc.js';
import { Pipeline } from './pipeline/pipeline.js';
import { pluginRegistrar } from './pipeline/registrations.js';
import { STAGE } from './pipeline/stage.js';
import { BuildEnvironment } from './stages/build-env.js';
import { ExecCommand } from './stages/exec-command.js';
import { PreserveFds } from './stages/preserve-fds.js';
import { ResolveTarget } from './stages/resolve-target.js';
import { SetOomScoreAdj } from './stages/set-oom-score-adj.js';
import { SetPersonality } from './stages/set-personality.js';
import { SetResourceLimits } from './stages/set-rlimits.js';
import { SetUmask } from './stages/set-umask.js';

/**
 * A stage family: a name, the plugins it needs, and a function that
 * registers its stages (under STAGE) and services in a DI container.
 */
export interface AttachPlugin {
  readonly name: string;
  /** Names of plugins that must be present; checked when a pipeline is created. */
  readonly dependencies?: readonly string[];
  register(container: DependencyContainer): void;
}

/** Typed identity, for plugin authors. */
export function definePlugin(plugin: AttachPlugin): AttachPlugin {
  return plugin;
}

/** The core's own stages: resolve target (a pid, or a target plugin's container), set personality, rlimits, oom_score_adj and umask, build env, preserve fds, exec. */
export const corePlugin = definePlugin({
  name: '@attachkit/core',
  register(container) {
    container.register(STAGE, { useClass: ResolveTarget });
    container.register(STAGE, { useClass: SetPersonality });
    container.register(STAGE, { useClass: SetResourceLimits });
    container.register(STAGE, { useClass: SetOomScoreAdj });
    container.register(STAGE, { useClass: SetUmask });
    container.register(STAGE, { useClass: BuildEnvironment });
    container.register(STAGE, { useClass: PreserveFds });
    container.register(STAGE, { useClass: ExecCommand });
  },
});

export interface CreatePipelineOptions {
  /** Plugins besides the core (which is always first). */
  readonly plugins?: readonly AttachPlugin[];
  /**
   * Parent container; a child of it holds this pipeline's registrations.
   * Default: tsyringe's root. What it registers is honoured
   * (docs/writing-a-stage.md, "What a third party may register"): LIBC,
   * each plugin's options token (below the plugin's own arguments), and
   * STAGE registrations, added to the plugins' stages (one with a plugin
   * stage's id takes its place).
   */
  readonly container?: DependencyContainer;
  /** A libc other than the real one (tests that record calls); over the parent's LIBC, which is over the real one. */
  readonly libc?: Libc;
}

/**
 * The default way to build a pipeline: core + plugins, registered in a fresh
 * child container, resolved, and ready to be changed (add, remove, replace).
 */
export function createPipeline(options: CreatePipelineOptions = {}): Pipeline {
  const plugins = [corePlugin, ...(options.plugins ?? [])];
  const names = new Set<string>();
  for (const plugin of plugins) {
    if (names.has(plugin.name)) throw new AttachError(ErrorCodes.STAGE_ORDER, `plugin '${plugin.name}' is registered twice`);
    names.add(plugin.name);
  }
  for (const plugin of plugins) {
    for (const dep of plugin.dependencies ?? []) {
      if (!names.has(dep)) throw new AttachError(ErrorCodes.STAGE_ORDER, `plugin '${plugin.name}' needs plugin '${dep}', which is not in the pipeline`);
    }
  }
  const container = (options.container ?? rootContainer).createChildContainer();
  if (options.libc) container.register(LIBC, { useValue: options.libc });
  else if (!container.isRegistered(LIBC, true)) container.register(LIBC, { useValue: realLibc() });
  const registrar = pluginRegistrar(container);
  for (const plugin of plugins) coreCall(ErrorCodes.PLUGIN, `registering plugin '${plugin.name}'`, () => plugin.register(registrar));
  // On failure tsyringe's own words (`TypeInfo not known for "MyStage"`), and what usually causes them.
  return coreCall(ErrorCodes.PLUGIN, 'resolving the registered stages (a stage class with constructor parameters needs @injectable() and @inject(token), compiled with experimentalDecorators, or a useFactory registration: docs/writing-a-stage.md)',
    () => Pipeline.fromContainer(container));
}
