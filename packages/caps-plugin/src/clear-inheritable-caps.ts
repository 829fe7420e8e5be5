import { closeSync, openSync } from 'node:fs';
import {
  bytes, imm, LINUX_CAPABILITY_VERSION_3, optional, scratch, scratchAt,
  type Arg, type Stage, type StageContext, type StageToggle, type SyscallName,
} from '@attachkit/core';
import { AFTER_ISOLATION } from './options.js';

/**
 * Clear inheritable caps: the command starts with an empty inheritable set,
 * whatever the caller's (CVE-2022-29162). For a root command execve(2) gives
 * permitted = bounding ∪ inheritable (capabilities(7)), so an inheritable
 * capability would cross even a dropped bounding set; for any other user it
 * would meet file inheritable capabilities. (Ambient capabilities the core
 * clears, before any namespace is joined.)
 *
 * Always on, -e CAP included: lxc-attach's -e CAP only skips the bounding
 * drop (attach.c: LXC_ATTACH_DROP_CAPABILITIES guards drop_capabilities()
 * alone) and it never touches the inheritable set either way; keeping the
 * caller's inheritable set is no privilege a container should be handed.
 *
 * How, with generic ops: the effective and permitted sets are only known in
 * the child (setns into a user namespace resets them), so the child reads its
 * own with capget(2) into scratch memory, zeroes the two inheritable words by
 * reading /dev/zero over them (opened here, in the parent), and writes the
 * result back with capset(2). capset may always shrink the inheritable set.
 *
 * Needs: nothing. Guarantees: CapInh is 0 from the 'capabilities' phase on.
 */
export class ClearInheritableCapabilities implements Stage {
  readonly id = 'clear-inheritable-caps';
  readonly description = 'empty the inheritable capability set (CVE-2022-29162)';
  readonly after = [...AFTER_ISOLATION, optional('drop-caps')];
  readonly before = ['exec'];

  toggle(): StageToggle {
    return { enabled: true, reason: 'always, -e CAP included: no inheritable capability crosses' };
  }

  plan(ctx: StageContext): void {
    const zero = openSync('/dev/zero', 'r');
    ctx.defer(() => closeSync(zero));
    const zeroFd = ctx.program.passFd(zero);
    // struct __user_cap_header_struct { u32 version; int pid } — pid 0: this thread.
    const header = Buffer.alloc(8);
    header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
    // struct __user_cap_data_struct[2]: {effective, permitted, inheritable} for caps 0-31, then 32-63.
    const data = scratch(24);
    const emit = (name: SyscallName, args: readonly Arg[], operation: string) =>
      ctx.program.syscall('capabilities', name, args, { operation });
    emit('capget', [bytes(header), scratchAt(data)], 'capget(self)');
    emit('read', [imm(zeroFd), scratchAt(data, 8), imm(4)], 'read(/dev/zero) over inheritable[0]');
    emit('read', [imm(zeroFd), scratchAt(data, 20), imm(4)], 'read(/dev/zero) over inheritable[1]');
    emit('capset', [bytes(header), scratchAt(data)], 'capset(self, inheritable = 0)');
  }
}
