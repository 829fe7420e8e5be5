import type { StageContext } from '../pipeline/context.js';
import { CONTAINER_MODEL } from '../pipeline/model.js';
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
    const { policy = 'keep', keep = [], set = {} } = ctx.request.env ?? {};
    const env = ctx.env;
    if (policy === 'keep') {
      for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env.set(name, value);
    } else {
      for (const name of keep) {
        const value = process.env[name];
        if (value !== undefined) env.set(name, value);
      }
      if (!env.has('PATH')) env.set('PATH', LXC_DEFAULT_PATH);
    }
    const model = ctx.get(CONTAINER_MODEL);
    for (const [name, value] of model?.environment?.() ?? [['container', 'lxc']]) env.set(name, value);
    for (const [name, value] of Object.entries(set)) env.set(name, value);
  }

}
