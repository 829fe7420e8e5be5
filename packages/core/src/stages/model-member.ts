import { AttachError, ErrorCodes } from '../errors.js';
import type { StageContext } from '../pipeline/context.js';
import { CONTAINER_MODEL, type ContainerModel, type ModelFailure } from '../pipeline/model.js';

/**
 * Read a member of the container model for the stage `ctx` plans: undefined
 * without a model (a bare process). A member that cannot read its runtime's
 * configuration throws; the error comes back stamped with the stage: as a
 * failed operation with its errno when the member names one, else as a bad
 * request naming the runtime's key (ContainerModel's contract).
 */
export function readModel<T>(ctx: StageContext, read: (model: ContainerModel) => T): T | undefined {
  const model = ctx.get(CONTAINER_MODEL);
  if (!model) return undefined;
  try {
    return read(model);
  } catch (err) {
    const failure = err as ModelFailure;
    if (failure instanceof Error && failure.operation) throw ctx.error(failure.operation, failure.cause ?? failure);
    throw new AttachError(ErrorCodes.BAD_REQUEST, `${ctx.stage}: ${err instanceof Error ? err.message : String(err)}`, { stage: ctx.stage, cause: err });
  }
}

/** A bad value of the container model, named with the stage and the runtime that gave it. */
export function badModelValue(ctx: StageContext, runtime: string | undefined, message: string): AttachError {
  return new AttachError(ErrorCodes.BAD_REQUEST, `${ctx.stage}: ${message}${runtime ? ` (from ${runtime})` : ''}`, { stage: ctx.stage });
}
