import { SYSCALL_NUMBERS } from './syscall-table.js';

/**
 * What the profile reader and the BPF compiler need to know about the
 * architecture the filter runs on.
 */
export interface SeccompArch {
  readonly name: 'x86_64' | 'aarch64';
  /** seccomp_data.arch of a native syscall (AUDIT_ARCH_*, linux/audit.h). */
  readonly auditArch: number;
  readonly syscalls: Readonly<Record<string, number>>;
  /**
   * Profile sections whose rules LXC applies on this host (seccomp.c,
   * parse_config_v2). On x86_64, [x86] and [x32] rules land in the native
   * filter as well: LXC adds every rule of a relevant section through the
   * native context first, whatever the section.
   */
  readonly sections: ReadonlySet<string>;
  /** x86_64: a syscall number with this bit set is the x32 ABI (__X32_SYSCALL_BIT). */
  readonly x32Bit?: number;
}

// __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE | EM_*
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;

/** Every section LXC 5 knows; any other `[name]` is an error there too. */
export const PROFILE_SECTIONS: readonly string[] = [
  'all', 'x86', 'x32', 'x86_64', 'arm', 'arm64', 'ppc64le', 'ppc64', 'ppc',
  'mips64', 'mips64n32', 'mips', 'mipsel64', 'mipsel64n32', 'mipsel', 's390x', 's390',
];

export const X86_64: SeccompArch = {
  name: 'x86_64',
  auditArch: AUDIT_ARCH_X86_64,
  syscalls: SYSCALL_NUMBERS.x86_64,
  sections: new Set(['all', 'x86', 'x32', 'x86_64']),
  x32Bit: 0x40000000,
};

export const AARCH64: SeccompArch = {
  name: 'aarch64',
  auditArch: AUDIT_ARCH_AARCH64,
  syscalls: SYSCALL_NUMBERS.aarch64,
  sections: new Set(['all', 'arm', 'arm64']),
};

/** The architecture of this process (Node's process.arch), or undefined where no table exists. */
export function nativeArch(arch: string = process.arch): SeccompArch | undefined {
  return arch === 'x64' ? X86_64 : arch === 'arm64' ? AARCH64 : undefined;
}
