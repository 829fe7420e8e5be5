import type { StageContext } from '../pipeline/context.js';
import { CONTAINER_MODEL } from '../pipeline/model.js';
import { optional, type Stage, type StageToggle } from '../pipeline/stage.js';
import { imm } from '../program/args.js';
import { badModelValue, readModel } from './model-member.js';

const octal = (mask: number) => `0${mask.toString(8).padStart(3, '0')}`;

/**
 * Set umask: the command's file mode creation mask is the container's (an
 * OCI spec's process.user.umask); without one it stays the caller's, as
 * with `runc exec` 1.1.5, which never sets it. umask(2) in the attached
 * process, in the 'cwd' phase with the rest of its file-system context.
 *
 * Needs: the container model (CONTAINER_MODEL). Guarantees: the command
 * starts with the model's umask.
 */
export class SetUmask implements Stage {
  readonly id = 'set-umask';
  readonly description = "the container's umask for the command";
  readonly after = ['resolve-target', optional('set-personality')];
  readonly before = ['exec'];

  toggle(): StageToggle {
    return { enabled: true, reason: "the container's umask, when it sets one (an OCI spec's process.user.umask)" };
  }

  plan(ctx: StageContext): void {
    const mask = readModel(ctx, (m) => m.umask?.());
    if (mask === undefined) return;
    if (!Number.isSafeInteger(mask) || mask < 0 || mask > 0o777) {
      throw badModelValue(ctx, ctx.get(CONTAINER_MODEL)?.runtime, `umask ${Number.isSafeInteger(mask) && mask >= 0 ? octal(mask) : mask} is not a mode from 0000 to 0777`);
    }
    // umask(2) cannot fail; it returns the previous mask.
    ctx.program.syscall('cwd', 'umask', [imm(mask)], { operation: `umask(${octal(mask)})` });
  }
}
