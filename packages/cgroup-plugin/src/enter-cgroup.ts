import { closeSync, constants, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import {
  AttachError, contextKey, ErrorCodes, inject, injectable, optional,
  type IntermediateProcess, type Stage, type StageContext, type AttachRequest, type StageToggle,
} from '@attachkit/core';
import { parseMountinfo, parseProcCgroup, place, type CgroupPlacement } from './hierarchies.js';
import { CGROUP_OPTIONS, type CgroupOptions } from './options.js';

/**
 * The container's cgroups, when a resolver knows them better than
 * /proc/<pid>/cgroup (LXC hands out its cgroup directories). `leaf` is the
 * cgroup2 child to use, LXC's `.lxc`.
 */
export const CONTAINER_CGROUPS = contextKey<{ readonly placements: readonly CgroupPlacement[]; readonly leaf?: string }>('container-cgroups');

interface Move {
  readonly procs: string;
  readonly fd: number;
}
const MOVES = contextKey<readonly Move[]>('enter-cgroup/moves');

/**
 * Enter cgroup: at the sync point, before the intermediate joins any
 * namespace, the parent writes its pid into the target's cgroup in every
 * hierarchy (v1, v2, hybrid), so no process of the attach ever runs outside
 * them and every descendant is born inside (an old lxc-attach escape).
 *
 * Planning opens every cgroup.procs for writing: that is the writability
 * check, done before anything is started, and the move then goes through
 * fds held since planning, not paths.
 *
 * Needs: the target. Guarantees: the intermediate is in the target's cgroups when it goes on.
 */
@injectable()
export class EnterCgroup implements Stage {
  readonly id = 'enter-cgroup';
  readonly description = "move the attach into the target's cgroups before it joins anything";
  readonly after = ['resolve-target', optional('open-pty'), optional('join-namespaces')];
  readonly before = ['exec'];

  constructor(@inject(CGROUP_OPTIONS) private readonly options: CgroupOptions) {}

  toggle(request: AttachRequest): StageToggle {
    if (request.elevated?.includes('CGROUP')) return { enabled: false, reason: "-e CGROUP: the command stays in the caller's cgroups" };
    if (request.namespaces) return { enabled: false, reason: '-s implies -e, as with lxc-attach' };
    return { enabled: true, reason: "the target's cgroups" };
  }

  plan(ctx: StageContext): void {
    const given = ctx.get(CONTAINER_CGROUPS);
    const placements = given?.placements ?? this.discover(ctx);
    const moves = placements.map((p) => this.open(ctx, p, p.hierarchy.unified ? given?.leaf : undefined));
    ctx.set(MOVES, moves);
  }

  atSyncPoint(ctx: StageContext, intermediate: IntermediateProcess): void {
    for (const move of ctx.get(MOVES) ?? []) {
      // Until the intermediate is reaped its pid cannot name another process.
      if (!intermediate.isAlive()) throw new AttachError(ErrorCodes.EXECUTOR, `${this.id}: the intermediate process died at the sync point`, { stage: this.id });
      try {
        writeSync(move.fd, String(intermediate.pid));
      } catch (err) {
        throw ctx.error(`write of pid ${intermediate.pid} to ${move.procs}`, err);
      }
    }
  }

  /** The target's cgroups from /proc/<pid>/cgroup, except those it shares with us (nothing to do there). */
  private discover(ctx: StageContext): CgroupPlacement[] {
    const { procRoot } = this.options;
    const { pid, pidfd, description } = ctx.target;
    const hierarchies = parseMountinfo(readFileSync(`${procRoot}/self/mountinfo`, 'utf8'));
    let theirs: string;
    try {
      theirs = readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8');
      ctx.libc.pidfdSendSignal(pidfd, 0); // the file we read was the process we hold
    } catch (err) {
      throw new AttachError(ErrorCodes.TARGET, `${this.id}: the target ${description} exited during the attach`, { stage: this.id, cause: err });
    }
    const ours = new Set(place(parseProcCgroup(readFileSync(`${procRoot}/self/cgroup`, 'utf8')), hierarchies).map((p) => p.dir));
    return place(parseProcCgroup(theirs), hierarchies).filter((p) => !ours.has(p.dir));
  }

  private open(ctx: StageContext, placement: CgroupPlacement, leaf: string | undefined): Move {
    let dir = placement.dir;
    if (leaf) {
      dir = `${dir}/${leaf}`;
      try {
        mkdirSync(dir, { mode: 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ctx.error(`mkdir(${dir})`, err);
      }
    }
    const procs = `${dir}/cgroup.procs`;
    let fd: number;
    try {
      fd = openSync(procs, constants.O_WRONLY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const hint = code === 'ENOENT' ? ' (the cgroup is gone: is the container stopping?)'
        : code === 'EROFS' || code === 'EACCES' ? ' (the cgroup is not writable; -e CGROUP attaches without moving)' : '';
      const e = ctx.error(`open(${procs}, O_WRONLY)`, err);
      throw new AttachError(e.code, `${e.message}${hint}`, { stage: this.id, operation: e.operation, syscall: 'open', errno: e.errno, cause: err });
    }
    ctx.defer(() => closeSync(fd));
    return { procs, fd };
  }
}
