import { readFileSync } from 'node:fs';
import {
  AttachError, allCapabilities, CONTAINER_MODEL, contextKey, ErrorCodes,
  type CapabilitySets, type ModelFailure, type StageContext,
} from '@attachkit/core';

/** The highest capability number the running kernel knows (/proc/sys/kernel/cap_last_cap). */
export function lastCapability(ctx: StageContext, procRoot: string): number {
  const path = `${procRoot}/sys/kernel/cap_last_cap`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw ctx.error(`read of ${path}`, err);
  }
  const last = Number(text);
  if (!Number.isInteger(last) || last < 0 || last > 63) throw ctx.error(`read of ${path}`, new Error(`'${text.trim()}' is no capability number`));
  return last;
}

/** Once per attach: drop-caps and set-caps read the same sets. */
const MODEL_CAPABILITIES = contextKey<{ readonly sets: CapabilitySets | undefined }>('caps-plugin.model-capabilities');

/**
 * The five capability sets the container model gives (an OCI process
 * spec's), masked to the capabilities this kernel knows (runc ignores the
 * names it does not know); undefined when the model has none (LXC, a bare
 * --pid target). A member that fails is reported as the stage's own error.
 */
export function modelCapabilities(ctx: StageContext, lastCap: number): CapabilitySets | undefined {
  const cached = ctx.get(MODEL_CAPABILITIES);
  if (cached) return cached.sets;
  const model = ctx.get(CONTAINER_MODEL);
  let sets: CapabilitySets | undefined;
  try {
    sets = model?.capabilities?.(lastCap);
  } catch (err) {
    const failure = err as ModelFailure;
    if (failure instanceof Error && failure.operation) throw ctx.error(failure.operation, failure.cause ?? failure);
    throw new AttachError(ErrorCodes.BAD_REQUEST, `${ctx.stage}: ${err instanceof Error ? err.message : String(err)}`, { stage: ctx.stage, cause: err });
  }
  if (sets) {
    const known = allCapabilities(lastCap);
    sets = {
      bounding: sets.bounding & known, effective: sets.effective & known, permitted: sets.permitted & known,
      inheritable: sets.inheritable & known, ambient: sets.ambient & known,
    };
  }
  ctx.set(MODEL_CAPABILITIES, { sets });
  return sets;
}
