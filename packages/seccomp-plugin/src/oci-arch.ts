import { COMPAT_SYSCALL_NUMBERS } from './syscall-table-compat.js';
import { SYSCALL_NUMBERS } from './syscall-table.js';
import type { OciSeccompArchitecture } from './oci-seccomp.js';

/**
 * An ABI a filter for an OCI profile can hold a block of rules for: the
 * architecture token (seccomp_data.arch), the syscall table, and how
 * libseccomp compiles rules for it (src/arch-*.c there).
 */
export interface OciArch {
  readonly token: OciSeccompArchitecture;
  /** seccomp_data.arch (AUDIT_ARCH_*, linux/audit.h). */
  readonly auditArch: number;
  readonly syscalls: Readonly<Record<string, number>>;
  /** Added to every number of the table: __X32_SYSCALL_BIT for x32. */
  readonly nrBase: number;
  /**
   * libseccomp's ARCH_SIZE: on a 32-bit ABI it compares only the low 32-bit
   * word of an argument, with the value and mask cut to 32 bits.
   */
  readonly bits: 32 | 64;
  /** i386: socket and SysV IPC calls also reach the kernel multiplexed through socketcall(2) / ipc(2). */
  readonly multiplexers?: { readonly socketcall: number; readonly ipc: number };
}

/** __X32_SYSCALL_BIT: an x32 syscall is an x86_64 one (AUDIT_ARCH_X86_64) with this bit in nr. */
export const X32_SYSCALL_BIT = 0x40000000;

export const OCI_ARCHES: Readonly<Partial<Record<OciSeccompArchitecture, OciArch>>> = {
  SCMP_ARCH_X86_64: { token: 'SCMP_ARCH_X86_64', auditArch: 0xc000003e, syscalls: SYSCALL_NUMBERS.x86_64, nrBase: 0, bits: 64 },
  SCMP_ARCH_X86: {
    token: 'SCMP_ARCH_X86', auditArch: 0x40000003, syscalls: COMPAT_SYSCALL_NUMBERS.x86, nrBase: 0, bits: 32,
    multiplexers: { socketcall: COMPAT_SYSCALL_NUMBERS.x86.socketcall!, ipc: COMPAT_SYSCALL_NUMBERS.x86.ipc! },
  },
  SCMP_ARCH_X32: { token: 'SCMP_ARCH_X32', auditArch: 0xc000003e, syscalls: COMPAT_SYSCALL_NUMBERS.x32, nrBase: X32_SYSCALL_BIT, bits: 32 },
  SCMP_ARCH_AARCH64: { token: 'SCMP_ARCH_AARCH64', auditArch: 0xc00000b7, syscalls: SYSCALL_NUMBERS.aarch64, nrBase: 0, bits: 64 },
  SCMP_ARCH_ARM: { token: 'SCMP_ARCH_ARM', auditArch: 0x40000028, syscalls: COMPAT_SYSCALL_NUMBERS.arm, nrBase: 0, bits: 32 },
};

/**
 * Per host: the native architecture, which every filter holds (runc starts
 * from libseccomp's native filter and adds the listed ones), and the other
 * ABIs its kernel can run, whose seccomp_data.arch a task may present.
 */
export interface OciHost {
  readonly native: OciSeccompArchitecture;
  readonly reachable: readonly OciSeccompArchitecture[];
}

export const OCI_HOSTS: Readonly<Partial<Record<NodeJS.Architecture, OciHost>>> = {
  x64: { native: 'SCMP_ARCH_X86_64', reachable: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
  arm64: { native: 'SCMP_ARCH_AARCH64', reachable: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'] },
};

/** libseccomp refuses to mix endiannesses in one filter (db_col_arch_add: -EDOM), so runc fails on these on a little-endian host. */
export const BIG_ENDIAN_ARCHES: ReadonlySet<OciSeccompArchitecture> = new Set([
  'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X',
]);

/** socketcall(2)'s call numbers (linux/net.h SYS_*), as libseccomp multiplexes them on i386. */
export const SOCKETCALL_CALLS: Readonly<Record<string, number>> = {
  socket: 1, bind: 2, connect: 3, listen: 4, accept: 5, getsockname: 6, getpeername: 7, socketpair: 8,
  send: 9, recv: 10, sendto: 11, recvfrom: 12, shutdown: 13, setsockopt: 14, getsockopt: 15, sendmsg: 16,
  recvmsg: 17, accept4: 18, recvmmsg: 19, sendmmsg: 20,
};

/** ipc(2)'s call numbers (linux/ipc.h), as libseccomp multiplexes them on i386. */
export const IPC_CALLS: Readonly<Record<string, number>> = {
  semop: 1, semget: 2, semctl: 3, semtimedop: 4, msgsnd: 11, msgrcv: 12, msgget: 13, msgctl: 14,
  shmat: 21, shmdt: 22, shmget: 23, shmctl: 24,
};
