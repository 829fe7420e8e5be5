import { constants, openSync } from 'node:fs';
import {
  AttachError, bytes, CONTAINER_MODEL, ErrorCodes, imm, inject, injectable, optional, resultOf,
  type AttachRequest, type Stage, type StageContext, type StageToggle,
} from '@attachkit/core';
import { activeLsm, apparmor, readLabel, selinux, type LsmKind } from './lsms.js';
import { LSM_OPTIONS, type LsmOptions } from './options.js';

/**
 * Apply LSM: the command gets the target's AppArmor profile or SELinux
 * context, as lxc-attach gives it (attach.c, lsm/*.c): `-c` names the label,
 * else the target's current label, else the container's configured one
 * (the container model's lsmLabel) when that names one.
 * AppArmor: `changeprofile <label>` to attr/[apparmor/]current; SELinux: the
 * context to attr/exec. Written in the 'lsm' phase: after groups, before
 * no_new_privs and the id switch, as lxc-attach does.
 *
 * The attr file is never looked up through the container's /proc
 * (CVE-2015-1334: a container can mount its own /proc and redirect the
 * write), and no fd of the host's procfs ever reaches the target (root
 * inside that may ptrace the attached process before its exec could take
 * it and walk the host from /proc/1/root). The kernel lets only the task
 * itself write its attr files, through a file opened on that task
 * (fs/proc/base.c, proc_pid_attr_write): so, as lxc-attach does, the parent
 * opens the attached process's own attr file on the host's procfs once that
 * process exists, and hands it over (receiveFd); the process writes its
 * label through it. The file leads nowhere but to that process's label.
 *
 * Steps aside (off, with the reason) on a host with neither AppArmor nor
 * SELinux, with -e LSM, and with -s (which implies -e) unless an explicit
 * `elevated` without LSM follows it (`-s UTSNAME -eCAP`).
 *
 * Needs: the target. Guarantees: the command runs under the label (AppArmor:
 * from the 'lsm' phase on; SELinux: from its exec).
 */
@injectable()
export class ApplyLsmLabel implements Stage {
  readonly id = 'apply-lsm';
  readonly description = "give the command the target's AppArmor profile or SELinux context (-c to choose)";
  readonly after = ['resolve-target', ...['open-pty', 'join-namespaces', 'enter-cgroup'].map(optional)];
  readonly before = ['exec'];

  constructor(@inject(LSM_OPTIONS) private readonly options: LsmOptions) {}

  toggle(request: AttachRequest): StageToggle {
    const context = request.selinuxContext;
    // An explicit `elevated` alone decides (lxc-attach: the last of -s and -e wins); without it, -s keeps every privilege.
    const elevated = request.elevated !== undefined ? (request.elevated.includes('LSM') ? '-e LSM' : undefined)
      : request.namespaces ? '-s (which implies -e)' : undefined;
    // -c with -e refuses in plan, as lxc-attach refuses it, rather than drop the label silently.
    if (elevated && context === undefined) return { enabled: false, reason: `${elevated}: the command keeps the caller's label` };
    const lsm = activeLsm(this.options);
    if (!lsm && context === undefined) return { enabled: false, reason: 'neither AppArmor nor SELinux is active on this host' };
    return { enabled: true, reason: context !== undefined ? `-c ${context}` : `${lsm === 'apparmor' ? 'AppArmor' : 'SELinux'}: the target's label` };
  }

  plan(ctx: StageContext): void {
    const { procRoot } = this.options;
    const { pid } = ctx.target;
    const context = ctx.request.selinuxContext;
    const { elevated, namespaces } = ctx.request;
    if (context !== undefined && (elevated !== undefined ? elevated.includes('LSM') : namespaces !== undefined)) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: -c/--context cannot be combined with -e LSM or -s, which keep the caller's label`, { stage: this.id });
    }
    const lsm = activeLsm(this.options);
    if (!lsm) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: -c/--context asks for the label '${context}', but neither AppArmor nor SELinux is active on this host`, { stage: this.id });
    }
    const kind = lsm === 'apparmor' ? apparmor(procRoot, pid) : selinux();
    const label = ctx.readTarget(() => context ?? readLabel(procRoot, pid, kind)) ?? ctx.get(CONTAINER_MODEL)?.lsmLabel?.(kind.name);
    if (label === undefined) return; // no label to give: lxc-attach warns and goes on
    this.emitWrite(ctx, kind, label);
  }

  private emitWrite(ctx: StageContext, kind: LsmKind, label: string): void {
    const { procRoot } = this.options;
    const payload = Buffer.from(kind.payload(label));
    const file = (pid: number | string) => `${procRoot}/${pid}/attr/${kind.target}`;
    const attr = ctx.program.receiveFd('lsm', `the attached process's ${file('<pid>')}`, ({ pid }) => {
      try {
        return openSync(file(pid), constants.O_WRONLY | constants.O_NOFOLLOW);
      } catch (err) {
        throw ctx.error(`open(${file(pid)}, O_WRONLY) for the ${kind.title} label`, err);
      }
    });
    ctx.program.syscall('lsm', 'write', [resultOf(attr), bytes(payload), imm(payload.length)], {
      operation: `write("${payload}") to ${file('<attached pid>')}`,
    });
    ctx.program.syscall('lsm', 'close', [resultOf(attr)], { operation: `close(${file('<attached pid>')})` });
  }
}
