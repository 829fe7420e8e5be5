import type { SeccompArch } from './arch.js';
import { Assembler, BPF_MAXINSNS, encodeFilter, type Insn, type Label } from './bpf.js';
import { ProfileError, type ArgCompare, type SeccompAction, type SeccompProfile, type SeccompRule } from './profile.js';

/** seccomp filter return values (linux/seccomp.h). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]. */
export const SECCOMP_DATA = { NR: 0, ARCH: 4, ARGS: 16 } as const;

/**
 * A process calling through an ABI the filter was not compiled for (i386 or
 * x32 on x86_64, arm32 on aarch64) is killed, as libseccomp does by default
 * (SCMP_FLTATR_ACT_BADARCH): otherwise every rule could be bypassed through
 * the other ABI's syscall numbers. The whole process, not just the thread:
 * none of it runs under the profile as written.
 */
export const BAD_ARCH_ACTION = SECCOMP_RET.KILL_PROCESS;

/** A rule's or the profile's decision as a seccomp return value. */
export function actionValue(action: SeccompAction): number {
  switch (action.kind) {
    case 'allow': return SECCOMP_RET.ALLOW;
    // LXC's `kill` is libseccomp's SCMP_ACT_KILL, which is SCMP_ACT_KILL_THREAD.
    case 'kill': return SECCOMP_RET.KILL_THREAD;
    case 'trap': return SECCOMP_RET.TRAP;
    case 'log': return SECCOMP_RET.LOG;
    case 'errno': return (SECCOMP_RET.ERRNO | (action.errno & 0xffff)) >>> 0;
  }
}

export interface CompiledFilter {
  readonly program: readonly Insn[];
  /** struct sock_filter[], as seccomp(SECCOMP_SET_MODE_FILTER) takes it through a sock_fprog. */
  readonly bytes: Buffer;
}

/**
 * Compile a profile into a classic BPF seccomp filter for one architecture,
 * the program libseccomp would generate in shape:
 *
 *   A = arch; if A != native → kill process
 *   A = nr;   (x86_64) if A >= X32 bit and A != -1 → kill process
 *   binary search on nr over the syscalls that have rules → their rules
 *   no rule → the profile's default action
 *
 * The rules of one syscall are tried with the fewest comparisons first, then
 * in file order: libseccomp lets a rule with fewer conditions supersede one
 * with more (db.c, _db_tree_add), so an unconditional rule always decides.
 */
export function compileProfile(profile: SeccompProfile, arch: SeccompArch): CompiledFilter {
  const asm = new Assembler();
  const badArch = asm.label();
  const defaultRet = actionValue(profile.defaultAction);

  asm.load(SECCOMP_DATA.ARCH);
  asm.jump('jeq', arch.auditArch, undefined, badArch);
  asm.load(SECCOMP_DATA.NR);
  if (arch.x32Bit !== undefined) {
    // x32 syscalls share AUDIT_ARCH_X86_64 and carry the X32 bit in nr; -1 is
    // how a tracer skips a syscall and must reach the rules (seccomp(2)).
    const dispatch = asm.label();
    asm.jump('jge', arch.x32Bit, undefined, dispatch);
    asm.jump('jeq', 0xffffffff, dispatch, badArch);
    asm.place(dispatch);
  }

  const bySyscall = new Map<number, SeccompRule[]>();
  for (const rule of profile.rules) {
    const rules = bySyscall.get(rule.nr);
    if (rules) rules.push(rule);
    else bySyscall.set(rule.nr, [rule]);
  }
  const nrs = [...bySyscall.keys()].sort((a, b) => a - b);
  search(asm, nrs, (nr) => rulesOf(asm, bySyscall.get(nr)!, defaultRet), defaultRet);

  asm.place(badArch);
  asm.ret(BAD_ARCH_ACTION);

  const program = asm.assemble();
  if (program.length > BPF_MAXINSNS) {
    throw new ProfileError(profile.file, undefined,
      `compiles to ${program.length} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS} (BPF_MAXINSNS)`);
  }
  return { program, bytes: encodeFilter(program) };
}

/** Binary search on A (= nr) down to leaves of a few `jeq`s, each followed by its syscalls' code. */
function search(asm: Assembler, nrs: readonly number[], emit: (nr: number) => void, defaultRet: number): void {
  const LEAF = 4;
  if (nrs.length > LEAF) {
    const mid = nrs.length >> 1;
    const upper = asm.label();
    asm.jump('jge', nrs[mid]!, upper, undefined);
    search(asm, nrs.slice(0, mid), emit, defaultRet);
    asm.place(upper);
    search(asm, nrs.slice(mid), emit, defaultRet);
    return;
  }
  const blocks = nrs.map(() => asm.label());
  nrs.forEach((nr, i) => asm.jump('jeq', nr, blocks[i], undefined));
  asm.ret(defaultRet);
  nrs.forEach((nr, i) => {
    asm.place(blocks[i]!);
    emit(nr);
  });
}

/** One syscall's rules; every path ends in a ret. */
function rulesOf(asm: Assembler, rules: readonly SeccompRule[], defaultRet: number): void {
  const ordered = [...rules].sort((a, b) => a.args.length - b.args.length);
  for (const rule of ordered) {
    if (rule.args.length === 0) {
      asm.ret(actionValue(rule.action));
      return; // an unconditional rule decides: the rest cannot be reached
    }
    const next = asm.label();
    for (const cmp of rule.args) compare(asm, cmp, next);
    asm.ret(actionValue(rule.action));
    asm.place(next);
  }
  asm.ret(defaultRet);
}

/**
 * Fall through when `args[index] op value` holds on the whole 64-bit
 * argument, else go to `fail`. Words are little-endian: low at +0, high at +4.
 */
function compare(asm: Assembler, { index, op, value, mask }: ArgCompare, fail: Label): void {
  const lo = SECCOMP_DATA.ARGS + 8 * index;
  const hi = lo + 4;
  const [vlo, vhi] = words(value);
  const pass = asm.label();
  switch (op) {
    case 'eq':
      asm.load(hi); asm.jump('jeq', vhi, undefined, fail);
      asm.load(lo); asm.jump('jeq', vlo, undefined, fail);
      break;
    case 'ne':
      asm.load(hi); asm.jump('jeq', vhi, undefined, pass);
      asm.load(lo); asm.jump('jeq', vlo, fail, undefined);
      break;
    case 'masked-eq': {
      const [mlo, mhi] = words(mask);
      asm.load(hi); asm.and(mhi); asm.jump('jeq', vhi, undefined, fail);
      asm.load(lo); asm.and(mlo); asm.jump('jeq', vlo, undefined, fail);
      break;
    }
    case 'gt':
    case 'ge':
      // high word above → true; equal → decided by the low word; below → false
      asm.load(hi); asm.jump('jgt', vhi, pass, undefined); asm.jump('jeq', vhi, undefined, fail);
      asm.load(lo); asm.jump(op === 'gt' ? 'jgt' : 'jge', vlo, undefined, fail);
      break;
    case 'lt':
    case 'le':
      // high word below → true; equal → decided by the low word; above → false
      asm.load(hi); asm.jump('jge', vhi, undefined, pass); asm.jump('jeq', vhi, undefined, fail);
      asm.load(lo); asm.jump(op === 'lt' ? 'jge' : 'jgt', vlo, fail, undefined);
      break;
  }
  asm.place(pass);
}

function words(v: bigint): [number, number] {
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}
