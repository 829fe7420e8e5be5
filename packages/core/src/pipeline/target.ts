import type { InjectionToken } from '../di.js';
import type { ResolvedTarget, StageContext } from './context.js';
import type { AttachTarget } from './request.js';

/**
 * How a target plugin finds what a request names (an LXC container by name,
 * an OCI container by id, …): resolve-target asks each registered resolver,
 * in registration order, and the first that accepts the target resolves it.
 * A pid needs none: the core holds any process by pid itself.
 *
 * `resolve` holds the container's init by a pidfd from the first moment
 * (ctx.defer closes it), checks it is the process the runtime means (never a
 * recycled pid), and publishes the container's CONTAINER_MODEL, and what
 * else its runtime's own stages read.
 */
export interface TargetResolver {
  /** What it resolves, for messages: `an LXC container by name`. */
  readonly kind: string;
  accepts(target: AttachTarget): boolean;
  resolve(ctx: StageContext, target: AttachTarget): ResolvedTarget | Promise<ResolvedTarget>;
}

/** Multi-injection token under which target plugins register their resolvers. */
export const TARGET_RESOLVER: InjectionToken<TargetResolver> = Symbol.for('attachkit.TargetResolver');
