import {
  AttachError, CONTAINER_MODEL, ErrorCodes, imm, optional, PR_SET_NO_NEW_PRIVS,
  type Stage, type StageContext, type StageToggle,
} from '@attachkit/core';
import { AFTER_ISOLATION } from './options.js';

/**
 * No new privs: prctl(PR_SET_NO_NEW_PRIVS, 1) when the container model asks
 * for it (LXC: its no_new_privs key), as lxc-attach does (attach.c, do_attach): after
 * the LSM label (an AppArmor profile change would be refused under it),
 * before seccomp (which it lets load without CAP_SYS_ADMIN) and exec.
 *
 * Needs: the container model (CONTAINER_MODEL); without one, nothing to do.
 * Guarantees: NoNewPrivs: 1 for the command when configured.
 */
export class SetNoNewPrivileges implements Stage {
  readonly id = 'no-new-privs';
  readonly description = 'no_new_privs when the container asks for it';
  readonly after = [...AFTER_ISOLATION, optional('drop-caps'), optional('clear-inheritable-caps')];
  readonly before = ['exec'];

  toggle(): StageToggle {
    return { enabled: true, reason: 'when the container asks for it' };
  }

  plan(ctx: StageContext): void {
    let wanted: boolean;
    try {
      wanted = ctx.get(CONTAINER_MODEL)?.noNewPrivileges?.() ?? false;
    } catch (err) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${(err as Error).message}`, { stage: this.id, cause: err });
    }
    if (!wanted) return;
    ctx.program.syscall('no-new-privs', 'prctl', [imm(PR_SET_NO_NEW_PRIVS), imm(1), imm(0), imm(0), imm(0)], {
      operation: 'prctl(PR_SET_NO_NEW_PRIVS, 1)',
    });
  }
}
