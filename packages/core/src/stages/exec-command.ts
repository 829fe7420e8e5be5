import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS } from '../libc/constants.js';
import { openHow } from '../libc/libc.js';
import { bytes, cstring, imm, resultOf } from '../program/program.js';
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
  readonly description = 'enter the working directory, then execve the command with a PATH search inside the target';
  readonly after = ['resolve-target', optional('build-env')];

  plan(ctx: StageContext): void {
    const argv = ctx.request.command?.length ? ctx.request.command : ctx.get(DEFAULT_COMMAND) ?? ['/bin/sh'];
    // lxc-attach keeps the caller's cwd when it exists inside; joining the
    // mount namespace already put us at its root, so a failure leaves us at /.
    // Resolved in the container's root and never through a magic link: a
    // cwd of /proc/self/fd/N, or a container symlink to it, must not land
    // the command in a directory of the host (CVE-2024-21626).
    const cwd = ctx.request.cwd ?? process.cwd();
    const optional = ctx.request.cwd === undefined;
    const how = openHow(O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    const dir = ctx.program.syscall('cwd', 'openat2', [imm(AT_FDCWD), cstring(cwd), bytes(how), imm(how.length)],
      { operation: `openat2("${cwd}", RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) of the working directory`, optional });
    ctx.program.syscall('cwd', 'fchdir', [resultOf(dir)], { operation: `fchdir("${cwd}")`, optional });
    const env = [...ctx.env].map(([name, value]) => `${name}=${value}`);
    ctx.program.exec({ file: argv[0]!, argv, env });
  }
}
