import { readFileSync } from 'node:fs';
import type { StageContext } from '../pipeline/context.js';
import { CONTAINER_MODEL, type ResourceLimit } from '../pipeline/model.js';
import { optional, type Stage, type StageToggle } from '../pipeline/stage.js';
import { bytes, imm } from '../program/args.js';
import { badModelValue, readModel } from './model-member.js';

/**
 * RLIMIT_* by name (include/uapi/asm-generic/resource.h): the numbers of
 * x86_64, arm64 and riscv64, the architectures attachkit runs on (only
 * alpha, sparc and mips number a few of them differently).
 */
export const RLIMITS: Readonly<Record<string, number>> = {
  CPU: 0, FSIZE: 1, DATA: 2, STACK: 3, CORE: 4, RSS: 5, NPROC: 6, NOFILE: 7, MEMLOCK: 8, AS: 9,
  LOCKS: 10, SIGPENDING: 11, MSGQUEUE: 12, NICE: 13, RTPRIO: 14, RTTIME: 15,
};

/** RLIM_INFINITY: an unsigned 64-bit -1. */
export const RLIM_INFINITY = (1n << 64n) - 1n;

const shown = (v: bigint) => (v === RLIM_INFINITY ? 'unlimited' : String(v));

/**
 * Set rlimits: the command's resource limits are the container's (an OCI
 * process spec's `rlimits`, as `runc exec` sets them), each with
 * prlimit64(0, RLIMIT_x, {soft, hard}, NULL); a limit the model does not
 * name stays the caller's, as with runc. Every limit is checked while
 * planning: an unknown type, a soft limit above the hard one or a value
 * beyond 64 bits fails the attach before anything runs.
 *
 * Where: runc sets them from its parent (prlimit on the new process) before
 * the namespace join; here the attached process sets them on itself in the
 * 'capabilities' phase: a fresh process, still root and before the id
 * switch, so RLIMIT_NPROC meets setresuid and execve as under runc. One
 * thing differs in a container with its own user namespace: raising a hard
 * limit needs CAP_SYS_RESOURCE in the *initial* user namespace, which the
 * attached process no longer has there. So a hard limit above attachkit's
 * own (read from /proc/self/limits: the executor inherits it) is first
 * raised in the intermediate, in the 'harden' phase, before any namespace
 * is joined, and inherited at the fork; only the hard limit is raised there
 * (the soft stays attachkit's), since a low soft RLIMIT_NOFILE would break
 * the executor's own fd moves at the fork (F_DUPFD above 255).
 *
 * Needs: the container model (CONTAINER_MODEL); without rlimits, nothing to do.
 * Guarantees: the command starts with exactly the model's soft and hard limits.
 */
export class SetResourceLimits implements Stage {
  readonly id = 'set-rlimits';
  readonly description = "the container's resource limits (prlimit64) for the command";
  // Reading order: with the other stages that shape the process the command starts in.
  readonly after = ['resolve-target', optional('set-personality')];
  readonly before = ['exec'];

  toggle(): StageToggle {
    return { enabled: true, reason: 'the container\'s resource limits, when it sets any (an OCI spec\'s rlimits)' };
  }

  plan(ctx: StageContext): void {
    const limits: readonly ResourceLimit[] = readModel(ctx, (m) => m.rlimits?.()) ?? [];
    const runtime = ctx.get(CONTAINER_MODEL)?.runtime;
    // Checked all first: nothing is emitted for a list with a bad entry.
    const checked = limits.map((limit) => {
      const resource = Object.hasOwn(RLIMITS, limit.type) ? RLIMITS[limit.type] : undefined;
      if (resource === undefined) {
        throw badModelValue(ctx, runtime, `unknown resource limit type '${limit.type}' (known: ${Object.keys(RLIMITS).join(', ')})`);
      }
      for (const [what, v] of [['soft', limit.soft], ['hard', limit.hard]] as const) {
        if (typeof v !== 'bigint' || v < 0n || v > RLIM_INFINITY) throw badModelValue(ctx, runtime, `RLIMIT_${limit.type} ${what} limit ${String(v)} is not a 64-bit unsigned value`);
      }
      if (limit.soft > limit.hard) {
        throw badModelValue(ctx, runtime, `RLIMIT_${limit.type} soft limit ${shown(limit.soft)} is above its hard limit ${shown(limit.hard)}`);
      }
      return { ...limit, resource };
    });
    if (checked.length === 0) return;
    const own = ownLimits(ctx);
    for (const { type, soft, hard, resource } of checked) {
      const current = own[resource];
      if (current && hard > current.hard) {
        ctx.program.syscall('harden', 'prlimit64', [imm(0), imm(resource), rlimit(current.soft, hard), imm(0)], {
          operation: `prlimit64(self, RLIMIT_${type}, soft ${shown(current.soft)}, hard ${shown(hard)}) to raise the hard limit before any namespace is joined`,
        });
      }
      ctx.program.syscall('capabilities', 'prlimit64', [imm(0), imm(resource), rlimit(soft, hard), imm(0)], {
        operation: `prlimit64(self, RLIMIT_${type}, soft ${shown(soft)}, hard ${shown(hard)})`,
      });
    }
  }
}

/** struct rlimit64 { __u64 rlim_cur; __u64 rlim_max; } */
function rlimit(soft: bigint, hard: bigint) {
  const value = Buffer.alloc(16);
  value.writeBigUInt64LE(soft, 0);
  value.writeBigUInt64LE(hard, 8);
  return bytes(value);
}

/**
 * This process's limits, by resource number: /proc/self/limits lists them in
 * RLIMIT_* order (fs/proc/base.c, proc_pid_limits), under one header line.
 */
function ownLimits(ctx: StageContext): Array<{ soft: bigint; hard: bigint } | undefined> {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch (err) {
    throw ctx.error('read of /proc/self/limits', err);
  }
  const value = (v: string | undefined) => (v === 'unlimited' ? RLIM_INFINITY : v !== undefined && /^\d+$/.test(v) ? BigInt(v) : undefined);
  return text.split('\n').slice(1).filter(Boolean).map((line) => {
    // "Max open files            20000                20000                files"
    const [soft, hard] = line.slice(26).trim().split(/\s+/).map(value);
    return soft !== undefined && hard !== undefined ? { soft, hard } : undefined;
  });
}
