import { CLONE_NEWNS, cstring, imm, MNT_DETACH, MS_REC, MS_SLAVE, type AttachRequest, type Stage, type StageContext, type StageToggle } from '@attachkit/core';
import { JOINED_NAMESPACES } from './join-namespaces.js';

/**
 * Remount (-R): when the mount namespace is not joined, the attached process
 * gets a mount namespace of its own in which /proc and /sys are mounted
 * afresh, so they show the joined pid and network namespaces (lxc-attach's
 * lxc_attach_remount_sys_proc). Done in the attached process, after the
 * fork, or /proc would not reflect the new pid namespace. Ignored when the
 * mount namespace is joined, as lxc-attach documents.
 *
 * Needs: join-namespaces. Guarantees: ops in the `remount` phase.
 */
export class RemountSysProc implements Stage {
  readonly id = 'remount';
  readonly description = 'a private mount namespace with /proc and /sys for the joined namespaces (-R)';
  readonly after = ['resolve-target', 'join-namespaces'];
  readonly before = ['exec'];

  toggle(request: AttachRequest): StageToggle {
    return request.remountSysProc
      ? { enabled: true, reason: '-R (it does nothing when the mount namespace is joined)' }
      : { enabled: false, reason: 'no -R' };
  }

  plan(ctx: StageContext): void {
    if (ctx.get(JOINED_NAMESPACES)?.includes('mnt')) return;
    const p = ctx.program;
    const sys = (name: 'unshare' | 'mount' | 'umount2', args: Parameters<typeof p.syscall>[2], operation: string, optional = false) =>
      p.syscall('remount', name, args, { operation, optional });
    sys('unshare', [imm(CLONE_NEWNS)], 'unshare(CLONE_NEWNS)');
    // Our mounts must not propagate back into the namespace we came from.
    sys('mount', [imm(0), cstring('/'), imm(0), imm(MS_REC | MS_SLAVE), imm(0)], 'mount(/, MS_REC|MS_SLAVE)');
    sys('umount2', [cstring('/proc'), imm(MNT_DETACH)], 'umount2(/proc, MNT_DETACH)');
    sys('mount', [cstring('proc'), cstring('/proc'), cstring('proc'), imm(0), imm(0)], 'mount(proc, /proc)');
    // /sys may not be a mount point at all (EINVAL): then sysfs is simply mounted there.
    sys('umount2', [cstring('/sys'), imm(MNT_DETACH)], 'umount2(/sys, MNT_DETACH)', true);
    sys('mount', [cstring('sysfs'), cstring('/sys'), cstring('sysfs'), imm(0), imm(0)], 'mount(sysfs, /sys)');
  }
}
