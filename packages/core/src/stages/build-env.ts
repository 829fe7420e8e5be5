import type { StageContext } from '../pipeline/context.js';
import { optional, type Stage } from '../pipeline/stage.js';

/** LXC's PATH for a cleared environment (lxc-attach --clear-env). */
export const LXC_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Build env: the attached process's environment, as lxc-attach builds it —
 * the caller's (--keep-env, the default) or a clean one with LXC's PATH and
 * the --keep-var names (--clear-env); then container=lxc; then -v values.
 *
 * Needs: nothing. Guarantees: ctx.env holds the environment the exec stage passes.
 */
export class BuildEnvironment implements Stage {
  readonly id = 'build-env';
  readonly description = "the attached process's environment (caller's or cleared, -v, container=lxc)";
  // Reading order of the standard stages: after the isolation stages, before remount and exec.
  readonly after = ['resolve-target', ...['open-pty', 'join-namespaces', 'enter-cgroup', 'apply-lsm', 'drop-caps', 'set-personality'].map(optional)];
  readonly before = [optional('remount'), 'exec'];

  plan(ctx: StageContext): void {
    const { policy = 'keep', keep = [], set = {} } = ctx.request.env ?? {};
    const env = ctx.env;
    if (policy === 'keep') {
      for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env.set(name, value);
    } else {
      env.set('PATH', LXC_DEFAULT_PATH);
      for (const name of keep) {
        const value = process.env[name];
        if (value !== undefined) env.set(name, value);
      }
    }
    env.set('container', 'lxc');
    for (const [name, value] of Object.entries(set)) env.set(name, value);
  }
}
