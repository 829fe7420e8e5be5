/**
 * Syscall numbers for the architectures attachkit runs on. The executor makes
 * raw syscalls by number, so the table is the one place that knows them.
 * Sources: arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h.
 */
const x64 = {
  read: 0, write: 1, close: 3, ioctl: 16, getpid: 39, kill: 62, fcntl: 72, chdir: 80, fchdir: 81,
  umask: 95, setuid: 105, setgid: 106, setsid: 112, setgroups: 116, setresuid: 117, setresgid: 119,
  capget: 125, capset: 126, personality: 135, prctl: 157, mount: 165, umount2: 166, sethostname: 170,
  unshare: 272, dup3: 292, setns: 308, seccomp: 317, open_tree: 428, move_mount: 429, fsopen: 430,
  fsconfig: 431, fsmount: 432, pidfd_send_signal: 424, pidfd_open: 434, clone3: 435, close_range: 436,
  openat2: 437, pidfd_getfd: 438, openat: 257, keyctl: 250, mount_setattr: 442, fchmod: 91, fchown: 93,
  mmap: 9, madvise: 28, prlimit64: 302,
} as const;

const generic = {
  read: 63, write: 64, close: 57, ioctl: 29, getpid: 172, kill: 129, fcntl: 25, chdir: 49, fchdir: 50,
  umask: 166, setuid: 146, setgid: 144, setsid: 157, setgroups: 159, setresuid: 147, setresgid: 149,
  capget: 90, capset: 91, personality: 92, prctl: 167, mount: 40, umount2: 39, sethostname: 161,
  unshare: 97, dup3: 24, setns: 268, seccomp: 277, open_tree: 428, move_mount: 429, fsopen: 430,
  fsconfig: 431, fsmount: 432, pidfd_send_signal: 424, pidfd_open: 434, clone3: 435, close_range: 436,
  openat2: 437, pidfd_getfd: 438, openat: 56, keyctl: 219, mount_setattr: 442, fchmod: 52, fchown: 55,
  mmap: 222, madvise: 233, prlimit64: 261,
} as const satisfies Record<keyof typeof x64, number>;

export type SyscallName = keyof typeof x64;

const tables: Partial<Record<NodeJS.Architecture, Record<SyscallName, number>>> = {
  x64,
  arm64: generic,
  riscv64: generic,
};

/** Whether `name` is a syscall the table knows (its own names only: not 'constructor'). */
export function isSyscallName(name: string): name is SyscallName {
  return Object.hasOwn(x64, name);
}

/** The number of a syscall on the running architecture. */
export function syscallNumber(name: SyscallName, arch: NodeJS.Architecture = process.arch): number {
  const table = tables[arch];
  if (!table) throw new Error(`attachkit does not know the syscall numbers of ${arch}`);
  return table[name];
}
