import { closeSync, statSync } from 'node:fs';
import { AttachError, ErrorCodes, optional, type AttachRequest, type Stage, type StageContext, type StageToggle } from '@attachkit/core';
import { HOST_DIR, JOINED, VIEW_MOUNTS } from './exec-host.js';
import { openHostSource } from './host-source.js';
import { hostMounts } from './options.js';
import { emitView } from './private-view.js';
import { planView, ViewPlanError, type ViewMount } from './view-plan.js';

/**
 * --mount-host SRC:DST[:rw]: bind host paths for the command alone, in a
 * private copy of the mount namespace it joined. SRC is opened on the host
 * before anything is joined (a path through the container's rootfs is
 * resolved inside it: its symlinks cannot lead to the host) and cloned
 * read-only, nosuid, nodev unless `:rw`. A DST that does not exist is made
 * only in that view (private-view.ts): the container's filesystem is never
 * written, its processes never see the binds, and the view ends with the
 * command. Also makes the loader directory of --exec-host.
 *
 * Needs: the target; join-namespaces when present (the view copies the
 * joined mount namespace, or ours). Guarantees: ops in `harden` (the clones)
 * and `remount` (the view), before every other op of the attached process.
 */
export class MountHost implements Stage {
  readonly id = 'mount-host';
  readonly description = 'bind host paths read-only (--mount-host SRC:DST[:rw]) and the loader of --exec-host in a private copy of the mount namespace that only the command sees';
  readonly after = ['resolve-target', optional('join-namespaces'), optional('remount'), optional('exec-host')];
  readonly before = ['exec'];

  toggle(request: AttachRequest): StageToggle {
    if (request.mountHost?.length) return { enabled: true, reason: '--mount-host' };
    if (request.execHost) return { enabled: true, reason: "--exec-host (a dynamic program's loader and libraries)" };
    return { enabled: false, reason: 'no --mount-host' };
  }

  plan(ctx: StageContext): void {
    const requested = hostMounts(ctx.request, this.id);
    const internal = ctx.get(VIEW_MOUNTS) ?? [];
    if (!requested.length && !internal.length) return;
    // Cloning a host path (open_tree) takes CAP_SYS_ADMIN in the host's mount namespace.
    if (process.geteuid?.() !== 0) {
      const what = requested.length ? '--mount-host' : `--exec-host with a dynamically linked program (its loader's libraries are bound)`;
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${what} needs root on the host`, { stage: this.id });
    }
    const clash = requested.find((m) => m.target === HOST_DIR || m.target.startsWith(`${HOST_DIR}/`));
    if (clash && internal.length) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${clash.target} is where --exec-host puts the host's loader`, { stage: this.id });
    }
    const { pid } = ctx.target;
    const joined = ctx.get(JOINED);
    const root = joined && !joined.includes('mnt') ? 'self' as const : ctx.target;
    // The container's rootfs is the container's to change, whichever view the command gets.
    const rootStat = ctx.readTarget(() => statSync(`/proc/${pid}/root`));
    const fds: number[] = [];
    ctx.defer(() => fds.forEach((fd) => closeSync(fd)));
    const mounts: ViewMount[] = requested.map((m) => {
      let source;
      try {
        source = openHostSource(ctx.libc, m.source, { dev: rootStat.dev, ino: rootStat.ino });
      } catch (err) {
        throw ctx.error(`open of the host path ${m.source} (--mount-host)`, err);
      }
      fds.push(source.fd);
      return {
        target: m.target,
        source: { kind: 'tree', fd: source.fd, directory: source.directory, writable: m.writable ?? false, label: `the host's ${m.source}` },
      };
    });
    // Read through the target's root, then checked against its pidfd; a refusal is the request's fault, not a read error.
    const plan = ctx.readTarget(() => {
      try {
        return planView(ctx.libc, root, [...internal, ...mounts]);
      } catch (err) {
        if (err instanceof ViewPlanError) return err;
        throw err;
      }
    });
    if (plan instanceof ViewPlanError) throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${plan.message}`, { stage: this.id, cause: plan });
    emitView(ctx.program, plan);
  }
}
