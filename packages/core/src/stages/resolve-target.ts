import { AttachError, ErrorCodes, SyscallError } from '../errors.js';
import { describeErrno } from '../libc/errno.js';
import type { StageContext } from '../pipeline/context.js';
import { hasTargetPid } from '../pipeline/request.js';
import type { Stage } from '../pipeline/stage.js';

/**
 * Resolve init PID, for a `--pid` target: hold the process by a pidfd before
 * anything else looks at it, so a recycled pid can never be attached (every
 * later read of /proc/<pid> is checked against the pidfd, and setns goes
 * through it). Other targets (a container name) are resolved by a plugin
 * that replaces this stage.
 *
 * Needs: nothing. Guarantees: ctx.target, with a live pidfd until the attach started.
 */
export class ResolveTargetByPid implements Stage {
  readonly id = 'resolve-target';
  readonly description = 'hold the target process by a pidfd';
  readonly before = ['exec'];

  plan(ctx: StageContext): void {
    const { target } = ctx.request;
    if (!hasTargetPid(target)) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: this pipeline attaches by pid only; add a plugin that resolves container names`, { stage: this.id });
    }
    const { pid } = target;
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: invalid pid ${pid}`, { stage: this.id });
    }
    let pidfd: number;
    try {
      pidfd = ctx.libc.pidfdOpen(pid);
    } catch (err) {
      if (err instanceof SyscallError) {
        const why = err.code === 'ESRCH' ? `no process with pid ${pid}: ` : '';
        throw new AttachError(ErrorCodes.TARGET, `${this.id}: ${why}pidfd_open(pid ${pid}) failed: ${describeErrno(err.errno)}`,
          { stage: this.id, operation: `pidfd_open(pid ${pid})`, syscall: 'pidfd_open', errno: err.errno, cause: err });
      }
      throw err;
    }
    ctx.defer(() => ctx.libc.close(pidfd));
    ctx.setTarget({ pid, pidfd, description: `pid ${pid}` });
  }
}
