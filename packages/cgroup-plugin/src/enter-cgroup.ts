import { chownSync, closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import {
  AttachError, contextKey, ErrorCodes, inject, injectable, LXC_CONTAINER, namespaceRootOwner, optional,
  type IntermediateProcess, type LxcContainer, type Stage, type StageContext, type AttachRequest, type StageToggle,
} from '@attachkit/core';
import { parseMountinfo, parseProcCgroup, place, type CgroupPlacement } from './hierarchies.js';
import { CGROUP_OPTIONS, type CgroupOptions } from './options.js';

/**
 * The container's cgroups, when a resolver knows them better than
 * /proc/<pid>/cgroup (LXC hands out its cgroup directories). `leaf` is the
 * cgroup2 child to use, LXC's `.lxc`.
 */
export const CONTAINER_CGROUPS = contextKey<{ readonly placements: readonly CgroupPlacement[]; readonly leaf?: string }>('container-cgroups');

/** One cgroup.procs to write the intermediate's pid to, with fallbacks tried in order. */
interface Move {
  readonly targets: ReadonlyArray<{ readonly procs: string; readonly fd: number }>;
}

/** Where a cgroup is opened from (a held directory fd's /proc/self/fd path, or a host path), and how errors name it. */
interface CgroupDir {
  readonly open: string;
  readonly shown: string;
  readonly unified: boolean;
}

/** LXC puts attached processes in this cgroup2 child of the container's cgroup (cgfsng.c, __cgroup_attach_many). */
const LXC_LEAF = '.lxc';
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
    const lxc = ctx.get(LXC_CONTAINER);
    const fromLxc = !given && lxc ? this.lxcDirs(ctx, lxc) : undefined;
    const fromHost = (placements: readonly CgroupPlacement[]) =>
      placements.map((p) => ({ open: p.dir, shown: p.dir, unified: p.hierarchy.unified }));
    const dirs = given ? fromHost(given.placements) : fromLxc ?? fromHost(this.discover(ctx));
    const leaf = given ? given.leaf : fromLxc ? LXC_LEAF : undefined;
    ctx.set(MOVES, dirs.map((d) => this.open(ctx, d, d.unified ? leaf : undefined)));
  }

  /** The container's own cgroup directories, as its monitor hands them out (GET_CGROUP_CTX). */
  private lxcDirs(ctx: StageContext, lxc: LxcContainer): CgroupDir[] | undefined {
    let cgroups;
    try {
      cgroups = lxc.cgroups();
    } catch (err) {
      throw ctx.error(`asking the monitor of container ${lxc.name} for its cgroups`, err);
    }
    return cgroups?.dirs.map((d) => ({ open: `/proc/self/fd/${d.fd}`, shown: d.dir, unified: d.unified }));
  }

  atSyncPoint(ctx: StageContext, intermediate: IntermediateProcess): void {
    for (const move of ctx.get(MOVES) ?? []) {
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

  /**
   * Open cgroup.procs for writing. With a leaf (LXC's `.lxc`), make it first
   * (owned by the container's root when the target has its own user
   * namespace, as LXC makes it from inside), and keep the cgroup itself as
   * the fallback LXC uses when the leaf refuses the process.
   *
   * The kernel gives a new cgroup2 directory's files to whoever made it
   * (kernel/cgroup/cgroup.c, cgroup_add_file: current_fsuid()), so LXC's
   * leaf is the container root's files and all: chown every one, or root
   * inside could not use its own leaf (cgroup.procs, cgroup.kill, ...).
   */
  private open(ctx: StageContext, dir: CgroupDir, leaf: string | undefined): Move {
    const targets: Array<{ procs: string; fd: number }> = [];
    if (leaf) {
      const made = `${dir.open}/${leaf}`;
      try {
        mkdirSync(made, { mode: 0o755 });
        const owner = namespaceRootOwner(ctx.target.pid, this.options.procRoot);
        if (owner) for (const entry of ['.', ...readdirSync(made)]) chownSync(`${made}/${entry}`, owner.uid, owner.gid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ctx.error(`mkdir(${dir.shown}/${leaf})`, err);
      }
      targets.push(this.openProcs(ctx, `${made}/cgroup.procs`, `${dir.shown}/${leaf}/cgroup.procs`));
    }
    targets.push(this.openProcs(ctx, `${dir.open}/cgroup.procs`, `${dir.shown}/cgroup.procs`));
    return { targets };
  }

  private openProcs(ctx: StageContext, path: string, procs: string): { procs: string; fd: number } {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY);
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
