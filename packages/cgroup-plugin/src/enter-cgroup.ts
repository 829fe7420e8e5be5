import { chownSync, closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import {
  AttachError, contextKey, cstring, ErrorCodes, imm, inject, injectable, CONTAINER_MODEL, namespaceRootOwner, optional,
  type ContainerCgroups, type IntermediateProcess, type ModelFailure, type Stage, type StageContext, type AttachRequest, type StageToggle,
} from '@attachkit/core';
import { parseMountinfo, parseProcCgroup, place, type CgroupPlacement } from './hierarchies.js';
import { CGROUP_OPTIONS, type CgroupOptions } from './options.js';


/** Where a cgroup is opened from (a held directory fd's /proc/self/fd path, or a host path), and how errors name it. */
interface CgroupDir {
  readonly open: string;
  readonly shown: string;
  readonly unified: boolean;
}

/** A cgroup2 move the parent makes at the sync point (kernels without CLONE_INTO_CGROUP): cgroup.procs fds, tried in order. */
interface ParentMove {
  readonly targets: ReadonlyArray<{ readonly procs: string; readonly fd: number }>;
}

const PARENT_MOVES = contextKey<readonly ParentMove[]>('enter-cgroup/parent-moves');

/**
 * Enter cgroup: before the intermediate joins any namespace, it enters the
 * target's cgroup in every hierarchy (v1, v2, hybrid), so no process of the
 * attach ever runs outside them and every descendant is born inside (an old
 * lxc-attach escape). Neither way takes the global lock that moving a
 * process by pid takes (cgroup.procs: an RCU grace period, 5-15 ms here on
 * the first attach after a pause, which lxc-attach pays):
 *
 * - v1: the intermediate writes 0 to each hierarchy's `tasks`, moving its
 *   only thread itself;
 * - cgroup2: it goes on in a child born in the cgroup (clone3
 *   CLONE_INTO_CGROUP, Linux 5.7); on older kernels the parent writes the
 *   intermediate's pid to cgroup.procs at the sync point.
 *
 * Planning opens every file the move writes (`tasks`, `cgroup.procs`) for
 * writing: that is the writability check, done before anything is started,
 * and the move then goes through fds held since planning, not paths.
 *
 * Needs: the target. Guarantees: the process that joins the namespaces is in the target's cgroups.
 */
@injectable()
export class EnterCgroup implements Stage {
  readonly id = 'enter-cgroup';
  readonly description = "move the attach into the target's cgroups before it joins anything";
  readonly after = ['resolve-target', optional('open-pty'), optional('join-namespaces')];
  readonly before = ['exec'];

  /** Only where the parent moves the intermediate (no CLONE_INTO_CGROUP): else no sync point is needed. */
  readonly atSyncPoint?: (ctx: StageContext, intermediate: IntermediateProcess) => void;

  constructor(@inject(CGROUP_OPTIONS) private readonly options: CgroupOptions) {
    if (!options.cloneIntoCgroup) this.atSyncPoint = (ctx, intermediate) => this.moveAtSync(ctx, intermediate);
  }

  toggle(request: AttachRequest): StageToggle {
    // An explicit `elevated` alone decides (lxc-attach: the last of -s and -e wins); without it, -s keeps every privilege.
    if (request.elevated === undefined && request.namespaces) return { enabled: false, reason: '-s implies -e, as with lxc-attach' };
    if (request.elevated?.includes('CGROUP')) return { enabled: false, reason: "-e CGROUP: the command stays in the caller's cgroups" };
    return { enabled: true, reason: "the target's cgroups" };
  }

  plan(ctx: StageContext): void {
    const fromModel = this.modelDirs(ctx);
    const dirs = fromModel?.dirs ?? this.discover(ctx).map((p) => ({ open: p.dir, shown: p.dir, unified: p.hierarchy.unified }));
    const leaf = fromModel?.leaf;
    // v1 first: the cgroup2 fork, if any, must come last, and its child keeps the v1 cgroups.
    for (const dir of dirs.filter((d) => !d.unified)) {
      const tasks = this.openForWrite(ctx, `${dir.open}/tasks`, `${dir.shown}/tasks`);
      ctx.program.syscall('cgroups', 'write', [imm(ctx.program.passFd(tasks)), cstring('0'), imm(1)],
        { operation: `write of 0 to ${dir.shown}/tasks (the intermediate moves itself)` });
    }
    const moves = dirs.filter((d) => d.unified).map((d) => this.enterUnified(ctx, d, leaf));
    ctx.set(PARENT_MOVES, moves.filter((m): m is ParentMove => m !== undefined));
  }

  /** The container's own cgroup directories, when its runtime hands them out (LXC's monitor: GET_CGROUP_CTX). */
  private modelDirs(ctx: StageContext): ContainerCgroups | undefined {
    try {
      return ctx.get(CONTAINER_MODEL)?.cgroups?.();
    } catch (err) {
      const failure = err as ModelFailure;
      throw ctx.error(failure.operation ?? 'reading the container\'s cgroups', failure.operation ? failure.cause : err);
    }
  }

  /** Kernels without CLONE_INTO_CGROUP: the intermediate's pid into cgroup.procs, from here. */
  private moveAtSync(ctx: StageContext, intermediate: IntermediateProcess): void {
    for (const move of ctx.get(PARENT_MOVES) ?? []) {
      // Until the intermediate is reaped its pid cannot name another process.
      if (!intermediate.isAlive()) throw new AttachError(ErrorCodes.EXECUTOR, `${this.id}: the intermediate process died at the sync point`, { stage: this.id });
      let first: unknown;
      const moved = move.targets.some(({ fd }) => {
        try {
          writeSync(fd, String(intermediate.pid));
          return true;
        } catch (err) {
          first ??= err;
          return false;
        }
      });
      if (!moved) throw ctx.error(`write of pid ${intermediate.pid} to ${move.targets[0]!.procs}`, first);
    }
  }

  /** The target's cgroups from /proc/<pid>/cgroup, except those it shares with us (nothing to do there). */
  private discover(ctx: StageContext): CgroupPlacement[] {
    const { procRoot } = this.options;
    const hierarchies = parseMountinfo(readFileSync(`${procRoot}/self/mountinfo`, 'utf8'));
    const theirs = ctx.readTarget(() => readFileSync(`${procRoot}/${ctx.target.pid}/cgroup`, 'utf8'));
    const ours = new Set(place(parseProcCgroup(readFileSync(`${procRoot}/self/cgroup`, 'utf8')), hierarchies).map((p) => p.dir));
    return place(parseProcCgroup(theirs), hierarchies).filter((p) => !ours.has(p.dir));
  }

  /**
   * The cgroup2 directory: with a leaf (LXC's `.lxc`), make it first (owned
   * by the container's root when the target has its own user namespace, as
   * LXC makes it from inside). Born there by a fork when the kernel can;
   * else a move by the parent, with the cgroup itself as the fallback LXC
   * uses when the leaf refuses the process.
   *
   * The kernel gives a new cgroup2 directory's files to whoever made it
   * (kernel/cgroup/cgroup.c, cgroup_add_file: current_fsuid()), so LXC's
   * leaf is the container root's files and all: chown every one, or root
   * inside could not use its own leaf (cgroup.procs, cgroup.kill, ...).
   */
  private enterUnified(ctx: StageContext, dir: CgroupDir, leaf: string | undefined): ParentMove | undefined {
    const candidates = [{ open: dir.open, shown: dir.shown }];
    if (leaf) {
      const made = `${dir.open}/${leaf}`;
      try {
        mkdirSync(made, { mode: 0o755 });
        const owner = namespaceRootOwner(ctx.target.pid, this.options.procRoot);
        if (owner) for (const entry of ['.', ...readdirSync(made)]) chownSync(`${made}/${entry}`, owner.uid, owner.gid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ctx.error(`mkdir(${dir.shown}/${leaf})`, err);
      }
      candidates.unshift({ open: made, shown: `${dir.shown}/${leaf}` });
    }
    if (!this.options.cloneIntoCgroup) return { targets: candidates.map((c) => this.procs(ctx, c.open, c.shown)) };
    const { open, shown } = candidates[0]!;
    this.procs(ctx, open, shown); // the writability check: a read-only mount fails here, before anything runs
    let fd: number;
    try {
      fd = this.openFd(ctx, open, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      throw ctx.error(`open(${shown}, O_DIRECTORY)`, err);
    }
    ctx.program.forkIntoCgroup(fd, `clone3(CLONE_INTO_CGROUP) into ${shown}`);
    return undefined;
  }

  private procs(ctx: StageContext, dir: string, shown: string): { procs: string; fd: number } {
    const procs = `${shown}/cgroup.procs`;
    return { procs, fd: this.openForWrite(ctx, `${dir}/cgroup.procs`, procs) };
  }

  /** Open for writing, with a hint for the failures a user can act on. */
  private openForWrite(ctx: StageContext, path: string, shown: string): number {
    try {
      return this.openFd(ctx, path, constants.O_WRONLY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const hint = code === 'ENOENT' ? ' (the cgroup is gone: is the container stopping?)'
        : code === 'EACCES' && process.geteuid?.() !== 0
          ? ` (not writable by uid ${process.geteuid?.()}: entering another user's cgroup needs root, or a cgroup delegated to you; -e CGROUP attaches without moving)`
        : code === 'EROFS' || code === 'EACCES' ? ' (the cgroup is not writable; -e CGROUP attaches without moving)' : '';
      const e = ctx.error(`open(${shown}, O_WRONLY)`, err);
      throw new AttachError(e.code, `${e.message}${hint}`, { stage: this.id, operation: e.operation, syscall: 'open', errno: e.errno, cause: err });
    }
  }

  /** An fd held until the attach is over. */
  private openFd(ctx: StageContext, path: string, flags: number): number {
    const fd = openSync(path, flags);
    ctx.defer(() => closeSync(fd));
    return fd;
  }
}
