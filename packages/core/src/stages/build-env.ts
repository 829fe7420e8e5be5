import { AttachError, ErrorCodes } from '../errors.js';
import type { StageContext } from '../pipeline/context.js';
import { CONTAINER_MODEL, type ContainerModel, type ModelFailure } from '../pipeline/model.js';
import { normalizeEnv } from '../pipeline/request.js';
import { optional, type Stage } from '../pipeline/stage.js';

/** The PATH of a cleared environment (lxc-attach --clear-env: LXC's). */
export const LXC_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Build env: the attached process's environment, as lxc-attach builds it
 * (attach.c, lxc_attach_set_environment) — the caller's (--keep-env, the
 * default) or the --keep-var names and LXC's PATH unless PATH was kept
 * (--clear-env); then what the container gives a process entering it (its
 * model's environment: for LXC container=lxc and its configured variables;
 * for a bare process, container=lxc as lxc-attach marks it); then -v values.
 *
 * A model whose environment replaces the caller's (`environmentReplaces`,
 * an OCI process spec, as `runc exec` runs it) starts from nothing instead:
 * the caller's environment is not kept, whatever the policy, there is no
 * `container=lxc` marker and no LXC PATH; its entries, in order, then -v
 * values over them (runc exec -e). With --clear-env, --keep-var names are
 * still taken from the caller's environment (under the model's entries, as
 * with LXC), the one way to pass a caller's variable in. HOME, when the
 * result has none, is set by set-identity (ns-plugin), which knows the
 * command's user and reads the container's /etc/passwd: this stage never
 * reads a container file.
 *
 * A plain-object env (AttachRequest.env, child_process's form) is the whole
 * environment: the model's entries (or container=lxc), then the object's
 * variables over them; nothing of the caller's, no LXC PATH.
 *
 * Needs: the container model, when there is one (resolve-target).
 * Guarantees: ctx.env holds the environment the exec stage passes.
 */
export class BuildEnvironment implements Stage {
  readonly id = 'build-env';
  readonly description = "the attached process's environment (caller's or cleared, the container's, -v)";
  // Reading order of the standard stages: after the isolation stages, before remount and exec.
  readonly after = ['resolve-target', ...['open-pty', 'join-namespaces', 'enter-cgroup', 'apply-lsm', 'drop-caps', 'clear-inheritable-caps', 'no-new-privs', 'set-personality'].map(optional)];
  readonly before = [optional('remount'), 'exec'];

  plan(ctx: StageContext): void {
    const request = normalizeEnv(ctx.request.env);
    const env = ctx.env;
    const model = ctx.get(CONTAINER_MODEL);
    const replaces = model?.environmentReplaces === true && model.environment !== undefined;
    if (request.exact) {
      // child_process's env: these variables over the model's, nothing of the caller's.
      for (const [name, value] of modelEnvironment(ctx, model) ?? [['container', 'lxc']]) env.set(name, value);
      for (const [name, value] of Object.entries(request.set)) env.set(name, value);
      return;
    }
    const { policy, keep, set } = request;
    if (policy === 'keep') {
      // The caller's whole environment, unless the container's replaces it.
      if (!replaces) for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env.set(name, value);
    } else {
      for (const name of keep) {
        const value = process.env[name];
        if (value !== undefined) env.set(name, value);
      }
      if (!replaces && !env.has('PATH')) env.set('PATH', LXC_DEFAULT_PATH);
    }
    for (const [name, value] of modelEnvironment(ctx, model) ?? [['container', 'lxc']]) env.set(name, value);
    for (const [name, value] of Object.entries(set)) env.set(name, value);
  }
}

/**
 * The model's entries. A failure is one AttachError naming this stage: an
 * AttachError as it is (LXC's names build-env), an operation that failed
 * with its cause's errno, else the message (it names the runtime's key).
 */
function modelEnvironment(ctx: StageContext, model: ContainerModel | undefined): ReadonlyArray<readonly [string, string]> | undefined {
  try {
    return model?.environment?.();
  } catch (err) {
    if (err instanceof AttachError) throw err;
    const failure = err as ModelFailure;
    if (failure.operation) throw ctx.error(failure.operation, failure.cause);
    throw new AttachError(ErrorCodes.BAD_REQUEST, `${ctx.stage}: ${failure.message}`, { stage: ctx.stage, cause: err });
  }
}
