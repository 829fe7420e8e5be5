import { constants, openSync } from 'node:fs';
import type { StageContext } from '../pipeline/context.js';
import { CONTAINER_MODEL } from '../pipeline/model.js';
import { optional, type Stage, type StageToggle } from '../pipeline/stage.js';
import { bytes, imm, resultOf } from '../program/args.js';
import { badModelValue, readModel } from './model-member.js';

/**
 * Set oom_score_adj: the command's /proc/<pid>/oom_score_adj is the
 * container's (an OCI spec's process.oomScoreAdj, which `runc exec` writes
 * for the new process), -1000 … 1000; without one it stays the caller's.
 *
 * The file is never opened through the container's /proc (it may mount its
 * own and redirect the write, as with the LSM attr file, CVE-2015-1334), and
 * no fd of the host's procfs crosses: once the attached process exists, the
 * parent opens *its* oom_score_adj on the host's procfs and hands it over
 * (receiveFd); the process writes the value and closes it. It writes in the
 * 'capabilities' phase, as root and before the id switch: the kernel checks
 * the writer, and going below the process's oom_score_adj_min needs
 * CAP_SYS_RESOURCE (fs/proc/base.c, __set_oom_adj).
 *
 * Needs: the container model (CONTAINER_MODEL). Guarantees: the command
 * starts with the model's oom_score_adj.
 */
export class SetOomScoreAdj implements Stage {
  readonly id = 'set-oom-score-adj';
  readonly description = "the container's oom_score_adj for the command";
  readonly after = ['resolve-target', optional('set-personality')];
  readonly before = ['exec'];

  toggle(): StageToggle {
    return { enabled: true, reason: "the container's oom_score_adj, when it sets one (an OCI spec's process.oomScoreAdj)" };
  }

  plan(ctx: StageContext): void {
    const value = readModel(ctx, (m) => m.oomScoreAdj?.());
    if (value === undefined) return;
    if (!Number.isSafeInteger(value) || value < -1000 || value > 1000) {
      throw badModelValue(ctx, ctx.get(CONTAINER_MODEL)?.runtime, `oom_score_adj ${value} is not an integer from -1000 to 1000`);
    }
    const file = (pid: number | string) => `/proc/${pid}/oom_score_adj`;
    const fd = ctx.program.receiveFd('capabilities', `the attached process's ${file('<pid>')}`, ({ pid }) => {
      try {
        return openSync(file(pid), constants.O_WRONLY | constants.O_NOFOLLOW);
      } catch (err) {
        throw ctx.error(`open(${file(pid)}, O_WRONLY)`, err);
      }
    });
    const text = Buffer.from(String(value));
    ctx.program.syscall('capabilities', 'write', [resultOf(fd), bytes(text), imm(text.length)], {
      operation: `write("${value}") to ${file('<attached pid>')}`,
    });
    ctx.program.syscall('capabilities', 'close', [resultOf(fd)], { operation: `close(${file('<attached pid>')})` });
  }
}
