import { AttachError, ErrorCodes } from '../errors.js';

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
  mmap: 9, madvise: 28, prlimit64: 302, mkdirat: 258, fchownat: 260, symlinkat: 266, chroot: 161,
} as const;

const generic = {
  read: 63, write: 64, close: 57, ioctl: 29, getpid: 172, kill: 129, fcntl: 25, chdir: 49, fchdir: 50,
  umask: 166, setuid: 146, setgid: 144, setsid: 157, setgroups: 159, setresuid: 147, setresgid: 149,
  capget: 90, capset: 91, personality: 92, prctl: 167, mount: 40, umount2: 39, sethostname: 161,
  unshare: 97, dup3: 24, setns: 268, seccomp: 277, open_tree: 428, move_mount: 429, fsopen: 430,
  fsconfig: 431, fsmount: 432, pidfd_send_signal: 424, pidfd_open: 434, clone3: 435, close_range: 436,
  openat2: 437, pidfd_getfd: 438, openat: 56, keyctl: 219, mount_setattr: 442, fchmod: 52, fchown: 55,
  mmap: 222, madvise: 233, prlimit64: 261, mkdirat: 34, fchownat: 54, symlinkat: 36, chroot: 51,
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
  if (!table) throw new AttachError(ErrorCodes.SYSCALL_TABLE, `attachkit does not know the syscall numbers of ${arch}`);
  return table[name];
}

/**
 * A syscall the core's table lacks, as a third-party stage declares it
 * (Stage.syscalls): its number on x86_64 and aarch64 (and riscv64, where it
 * runs there), from the kernel's syscall_64.tbl and asm-generic/unistd.h.
 */
export interface SyscallNumbers {
  readonly x64: number;
  readonly arm64: number;
  readonly riscv64?: number;
}
/** Syscall name → its numbers: what a stage adds to the program's table. */
export type SyscallDefinitions = Readonly<Record<string, SyscallNumbers>>;

const NAME = /^[a-z][a-z0-9_]*$/;
const ARCHES = ['x64', 'arm64', 'riscv64'] as const;

/**
 * The syscall names one pipeline's program accepts: the core's table and what
 * its stages declare. Built once per pipeline; a declaration that disagrees
 * with the core or with another stage is refused then, naming both.
 */
export class SyscallTable {
  private readonly extra = new Map<string, { numbers: SyscallNumbers; owner: string }>();

  /** `declarations`: each stage's id and its Stage.syscalls. */
  constructor(declarations: Iterable<{ readonly owner: string; readonly syscalls?: SyscallDefinitions | undefined }> = []) {
    for (const { owner, syscalls } of declarations) {
      for (const [name, numbers] of Object.entries(syscalls ?? {})) this.declare(owner, name, numbers);
    }
  }

  /** The number of `name` on `arch`, or why there is none (the caller names its stage). */
  lookup(name: string, arch: NodeJS.Architecture = process.arch): number | { readonly refused: string } {
    if (isSyscallName(name)) return syscallNumber(name, arch);
    const extra = this.extra.get(name);
    if (!extra) return { refused: `unknown syscall '${name}' (neither the core's table nor a stage's syscalls has it)` };
    const nr = (extra.numbers as Partial<Record<NodeJS.Architecture, number>>)[arch];
    if (nr === undefined) return { refused: `syscall '${name}' (declared by stage '${extra.owner}') has no number for ${arch}` };
    return nr;
  }

  private declare(owner: string, name: string, numbers: SyscallNumbers): void {
    const refuse = (why: string) => new AttachError(ErrorCodes.SYSCALL_TABLE, `stage '${owner}' declares syscall '${name}': ${why}`, { stage: owner });
    if (!NAME.test(name)) throw refuse('not a syscall name (lower case letters, digits and _)');
    if (typeof numbers !== 'object' || numbers === null) throw refuse('expected its numbers as { x64, arm64 }');
    for (const arch of ARCHES) {
      const nr: unknown = numbers[arch];
      if (nr === undefined && arch === 'riscv64') continue;
      if (typeof nr !== 'number' || !Number.isInteger(nr) || nr < 0 || nr > 0xffff) {
        throw refuse(`its ${arch} number must be an integer from 0 to 65535, not ${String(nr)}`);
      }
      if (isSyscallName(name) && syscallNumber(name, arch) !== nr) {
        throw refuse(`the core's table has it as ${syscallNumber(name, arch)} on ${arch}, not ${nr}`);
      }
    }
    const known = this.extra.get(name);
    if (known) {
      const differs = ARCHES.find((arch) => known.numbers[arch] !== undefined && numbers[arch] !== undefined && known.numbers[arch] !== numbers[arch]);
      if (differs) throw refuse(`stage '${known.owner}' declares it as ${known.numbers[differs]} on ${differs}, not ${numbers[differs]}`);
      if (known.numbers.riscv64 === undefined && numbers.riscv64 !== undefined) this.extra.set(name, { numbers, owner });
      return;
    }
    if (!isSyscallName(name)) this.extra.set(name, { numbers: { ...numbers }, owner });
  }
}
