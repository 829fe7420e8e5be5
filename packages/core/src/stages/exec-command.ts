import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS } from '../libc/constants.js';
import { openHow } from '../libc/libc.js';
import { bytes, cstring, imm, resultOf } from '../program/args.js';
import { contextKey, type StageContext } from '../pipeline/context.js';
import { CONTAINER_MODEL } from '../pipeline/model.js';
import { optional, type Stage } from '../pipeline/stage.js';
import { badModelValue, readModel } from './model-member.js';

/** The command to run when the request names none; a stage that knows better (the target user's shell) sets it. */
export const DEFAULT_COMMAND = contextKey<readonly string[]>('default-command');

/**
 * Exec: run the command in the working directory inside the target, with the
 * environment the stages built. The executor searches PATH of that
 * environment, so the command is found inside the container, never on the host.
 *
 * The working directory: --cwd; else the container model's cwd() (an OCI
 * process spec's); else the caller's, kept only when it exists inside.
 *
 * Needs: the environment (build-env), the container model (resolve-target).
 * Guarantees: the program ends in exec.
 */
export class ExecCommand implements Stage {
  readonly id = 'exec';
  readonly description = 'enter the working directory, then execve the command with a PATH search inside the target';
  readonly after = ['resolve-target', optional('build-env')];

  plan(ctx: StageContext): void {
    const argv = ctx.request.command?.length ? ctx.request.command : ctx.get(DEFAULT_COMMAND) ?? ['/bin/sh'];
    // --cwd, else the container's own (its model's: runc exec chdirs to the
    // process spec's cwd), both required. Else, as lxc-attach, the caller's
    // when it exists inside; joining the mount namespace already put us at
    // its root, so a failure leaves us at /. Resolved in the container's
    // root and never through a magic link: a cwd of /proc/self/fd/N, or a
    // container symlink to it, must not land the command in a directory of
    // the host (CVE-2024-21626).
    const container = ctx.request.cwd === undefined ? modelCwd(ctx) : undefined;
    const cwd = ctx.request.cwd ?? container?.path ?? process.cwd();
    const optional = ctx.request.cwd === undefined && container === undefined;
    const whose = container ? `${container.runtime}'s` : 'the';
    // RESOLVE_IN_ROOT takes its dirfd as the root: the process's root, not
    // its cwd, which is the caller's when the mount namespace is not joined.
    const rootHow = openHow(O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_NO_MAGICLINKS);
    const root = ctx.program.syscall('cwd', 'openat2', [imm(AT_FDCWD), cstring('/'), bytes(rootHow), imm(rootHow.length)],
      { operation: 'openat2("/") of the root, to resolve the working directory in' });
    const how = openHow(O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    const dir = ctx.program.syscall('cwd', 'openat2', [resultOf(root), cstring(cwd), bytes(how), imm(how.length)],
      { operation: `openat2("${cwd}", RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) of ${whose} working directory`, optional });
    ctx.program.syscall('cwd', 'fchdir', [resultOf(dir)], { operation: `fchdir("${cwd}")`, optional });
    const env = [...ctx.env].map(([name, value]) => `${name}=${value}`);
    ctx.program.exec({ file: argv[0]!, argv, env });
  }
}

/**
 * The working directory the container model gives, when it has one. It is
 * opened as --cwd is (in the container's root, no magic link); a failure to
 * say it, or a relative path, is one AttachError naming this stage.
 */
function modelCwd(ctx: StageContext): { path: string; runtime: string } | undefined {
  const model = ctx.get(CONTAINER_MODEL);
  const path = readModel(ctx, (m) => m.cwd?.());
  if (!model || path === undefined) return undefined;
  if (!path.startsWith('/')) throw badModelValue(ctx, model.runtime, `the working directory ${JSON.stringify(path)} is not absolute`);
  return { path, runtime: model.runtime };
}
