import {
  AttachError, CONTAINER_CONFIG, ErrorCodes, imm, optional, PR_SET_NO_NEW_PRIVS,
  type Stage, type StageContext, type StageToggle,
} from '@attachkit/core';
import { AFTER_ISOLATION } from './options.js';

/**
 * No new privs: prctl(PR_SET_NO_NEW_PRIVS, 1) when the container sets
 * `lxc.no_new_privs = 1`, as lxc-attach does (attach.c, do_attach): after
 * the LSM label (an AppArmor profile change would be refused under it),
 * before seccomp (which it lets load without CAP_SYS_ADMIN) and exec.
 *
 * Needs: the container's config (CONTAINER_CONFIG); without one, nothing to do.
 * Guarantees: NoNewPrivs: 1 for the command when configured.
 */
export class SetNoNewPrivileges implements Stage {
  readonly id = 'no-new-privs';
  readonly description = 'no_new_privs when the container sets lxc.no_new_privs = 1';
  readonly after = [...AFTER_ISOLATION, optional('drop-caps'), optional('clear-inheritable-caps')];
  readonly before = ['exec'];

  toggle(): StageToggle {
    return { enabled: true, reason: 'when the container sets lxc.no_new_privs = 1' };
  }

  plan(ctx: StageContext): void {
    const value = ctx.get(CONTAINER_CONFIG)?.get('lxc.no_new_privs')?.trim() ?? '';
    // LXC reads it with lxc_safe_uint and takes 0 or 1 (confile.c, set_config_no_new_privs).
    if (value === '' || /^0+$/.test(value)) return;
    if (!/^0*1$/.test(value)) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: lxc.no_new_privs = ${value}: expected 0 or 1`, { stage: this.id });
    }
    ctx.program.syscall('no-new-privs', 'prctl', [imm(PR_SET_NO_NEW_PRIVS), imm(1), imm(0), imm(0), imm(0)], {
      operation: 'prctl(PR_SET_NO_NEW_PRIVS, 1)',
    });
  }
}
