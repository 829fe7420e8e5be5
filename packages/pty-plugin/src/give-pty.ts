import { COMMAND_IDENTITY, imm, optional, type Stage, type StageContext } from '@attachkit/core';
import { PTY_SLAVE } from './session.js';

/**
 * Give pty: the pty belongs to the user the command runs as, mode 0700, as
 * lxc-attach leaves it (utils.c, fix_stdio_permissions, called just before
 * seccomp and the id switch). Where the container's root may not change it
 * (a pty of ours that its user namespace does not map) it stays as it is,
 * as with lxc-attach. Unlike lxc-attach, nothing but the pty is touched: a
 * std fd redirected to a file of the caller keeps its owner and mode.
 *
 * Needs: open-pty, and set-identity for the command's ids (else uid 0).
 * Guarantees: fchown/fchmod of the slave in the `stdio` phase.
 */
export class GivePty implements Stage {
  readonly id = 'give-pty';
  readonly description = 'give the pty to the user the command runs as (mode 0700, as lxc-attach)';
  readonly after = ['open-pty', optional('set-identity')];
  readonly before = ['exec'];

  plan(ctx: StageContext): void {
    const slave = ctx.get(PTY_SLAVE);
    if (slave === undefined) return;
    const uid = ctx.get(COMMAND_IDENTITY)?.uid ?? 0;
    ctx.program.syscall('stdio', 'fchown', [imm(slave), imm(uid), imm(-1)], { operation: `fchown(pty, ${uid})`, optional: true });
    ctx.program.syscall('stdio', 'fchmod', [imm(slave), imm(0o700)], { operation: 'fchmod(pty, 0700)', optional: true });
  }
}
