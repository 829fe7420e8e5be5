import { AttachError, ErrorCodes } from '../errors.js';
import { PER_LINUX, PER_LINUX32 } from '../libc/constants.js';
import { imm } from '../program/args.js';
import type { StageContext } from '../pipeline/context.js';
import { CONTAINER_MODEL } from '../pipeline/model.js';
import type { AttachRequest } from '../pipeline/request.js';
import { optional, type Stage, type StageToggle } from '../pipeline/stage.js';

/**
 * The architecture names LXC accepts, for `-a` and `lxc.arch`, and the
 * personality each one means (lxc 5.0.2 src/lxc/confile.c,
 * lxc_config_parse_arch): names are matched exactly, as LXC does.
 */
export const ARCHITECTURES: Readonly<Record<string, number>> = {
  arm: PER_LINUX32, armel: PER_LINUX32, armhf: PER_LINUX32, armv7l: PER_LINUX32, athlon: PER_LINUX32,
  i386: PER_LINUX32, i486: PER_LINUX32, i586: PER_LINUX32, i686: PER_LINUX32, linux32: PER_LINUX32,
  mips: PER_LINUX32, mipsel: PER_LINUX32, ppc: PER_LINUX32, powerpc: PER_LINUX32, x86: PER_LINUX32,
  aarch64: PER_LINUX, amd64: PER_LINUX, arm64: PER_LINUX, linux64: PER_LINUX, mips64: PER_LINUX,
  mips64el: PER_LINUX, ppc64: PER_LINUX, ppc64el: PER_LINUX, ppc64le: PER_LINUX, powerpc64: PER_LINUX,
  riscv64: PER_LINUX, s390x: PER_LINUX, x86_64: PER_LINUX,
};

/** The personality for an LXC architecture name; throws naming the value and the accepted names. */
export function personalityOf(arch: string, source: string): number {
  const persona = Object.hasOwn(ARCHITECTURES, arch) ? ARCHITECTURES[arch] : undefined;
  if (persona === undefined) {
    throw new AttachError(ErrorCodes.BAD_REQUEST,
      `set-personality: unknown architecture '${arch}' in ${source} (accepted: ${Object.keys(ARCHITECTURES).join(', ')})`,
      { stage: 'set-personality' });
  }
  return persona;
}

/**
 * Set personality: the execution domain of the command, as lxc-attach sets it
 * — `-a ARCH`, else the container model's, else unchanged. `-a i686` on
 * x86_64 makes `uname -m` say i686 (personality(2), PER_LINUX32).
 *
 * Needs: the container model, when there is one (CONTAINER_MODEL).
 * Guarantees: a personality(2) op in the 'personality' phase when an
 * architecture is asked for; an unknown name fails planning, before anything runs.
 */
export class SetPersonality implements Stage {
  readonly id = 'set-personality';
  readonly description = "the personality (-a, else the container's) of the command";
  // Reading order: after the isolation stages of the other plugins, before the environment.
  readonly after = ['resolve-target', ...['open-pty', 'join-namespaces', 'enter-cgroup', 'apply-lsm', 'drop-caps', 'clear-inheritable-caps', 'no-new-privs'].map(optional)];
  readonly before = ['exec'];

  toggle(request: AttachRequest): StageToggle {
    return { enabled: true, reason: request.arch === undefined ? "the container's architecture, when it sets one" : `-a ${request.arch}` };
  }

  plan(ctx: StageContext): void {
    const configured = ctx.get(CONTAINER_MODEL)?.personality?.();
    const [arch, source] = ctx.request.arch !== undefined ? [ctx.request.arch, '-a/--arch']
      : configured ? [configured.arch, configured.from] : [undefined, ''];
    if (arch === undefined) return;
    const persona = personalityOf(arch, source);
    ctx.program.syscall('personality', 'personality', [imm(persona)], {
      operation: `personality(${persona === PER_LINUX32 ? 'PER_LINUX32' : 'PER_LINUX'}) for ${arch}`,
    });
  }
}
