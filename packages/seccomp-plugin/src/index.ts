import { definePlugin, registerPluginOptions, STAGE } from '@attachkit/core';
import { LoadSeccomp } from './load-seccomp.js';
import { defaultSeccompOptions, SECCOMP_OPTIONS, type SeccompOptions } from './options.js';

export { AARCH64, nativeArch, PROFILE_SECTIONS, X86_64, type SeccompArch } from './arch.js';
export { Assembler, BPF_MAXINSNS, encodeFilter, type Insn, type Label } from './bpf.js';
export { actionValue, BAD_ARCH_ACTION, compileProfile, SECCOMP_DATA, SECCOMP_RET, type CompiledFilter } from './compile.js';
export { LoadSeccomp } from './load-seccomp.js';
export {
  compileOciSeccomp, OCI_BAD_ARCH_ACTION, ociActionValue, SECCOMP_RET_TRACE,
  type CompiledOciFilter, type OciCompileOptions,
} from './oci-compile.js';
export { BIG_ENDIAN_ARCHES, IPC_CALLS, OCI_ARCHES, OCI_HOSTS, SOCKETCALL_CALLS, X32_SYSCALL_BIT, type OciArch, type OciHost } from './oci-arch.js';
export {
  OCI_SECCOMP_ACTIONS, OCI_SECCOMP_ARCHITECTURES, OCI_SECCOMP_FLAGS, OCI_SECCOMP_OPERATORS, OciSeccompError,
  parseOciSeccomp, parseOciSeccompJson,
  type OciSeccomp, type OciSeccompAction, type OciSeccompArchitecture, type OciSeccompArg, type OciSeccompFlag,
  type OciSeccompOperator, type OciSeccompSyscall,
} from './oci-seccomp.js';
export { COMPAT_SYSCALL_NUMBERS } from './syscall-table-compat.js';
export { defaultSeccompOptions, SECCOMP_OPTIONS, type SeccompOptions } from './options.js';
export {
  parseProfile, ProfileError,
  type ArgCompare, type CompareOp, type ReadProfileOptions, type SeccompAction, type SeccompProfile, type SeccompRule,
} from './profile.js';

/**
 * Seccomp: the container's LXC seccomp profile, compiled to BPF and loaded
 * before the command runs. Written only against @attachkit/core's public API:
 * the worked example of a third-party stage (docs/writing-a-stage.md).
 */
export function seccompPlugin(options: Partial<SeccompOptions> = {}) {
  return definePlugin({
    name: '@attachkit/seccomp-plugin',
    register(container) {
      registerPluginOptions(container, SECCOMP_OPTIONS, defaultSeccompOptions, options);
      container.register(STAGE, { useClass: LoadSeccomp });
    },
  });
}
