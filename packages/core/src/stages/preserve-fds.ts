import { AttachError, ErrorCodes, SyscallError } from '../errors.js';
import { F_GETFD } from '../libc/constants.js';
import type { StageContext } from '../pipeline/context.js';
import type { AttachRequest } from '../pipeline/request.js';
import { optional, type Stage, type StageToggle } from '../pipeline/stage.js';

/**
 * Preserve fds: hand chosen fds of the caller to the command, as runc's
 * --preserve-fds does (the CLI's `--preserve-fds N` asks for the caller's
 * 3 … 3+N-1). The command gets them as 3, 4, … in the order asked; every
 * other fd is still closed before exec (CVE-2024-21626): the executor places
 * the kept fds after every other op has run, and its sweep spares them.
 *
 * Needs: nothing. Guarantees: each fd asked for is open now (else the attach
 * fails before anything starts) and is the command's 3 + i at exec.
 */
export class PreserveFds implements Stage {
  readonly id = 'preserve-fds';
  readonly description = 'hand chosen fds of the caller to the command as 3, 4, … (--preserve-fds)';
  // Reading order: with the other stages that shape what the command starts with, just before exec.
  readonly after = ['resolve-target', optional('build-env')];
  readonly before = ['exec'];

  toggle(request: AttachRequest): StageToggle {
    const fds = request.preserveFds ?? [];
    return fds.length ? { enabled: true, reason: `the caller's fds ${fds.join(', ')}` } : { enabled: false, reason: 'no --preserve-fds' };
  }

  plan(ctx: StageContext): void {
    for (const fd of ctx.request.preserveFds ?? []) {
      if (!Number.isSafeInteger(fd) || fd < 0) {
        throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${fd} is not an fd number`, { stage: this.id });
      }
      try {
        ctx.libc.fcntl(fd, F_GETFD, 0);
      } catch (err) {
        const errno = err instanceof SyscallError ? err.errno : undefined;
        throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: fd ${fd} is not open in the caller, so it cannot be preserved`, { stage: this.id, syscall: 'fcntl', errno, cause: err });
      }
      ctx.program.keepFd(fd);
    }
  }
}
