import { readFileSync } from 'node:fs';
import {
  AttachError, bytes, CONTAINER_MODEL, ErrorCodes, imm, inject, injectable, optional,
  type AttachRequest, type Stage, type StageContext, type StageToggle,
} from '@attachkit/core';
import { nativeArch } from './arch.js';
import { BPF_MAXINSNS } from './bpf.js';
import { compileProfile, type CompiledFilter } from './compile.js';
import { compileOciSeccomp, type CompiledOciFilter } from './oci-compile.js';
import { OciSeccompError, parseOciSeccomp } from './oci-seccomp.js';
import { SECCOMP_OPTIONS, type SeccompOptions } from './options.js';
import { parseProfile, ProfileError } from './profile.js';

const SECCOMP_SET_MODE_FILTER = 1;
/** Where the profile comes from, for errors. */
interface ProfileSource {
  readonly path: string;
  readonly from: string;
}

/**
 * Load seccomp: compiles the container's seccomp filter (the container
 * model's: an LXC profile file, an OCI spec's linux.seccomp, or a runtime's
 * own compiled BPF as crun keeps it) into a BPF filter while planning — a
 * bad profile fails the attach before anything starts, naming the file and
 * line or field — and loads it in the attached process.
 *
 * Programs that do not attach to an LXC container name a profile with
 * `request.extensions.seccompProfile` (a path); it replaces the container's.
 *
 * Phase 'seccomp', as lxc-attach (attach.c, attach_child_main): after
 * no_new_privs and stdio, before the uid/gid switch. The filter is loaded
 * while still root in the container, so CAP_SYS_ADMIN allows it without
 * no_new_privs (seccomp(2)); after the switch that would fail. It also means
 * the switch itself, and the exec, already run under the filter, as in LXC.
 *
 * Needs: the container's config (resolve-target), when there is one.
 * Guarantees: the command starts under the filter (/proc/self/status shows
 * Seccomp: 2), or the attach fails.
 */
@injectable()
export class LoadSeccomp implements Stage {
  readonly id = 'load-seccomp';
  readonly description = "load the container's seccomp profile, compiled to BPF";
  // Planning order only: the effects land in their phase. Read it as the attached process sees it.
  readonly after = ['resolve-target', optional('drop-caps'), optional('no-new-privs')];
  readonly before = ['exec'];

  constructor(@inject(SECCOMP_OPTIONS) private readonly options: SeccompOptions) {}

  /** lxc-attach loads the profile only with LXC_ATTACH_LSM (attach.c, fetch_seccomp): -e LSM and -s (unless an -e without LSM follows it) turn it off. */
  toggle(request: AttachRequest): StageToggle {
    // An explicit `elevated` alone decides (lxc-attach: the last of -s and -e wins); without it, -s keeps every privilege.
    if (request.elevated === undefined && request.namespaces) return { enabled: false, reason: '-s implies -e, as with lxc-attach' };
    if (request.elevated?.includes('LSM')) return { enabled: false, reason: '-e LSM: lxc-attach loads no seccomp profile with elevated LSM privileges' };
    return { enabled: true, reason: "the container's seccomp profile, if it has one" };
  }

  plan(ctx: StageContext): void {
    const requested = ctx.request.extensions?.seccompProfile;
    if (requested !== undefined) {
      if (typeof requested !== 'string' || requested === '') {
        throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: extensions.seccompProfile must be the path of a profile`, { stage: this.id });
      }
      this.loadLxcProfile(ctx, { path: requested, from: 'extensions.seccompProfile' });
      return;
    }
    const seccomp = ctx.get(CONTAINER_MODEL)?.seccomp?.();
    if (!seccomp) return;
    if (seccomp.format === 'lxc-profile') {
      // LXC (seccomp.c, use_seccomp): a caller already under seccomp loads no
      // container profile unless the container allows nesting.
      if (!seccomp.allowNesting && this.confined()) return;
      this.loadLxcProfile(ctx, seccomp);
    } else if (seccomp.format === 'oci') {
      let filter: CompiledOciFilter;
      try {
        filter = compileOciSeccomp(parseOciSeccomp(seccomp.spec));
      } catch (err) {
        if (!(err instanceof OciSeccompError)) throw err;
        throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${seccomp.from}: ${err.message}`, { stage: this.id, cause: err });
      }
      this.load(ctx, filter.program, filter.flags, seccomp.from);
    } else {
      if (seccomp.program.length === 0 || seccomp.program.length % 8 !== 0 || seccomp.program.length / 8 > BPF_MAXINSNS) {
        throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${seccomp.from} is not a seccomp BPF program (${seccomp.program.length} bytes)`, { stage: this.id });
      }
      this.load(ctx, Buffer.from(seccomp.program), seccomp.flags, seccomp.from);
    }
  }

  /** An LXC profile file, compiled here: a bad profile fails the attach before anything starts, naming the file and line. */
  private loadLxcProfile(ctx: StageContext, source: ProfileSource): void {
    const arch = nativeArch();
    if (!arch) {
      throw new AttachError(ErrorCodes.STAGE_FAILED, `${this.id}: cannot compile the seccomp profile ${source.path}: no syscall table for ${process.arch}`, { stage: this.id });
    }
    let text: string;
    try {
      text = readFileSync(source.path, 'utf8');
    } catch (err) {
      throw ctx.error(`read of the seccomp profile ${source.path} (${source.from})`, err);
    }
    let filter: CompiledFilter;
    try {
      filter = compileProfile(parseProfile(text, { file: source.path, arch }), arch);
    } catch (err) {
      if (!(err instanceof ProfileError)) throw err;
      throw new AttachError(ErrorCodes.STAGE_FAILED, `${this.id}: seccomp profile ${err.message}`, { stage: this.id, cause: err });
    }
    this.load(ctx, filter.bytes, 0, source.path);
  }

  private confined(): boolean {
    const status = readFileSync(`${this.options.procRoot}/self/status`, 'utf8');
    return Number(/^Seccomp:\s*(\d+)/m.exec(status)?.[1] ?? 0) !== 0;
  }

  /** seccomp(2) with a sock_fprog { unsigned short len; struct sock_filter *filter; } pointing at the filter in the program's data. */
  private load(ctx: StageContext, program: Buffer, flags: number, from: string): void {
    const fprog = Buffer.alloc(16);
    fprog.writeUInt16LE(program.length / 8, 0);
    ctx.program.syscall('seccomp', 'seccomp', [imm(SECCOMP_SET_MODE_FILTER), imm(flags), bytes(fprog, [{ at: 8, to: program }])], {
      operation: `seccomp(SECCOMP_SET_MODE_FILTER${flags ? `, flags ${flags}` : ''}) with ${from} (${program.length / 8} BPF instructions)`,
    });
  }
}
