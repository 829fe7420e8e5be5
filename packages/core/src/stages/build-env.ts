import { AttachError, ErrorCodes } from '../errors.js';
import { CONTAINER_CONFIG, type StageContext } from '../pipeline/context.js';
import { optional, type Stage } from '../pipeline/stage.js';

/** LXC's PATH for a cleared environment (lxc-attach --clear-env). */
export const LXC_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Build env: the attached process's environment, as lxc-attach builds it
 * (attach.c, lxc_attach_set_environment) — the caller's (--keep-env, the
 * default) or the --keep-var names and LXC's PATH unless PATH was kept
 * (--clear-env); then container=lxc; then the container config's
 * lxc.environment entries; then -v values.
 *
 * Needs: the container's config, when there is one (resolve-target).
 * Guarantees: ctx.env holds the environment the exec stage passes.
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
      for (const name of keep) {
        const value = process.env[name];
        if (value !== undefined) env.set(name, value);
      }
      if (!env.has('PATH')) env.set('PATH', LXC_DEFAULT_PATH);
    }
    env.set('container', 'lxc');
    for (const entry of ctx.get(CONTAINER_CONFIG)?.getAll('lxc.environment') ?? []) {
      const [name, value] = this.configured(entry);
      env.set(name, value);
    }
    for (const [name, value] of Object.entries(set)) env.set(name, value);
  }

  /** `NAME=VALUE`, or `NAME` alone: the caller's value (LXC's set_config_environment, which fails when it is unset). */
  private configured(entry: string): [string, string] {
    const eq = entry.indexOf('=');
    if (eq >= 0) return [entry.slice(0, eq), entry.slice(eq + 1)];
    const value = process.env[entry];
    if (value === undefined) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: the container config sets lxc.environment = ${entry}, which copies ${entry} from the caller's environment, where it is not set`, { stage: this.id });
    }
    return [entry, value];
  }
}
