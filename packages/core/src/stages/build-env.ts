import { AttachError, ErrorCodes } from '../errors.js';
import { CONTAINER_CONFIG, type ContainerConfig, type StageContext } from '../pipeline/context.js';
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
  readonly description = "the attached process's environment (caller's or cleared, container=lxc, lxc.environment, -v)";
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
    env.set('container', 'lxc');
    const config = ctx.get(CONTAINER_CONFIG);
    if (config) for (const [name, value] of containerEnvironment(config)) env.set(name, value);
    for (const [name, value] of Object.entries(set)) env.set(name, value);
  }

}

/**
 * The container's `lxc.environment` entries, in file order, with LXC's rules
 * (lxc 5.0.2 confile.c, set_config_environment): an empty value clears the
 * entries before it; `NAME=VALUE` sets NAME; a bare `NAME` copies NAME from
 * the caller's environment, and LXC refuses the config when it is unset there.
 */
export function containerEnvironment(config: ContainerConfig, callerEnv: NodeJS.ProcessEnv = process.env): Array<[string, string]> {
  let entries: Array<[string, string]> = [];
  for (const value of config.getAll('lxc.environment')) {
    if (value === '') {
      entries = [];
      continue;
    }
    const eq = value.indexOf('=');
    const name = eq < 0 ? value : value.slice(0, eq);
    const copied = eq < 0 ? callerEnv[name] : value.slice(eq + 1);
    if (name === '' || copied === undefined) {
      const why = name === '' ? 'has no variable name' : `copies ${name} from the caller's environment, where it is not set`;
      throw new AttachError(ErrorCodes.BAD_REQUEST, `build-env: lxc.environment = ${value} ${why}`, { stage: 'build-env' });
    }
    entries.push([name, copied]);
  }
  return entries;
}
