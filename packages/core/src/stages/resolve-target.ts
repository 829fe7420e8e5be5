import { AttachError, ErrorCodes, SyscallError } from '../errors.js';
import { describeErrno } from '../libc/errno.js';
import { resolveContainer } from '../lxc/resolve-container.js';
import type { ResolvedTarget, StageContext } from '../pipeline/context.js';
import { hasTargetPid } from '../pipeline/request.js';
import type { Stage } from '../pipeline/stage.js';

/**
 * Resolve init PID: hold the target process by a pidfd before anything else
 * looks at it, so a recycled pid can never be attached (every later read of
 * /proc/<pid> is checked against the pidfd, and setns goes through it).
 *
 * - `{ pid }`: that process.
 * - `{ name, lxcpath, rcfile }`: an LXC container's init, from its monitor
 *   (lxc/resolve-container.ts); also reads the container's config into
 *   CONTAINER_CONFIG and publishes LXC_CONTAINER for the stages that need LXC's view.
 *
 * Needs: nothing. Guarantees: ctx.target, with a live pidfd until the attach started.
 */
export class ResolveTarget implements Stage {
  readonly id = 'resolve-target';
  readonly description = 'hold the target process (a pid, or an LXC container\'s init) by a pidfd';
  readonly before = ['exec'];

  plan(ctx: StageContext): void {
    const { target } = ctx.request;
    ctx.setTarget(hasTargetPid(target) ? this.byPid(ctx, target.pid) : resolveContainer(ctx, target));
  }

  private byPid(ctx: StageContext, pid: number): ResolvedTarget {
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
    return { pid, pidfd, description: `pid ${pid}` };
  }
}
