import {
  bytes, CONTAINER_MODEL, imm, inject, injectable, LINUX_CAPABILITY_VERSION_3, optional, PR_CAP_AMBIENT,
  type AttachRequest, type Stage, type StageContext, type StageToggle,
} from '@attachkit/core';
import { bit, capabilityLabel } from './capabilities.js';
import { lastCapability, modelCapabilities } from './model-caps.js';
import { AFTER_ISOLATION, CAPS_OPTIONS, type CapsOptions } from './options.js';

/** prctl(2) options (include/uapi/linux/prctl.h). */
const PR_SET_KEEPCAPS = 8;
const PR_CAP_AMBIENT_RAISE = 2;

const hex = (set: bigint) => `0x${set.toString(16)}`;

/**
 * Set caps: when the container model has all five capability sets (an OCI
 * process spec's `capabilities`), the command gets exactly its effective,
 * permitted, inheritable and ambient sets, as `runc exec` gives them
 * (runc 1.1.5 init_linux.go, finalizeNamespace; the bounding set is
 * drop-caps's): PR_SET_KEEPCAPS before the id switch, so that a non-root
 * uid keeps its permitted set through setresuid (runc sets it whatever the
 * uid); after the switch, in the 'post-ids' phase, PR_SET_KEEPCAPS off
 * again, capset(effective, permitted, inheritable), and PR_CAP_AMBIENT_RAISE
 * for each ambient capability. A raise that fails is ignored, as runc
 * ignores it: the kernel refuses a capability that is not both permitted
 * and inheritable, so the default spec's ambient set goes when its
 * inheritable set is empty. For a non-root command execve(2) then gives
 * permitted = effective = ambient; for root, permitted = bounding ∪
 * inheritable (capabilities(7)), as under runc.
 *
 * The inheritable set: clear-inheritable-caps empties it in the
 * 'capabilities' phase, before this stage's capset sets the spec's in
 * 'post-ids', so the command gets the spec's set, never the caller's: what
 * runc gives. The empty set stays the rule for every target whose model has
 * no capability sets (LXC, a --pid target), and for -e CAP and -s, where
 * this stage is off (lxc-attach's -e CAP keeps the caller's sets, and the
 * spec's are not applied either).
 *
 * Needs: the container model (CONTAINER_MODEL); the id switch (set-identity)
 * in the 'groups'/'ids' phases. Guarantees: from 'post-ids' on, the
 * process's effective, permitted and inheritable sets are the model's, and
 * its ambient set the model's as far as the kernel allows.
 */
@injectable()
export class SetCapabilities implements Stage {
  readonly id = 'set-caps';
  readonly description = "give the command the container's effective, permitted, inheritable and ambient capability sets";
  readonly after = [...AFTER_ISOLATION, optional('drop-caps'), optional('clear-inheritable-caps')];
  readonly before = ['exec'];

  constructor(@inject(CAPS_OPTIONS) private readonly options: CapsOptions) {}

  toggle(request: AttachRequest): StageToggle {
    // An explicit `elevated` alone decides (lxc-attach: the last of -s and -e wins); without it, -s keeps every privilege.
    if (request.elevated === undefined && request.namespaces) return { enabled: false, reason: '-s implies -e, as with lxc-attach' };
    if (request.elevated?.includes('CAP')) return { enabled: false, reason: "-e CAP: the container's capability sets are not applied" };
    return { enabled: true, reason: "the container's capability sets, when its runtime gives all five (an OCI spec)" };
  }

  plan(ctx: StageContext): void {
    if (!ctx.get(CONTAINER_MODEL)?.capabilities) return;
    const lastCap = lastCapability(ctx, this.options.procRoot);
    const sets = modelCapabilities(ctx, lastCap);
    if (!sets) return;
    const prctl = (phase: 'capabilities' | 'post-ids', args: readonly (number | bigint)[], operation: string, opt = false) =>
      ctx.program.syscall(phase, 'prctl', [...args, 0, 0, 0].slice(0, 5).map((a) => imm(a)), { operation, optional: opt });
    prctl('capabilities', [PR_SET_KEEPCAPS, 1], 'prctl(PR_SET_KEEPCAPS, 1): the permitted set survives the id switch');
    prctl('post-ids', [PR_SET_KEEPCAPS, 0], 'prctl(PR_SET_KEEPCAPS, 0)');
    // struct __user_cap_header_struct { u32 version; int pid } — pid 0: this thread.
    const header = Buffer.alloc(8);
    header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
    // struct __user_cap_data_struct[2]: {effective, permitted, inheritable} for caps 0-31, then 32-63.
    const data = Buffer.alloc(24);
    [sets.effective, sets.permitted, sets.inheritable].forEach((set, i) => {
      data.writeUInt32LE(Number(set & 0xffffffffn), 4 * i);
      data.writeUInt32LE(Number(set >> 32n), 12 + 4 * i);
    });
    ctx.program.syscall('post-ids', 'capset', [bytes(header), bytes(data)], {
      operation: `capset(self, effective ${hex(sets.effective)}, permitted ${hex(sets.permitted)}, inheritable ${hex(sets.inheritable)})`,
    });
    for (let cap = 0; cap <= lastCap; cap++) {
      if (!(sets.ambient & bit(cap))) continue;
      prctl('post-ids', [PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap], `prctl(PR_CAP_AMBIENT_RAISE, ${capabilityLabel(cap)})`, true);
    }
  }
}
