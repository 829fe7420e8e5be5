import { openSync, closeSync } from 'node:fs';
import { release } from 'node:os';
import { AttachError, contextKey, ErrorCodes, imm, optional, type Stage, type StageContext } from '@attachkit/core';
import { cloneFlagNames, NAMESPACES, namespaceId, type NamespaceKind } from './namespaces.js';

/** The namespaces the attach joins, by /proc/<pid>/ns name (user, mnt, pid, ...), for the stages after it. */
export const JOINED_NAMESPACES = contextKey<readonly string[]>('joined-namespaces');

/** setns(2) accepts a pidfd and a set of flags since Linux 5.8. */
export function kernelHasPidfdSetns(kernelRelease = release()): boolean {
  const [major = 0, minor = 0] = kernelRelease.split('.').map((n) => Number.parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 8);
}

/**
 * Join namespaces: enter every namespace of the target that differs from the
 * caller's (or, with -s, the ones named), in the intermediate process, before
 * it forks the attached process into the joined pid namespace.
 *
 * Needs: the target (resolve-target). Guarantees: a setns op in the
 * 'namespaces' phase; everything it reads of /proc/<pid> is checked against
 * the pidfd afterwards, so it describes the process we hold.
 */
export class JoinNamespaces implements Stage {
  readonly id = 'join-namespaces';
  readonly description = 'setns into the namespaces of the target';
  readonly after = ['resolve-target', optional('open-pty')];
  readonly before = ['exec'];

  constructor(private readonly pidfdSetns = kernelHasPidfdSetns()) {}

  plan(ctx: StageContext): void {
    const { pid, pidfd, description } = ctx.target;
    // lxc-attach joins the namespaces the container created (its clone
    // flags) and those it shares or inherited when they differ from ours.
    // A namespace it created always differs from ours (and joining our own
    // user namespace would be EINVAL), so both rules come down to one:
    // join every namespace that differs from ours.
    const wanted = this.wanted(ctx);
    const join = ctx.readTarget(() => wanted.filter((kind) => {
      const theirs = namespaceId(pid, kind);
      return theirs !== undefined && theirs !== namespaceId('self', kind);
    }));
    ctx.set(JOINED_NAMESPACES, join.map((k) => k.proc));
    if (join.length === 0) return;
    if (this.pidfdSetns) {
      const fd = ctx.program.passFd(pidfd);
      const flags = join.reduce((acc, k) => acc | k.flag, 0);
      ctx.program.syscall('namespaces', 'setns', [imm(fd), imm(flags)], {
        operation: `setns(pidfd, ${cloneFlagNames(join)}) on ${description}`,
      });
      return;
    }
    this.joinByFds(ctx, join);
  }

  /** Older kernels: open every namespace fd before joining any (after the mount join the paths are gone). */
  private joinByFds(ctx: StageContext, join: readonly NamespaceKind[]): void {
    const { pid, description } = ctx.target;
    const fds = ctx.readTarget(() => join.map((kind) => {
      const fd = openSync(`/proc/${pid}/ns/${kind.proc}`, 'r');
      ctx.defer(() => closeSync(fd));
      return { kind, fd };
    }));
    for (const { kind, fd } of fds) {
      ctx.program.syscall('namespaces', 'setns', [imm(ctx.program.passFd(fd)), imm(kind.flag)], {
        operation: `setns(/proc/${pid}/ns/${kind.proc}, ${kind.clone}) on ${description}`,
      });
    }
  }

  /** The namespace kinds the request allows (-s), all by default. */
  private wanted(ctx: StageContext): readonly NamespaceKind[] {
    const names = ctx.request.namespaces;
    if (!names) return NAMESPACES;
    return names.map((name) => {
      const kind = NAMESPACES.find((k) => k.lxc === name.toUpperCase() || k.proc === name.toLowerCase());
      if (!kind) {
        throw new AttachError(ErrorCodes.BAD_REQUEST,
          `${this.id}: unknown namespace '${name}' (known: ${NAMESPACES.map((k) => k.lxc).join(', ')})`, { stage: this.id });
      }
      return kind;
    });
  }
}
