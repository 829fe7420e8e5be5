import { AARCH64, COMPAT_SYSCALL_NUMBERS, X86_64, type OciSeccompArchitecture } from '../src/index.js';

/**
 * A profile shaped like Docker's default (moby profiles/seccomp/default.json):
 * default ERRNO (EPERM), ~400 names allowed, personality and clone allowed on
 * argument values only, clone3 ENOSYS, socket allowed but for AF_VSOCK.
 */
export function dockerLike() {
  const denied = new Set(`acct add_key bpf clock_adjtime clock_settime clone clone3 create_module delete_module finit_module
    get_kernel_syms get_mempolicy init_module ioperm iopl kcmp kexec_file_load kexec_load keyctl lookup_dcookie mbind mount
    move_pages name_to_handle_at nfsservctl open_by_handle_at perf_event_open personality pivot_root process_vm_readv
    process_vm_writev ptrace query_module quotactl reboot request_key set_mempolicy setns settimeofday stime swapon swapoff
    sysfs _sysctl umount umount2 unshare uselib userfaultfd ustat vm86 vm86old socket`.split(/\s+/));
  const names = [...new Set([...Object.keys(X86_64.syscalls), ...Object.keys(COMPAT_SYSCALL_NUMBERS.x86), ...Object.keys(AARCH64.syscalls)])]
    .filter((n) => !denied.has(n)).sort();
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: [] as OciSeccompArchitecture[],
    syscalls: [
      { names, action: 'SCMP_ACT_ALLOW' },
      ...[0, 8, 0x20000, 0x20008, 0xffffffff].map((value) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, valueTwo: 0, op: 'SCMP_CMP_EQ' }] })),
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, valueTwo: 0, op: 'SCMP_CMP_NE' }] },
    ],
  };
}
