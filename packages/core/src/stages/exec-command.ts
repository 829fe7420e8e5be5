import { cstring } from '../program/program.js';
import { contextKey, type StageContext } from '../pipeline/context.js';
import { optional, type Stage } from '../pipeline/stage.js';

/** The command to run when the request names none; a stage that knows better (the target user's shell) sets it. */
export const DEFAULT_COMMAND = contextKey<readonly string[]>('default-command');

/**
 * Exec: run the command in the working directory inside the target, with the
 * environment the stages built. The executor searches PATH of that
 * environment, so the command is found inside the container, never on the host.
 *
 * Needs: the environment (build-env). Guarantees: the program ends in exec.
 */
export class ExecCommand implements Stage {
  readonly id = 'exec';
  readonly description = 'chdir, then execve the command with a PATH search inside the target';
  readonly after = ['resolve-target', optional('build-env')];

  plan(ctx: StageContext): void {
    const argv = ctx.request.command?.length ? ctx.request.command : ctx.get(DEFAULT_COMMAND) ?? ['/bin/sh'];
    // lxc-attach keeps the caller's cwd when it exists inside; joining the
    // mount namespace already put us at its root, so a failure leaves us at /.
    const cwd = ctx.request.cwd ?? process.cwd();
    ctx.program.syscall('cwd', 'chdir', [cstring(cwd)], { operation: `chdir("${cwd}")`, optional: ctx.request.cwd === undefined });
    const env = [...ctx.env].map(([name, value]) => `${name}=${value}`);
    ctx.program.exec({ file: argv[0]!, argv, env });
  }
}
