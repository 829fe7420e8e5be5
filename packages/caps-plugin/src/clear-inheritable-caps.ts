import { writeSync } from 'node:fs';
import {
  bytes, F_ADD_SEALS, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, imm, LINUX_CAPABILITY_VERSION_3, MFD_ALLOW_SEALING, MFD_CLOEXEC,
  optional, scratch, scratchAt,
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
 * A container whose model gives all five capability sets (an OCI process
 * spec, which may name an inheritable set) is no exception: this stage
 * still empties the set here, and set-caps gives the spec's inheritable set
 * later, in the 'post-ids' phase, after the id switch, as `runc exec` does.
 * The command so gets the spec's set, never the caller's, and a pipeline
 * without set-caps (or -e CAP, where it is off) still lets none cross.
 *
 * How, with generic ops: the effective and permitted sets are only known in
 * the child (setns into a user namespace resets them), so the child reads its
 * own with capget(2) into scratch memory, zeroes the two inheritable words by
 * reading eight zero bytes over them from a sealed memfd made here (not
 * /dev/zero: no fd of a host file reaches the target), and writes the result
 * back with capset(2). capset may always shrink the inheritable set.
 *
 * Needs: nothing. Guarantees: CapInh is 0 from the 'capabilities' phase on
 * (until set-caps sets a container's own inheritable set, in 'post-ids').
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
    const zero = ctx.libc.memfdCreate('attachkit-zeros', MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ctx.defer(() => ctx.libc.close(zero));
    writeSync(zero, new Uint8Array(8), 0, 8, 0); // pwrite: the offset stays at 0 for the reads
    ctx.libc.fcntl(zero, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    const zeroFd = ctx.program.passFd(zero, { attached: true });
    // struct __user_cap_header_struct { u32 version; int pid } — pid 0: this thread.
    const header = Buffer.alloc(8);
    header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
    // struct __user_cap_data_struct[2]: {effective, permitted, inheritable} for caps 0-31, then 32-63.
    const data = scratch(24);
    const emit = (name: SyscallName, args: readonly Arg[], operation: string) =>
      ctx.program.syscall('capabilities', name, args, { operation });
    emit('capget', [bytes(header), scratchAt(data)], 'capget(self)');
    emit('read', [imm(zeroFd), scratchAt(data, 8), imm(4)], 'read(zeros) over inheritable[0]');
    emit('read', [imm(zeroFd), scratchAt(data, 20), imm(4)], 'read(zeros) over inheritable[1]');
    emit('capset', [bytes(header), scratchAt(data)], 'capset(self, inheritable = 0)');
  }
}
