import { readFileSync } from 'node:fs';
import { injectable, injectAll } from '../di.js';
import { AttachError, ErrorCodes, SyscallError } from '../errors.js';
import { describeErrno } from '../libc/errno.js';
import type { ResolvedTarget, StageContext } from '../pipeline/context.js';
import { hasTargetPid } from '../pipeline/request.js';
import type { Stage } from '../pipeline/stage.js';
import { TARGET_RESOLVER, type TargetResolver } from '../pipeline/target.js';

/**
 * Resolve init PID: hold the target process by a pidfd before anything else
 * looks at it, so a recycled pid can never be attached (every later read of
 * /proc/<pid> is checked against the pidfd, and setns goes through it).
 *
 * - `{ pid }`: that process; no container model (the stages read /proc).
 * - any other kind: the first registered TargetResolver (TARGET_RESOLVER)
 *   that accepts it, a target plugin's (an LXC container by name, …), which
 *   holds the container's init and publishes its CONTAINER_MODEL.
 *
 * A kernel thread (PF_KTHREAD in /proc/<pid>/stat, read once the pidfd holds
 * it) is refused: it has no namespaces of its own to enter and no userspace
 * to exec in (lxc-attach cannot attach to one either).
 *
 * Needs: nothing. Guarantees: ctx.target, with a live pidfd until the attach started, not a kernel thread.
 */
@injectable()
export class ResolveTarget implements Stage {
  readonly id = 'resolve-target';
  readonly description = "hold the target process (a pid, or a container's init) by a pidfd";
  readonly before = ['exec'];

  constructor(@injectAll(TARGET_RESOLVER, { isOptional: true }) private readonly resolvers: readonly TargetResolver[] = []) {}

  async plan(ctx: StageContext): Promise<void> {
    const { target } = ctx.request;
    if (hasTargetPid(target)) {
      ctx.setTarget(this.byPid(ctx, target.pid));
      this.refuseKernelThread(ctx);
      return;
    }
    const resolver = this.resolvers.find((r) => r.accepts(target));
    if (!resolver) {
      const known = this.resolvers.map((r) => r.kind);
      throw new AttachError(ErrorCodes.BAD_REQUEST,
        `${this.id}: no target plugin takes the target ${JSON.stringify(target)} (${known.length ? `registered: ${known.join(', ')}` : 'none is registered'}; a pid needs none)`,
        { stage: this.id });
    }
    ctx.setTarget(await resolver.resolve(ctx, target));
    this.refuseKernelThread(ctx);
  }

  /** PF_KTHREAD in the flags (field 9) of /proc/<pid>/stat, read through ctx.readTarget so the pid is still the one the pidfd holds. */
  private refuseKernelThread(ctx: StageContext): void {
    const { pid, description } = ctx.target;
    const stat = ctx.readTarget(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
    let kernelThread: boolean;
    try {
      kernelThread = isKernelThread(stat);
    } catch (err) {
      throw ctx.error(`reading the flags of ${description} in /proc/${pid}/stat`, err);
    }
    if (!kernelThread) return;
    throw new AttachError(ErrorCodes.TARGET,
      `${this.id}: ${description} is a kernel thread: it has no namespaces of its own to enter and no userspace to run a command in`,
      { stage: this.id, operation: `check ${description}` });
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

/** include/linux/sched.h: I am a kernel thread. */
const PF_KTHREAD = 0x00200000;

/** Whether a /proc/<pid>/stat line is a kernel thread's: flags, field 9, counted after comm's closing parenthesis (comm may hold spaces and parentheses). */
export function isKernelThread(stat: string): boolean {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const flags = Number(fields[6]);
  if (!Number.isSafeInteger(flags)) throw new Error(`unexpected /proc/<pid>/stat: ${stat.slice(0, 80)}`);
  return (flags & PF_KTHREAD) !== 0;
}
