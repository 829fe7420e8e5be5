import { readFileSync, readlinkSync } from 'node:fs';
import {
  AttachError, CONTAINER_MODEL, contextKey, ErrorCodes, imm, inject, injectable, PR_CAPBSET_DROP,
  type AttachRequest, type Stage, type StageContext, type StageToggle,
} from '@attachkit/core';
import { bit, capabilityLabel, fullSet, statusCapSet } from './capabilities.js';
import { lastCapability, modelCapabilities } from './model-caps.js';
import { AFTER_ISOLATION, CAPS_OPTIONS, type CapsOptions } from './options.js';

/**
 * Drop caps: the command's capability bounding set becomes the target's, as
 * lxc-attach makes it (attach.c, drop_capabilities): the target's `CapBnd`
 * is read from /proc/<pid>/status in the parent, before anything joins, and
 * checked against the pidfd afterwards. When the container model has a
 * bounding set (LXC: lxc.cap.drop / keep, read by its plugin), it narrows
 * the set further (it already shaped the init's set at start; a
 * configuration tightened since is honoured too, never loosened). When the
 * model has all five capability sets (an OCI process spec), their bounding
 * set is the command's, as `runc exec` sets it (init_linux.go,
 * finalizeNamespace: the spec's bounding set exactly), intersected with the
 * init's: a runtime started the init with that very set, so this changes
 * nothing but for a spec edited since (runc re-reads config.json at every
 * exec), where the command never gets more than the init has. (set-caps
 * gives the other four sets.) Every other capability is dropped with
 * prctl(PR_CAPBSET_DROP), which needs CAP_SETPCAP: hence the 'capabilities'
 * phase, before the LSM label and the id switch.
 *
 * Needs: the target. Guarantees: after the 'capabilities' phase the bounding
 * set holds no capability the target's lacks, so the command's permitted set
 * after exec cannot either.
 */
@injectable()
export class DropCapabilities implements Stage {
  readonly id = 'drop-caps';
  readonly description = "drop the capability bounding set to the target's (and the container's)";
  readonly after = AFTER_ISOLATION;
  readonly before = ['exec'];

  constructor(@inject(CAPS_OPTIONS) private readonly options: CapsOptions) {}

  toggle(request: AttachRequest): StageToggle {
    // An explicit `elevated` alone decides (lxc-attach: the last of -s and -e wins); without it, -s keeps every privilege.
    if (request.elevated === undefined && request.namespaces) return { enabled: false, reason: '-s implies -e, as with lxc-attach' };
    if (request.elevated?.includes('CAP')) return { enabled: false, reason: "-e CAP: the command keeps the caller's bounding set" };
    return { enabled: true, reason: "the target's bounding set" };
  }

  plan(ctx: StageContext): void {
    const { procRoot } = this.options;
    const status = ctx.readTarget(() => readFileSync(`${procRoot}/${ctx.target.pid}/status`, 'utf8'));
    const lastCap = lastCapability(ctx, procRoot);
    let keep = statusCapSet(status, 'CapBnd');
    const sets = modelCapabilities(ctx, lastCap);
    if (sets) keep &= sets.bounding;
    const model = ctx.get(CONTAINER_MODEL);
    if (model?.boundingSet) {
      try {
        keep &= model.boundingSet(lastCap) ?? keep;
      } catch (err) {
        throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${(err as Error).message}`, { stage: this.id, cause: err });
      }
    }
    // The bounding set the attached process has when its drops run: a
    // setns into another user namespace resets it to the full set (and gives
    // every capability there, CAP_SETPCAP included); otherwise it is the
    // caller's own, which no process of the attach can regain.
    const userJoined = this.joinsUserNamespace(ctx);
    const own = readFileSync('/proc/self/status', 'utf8');
    const held = userJoined ? fullSet(lastCap) : statusCapSet(own, 'CapBnd');
    const needed = [];
    for (let cap = 0; cap <= lastCap; cap++) if (!(keep & bit(cap)) && (held & bit(cap))) needed.push(cap);
    if (needed.length > 0 && !userJoined && !(statusCapSet(own, 'CapEff') & bit(CAP_SETPCAP))) {
      throw new AttachError(ErrorCodes.STAGE_FAILED,
        `${this.id}: the target's bounding set lacks ${needed.map(capabilityLabel).join(', ')}, which this process holds; ` +
        `dropping ${needed.length > 1 ? 'them' : 'it'} needs CAP_SETPCAP (run as root, or attach to a process in a user namespace you own)`, { stage: this.id });
    }
    // Every capability the kernel knows, as lxc-attach does; a drop of one
    // the attached process does not hold is optional (a caller without
    // CAP_SETPCAP gets EPERM for it, and nothing is lost: it is gone).
    for (let cap = 0; cap <= lastCap; cap++) {
      if (keep & bit(cap)) continue;
      ctx.program.syscall('capabilities', 'prctl', [imm(PR_CAPBSET_DROP), imm(cap), imm(0), imm(0), imm(0)], {
        operation: `prctl(PR_CAPBSET_DROP, ${capabilityLabel(cap)})`, optional: !(held & bit(cap)),
      });
    }
  }

  /** Whether join-namespaces joins the target's user namespace (without ns-plugin: whether it differs from ours). */
  private joinsUserNamespace(ctx: StageContext): boolean {
    const joined = ctx.get(JOINED_NAMESPACES);
    if (joined) return joined.includes('user');
    try {
      return ctx.readTarget(() => readlinkSync(`${this.options.procRoot}/${ctx.target.pid}/ns/user`)) !== readlinkSync('/proc/self/ns/user');
    } catch {
      return false;
    }
  }
}

/** ns-plugin's JOINED_NAMESPACES, by its name (this plugin does not depend on ns-plugin). */
const JOINED_NAMESPACES = contextKey<readonly string[]>('joined-namespaces');
const CAP_SETPCAP = 8;
