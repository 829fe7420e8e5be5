import { Assembler, BPF_MAXINSNS, encodeFilter, type Insn, type Label } from './bpf.js';
import { SECCOMP_DATA, SECCOMP_RET } from './compile.js';
import { BIG_ENDIAN_ARCHES, IPC_CALLS, OCI_ARCHES, OCI_HOSTS, SOCKETCALL_CALLS, X32_SYSCALL_BIT, type OciArch } from './oci-arch.js';
import {
  OCI_SECCOMP_FLAGS, OciSeccompError, parseOciSeccomp,
  type OciSeccomp, type OciSeccompAction, type OciSeccompArchitecture, type OciSeccompArg,
} from './oci-seccomp.js';

/**
 * The compiler of OCI `linux.seccomp` objects to classic BPF: the filter
 * runc would load through libseccomp, in behaviour (not byte for byte).
 *
 *   A = arch
 *   per architecture block (the native one first, then the listed ones):
 *     if A != its AUDIT_ARCH → next block
 *     A = nr
 *     x86_64 without x32 listed: nr >= __X32_SYSCALL_BIT and nr != -1 → bad arch
 *     binary search on nr → the syscall's rules, or the default action
 *   bad arch: SECCOMP_RET_KILL_THREAD
 *
 * What runc and libseccomp do, and this compiler with them:
 * - the native architecture is always in the filter; the listed ones are
 *   added. A listed architecture this host's kernel cannot run (ARM on
 *   x86_64, RISCV64 anywhere) could never match seccomp_data.arch: it gets
 *   no block. A big-endian one is refused, as libseccomp refuses to mix
 *   endiannesses in one filter.
 * - x32 shares AUDIT_ARCH_X86_64 and is told apart by __X32_SYSCALL_BIT in
 *   nr: with x32 listed its rules join the x86_64 block (an x32 syscall
 *   without a rule gets the default action); without it, x32 syscalls get
 *   the bad-arch action. nr -1 (a tracer skipping a syscall) reaches the
 *   rules.
 * - a task calling through an ABI the filter has no block for gets
 *   libseccomp's default bad-arch action, SCMP_ACT_KILL (the thread; runc
 *   does not change it): OCI_BAD_ARCH_ACTION.
 * - a syscall entry whose action equals the default action adds nothing
 *   (runc skips it: libseccomp refuses such a rule).
 * - a name is resolved per architecture; where it is unknown the rule is
 *   left out for that architecture, and a name unknown to all of them is
 *   skipped (returned in `skipped`), as runc skips it.
 * - several conditions on one argument index in an entry make every
 *   condition of that entry a rule of its own (OR), as runc does; otherwise
 *   the conditions of an entry are ANDed.
 * - SCMP_CMP_MASKED_EQ is `(arg & value) == (valueTwo & value)`
 *   (libseccomp masks the datum); a zero mask always holds.
 * - 64-bit ABIs compare the whole 64-bit argument, on its two 32-bit
 *   halves; 32-bit ABIs (i386, x32, ARM) compare the low half only, with
 *   value and mask cut to 32 bits, as libseccomp does (ARCH_SIZE_32).
 * - on i386, a rule for a socket or SysV IPC call also applies to
 *   socketcall(2) / ipc(2) with argument 0 equal to the call's number
 *   (its own argument 0 condition replaced, the others kept), as
 *   libseccomp's abi_rule_add does.
 * - several rules on one syscall: a rule with fewer conditions is tried
 *   first, then profile order; an unconditional rule decides (libseccomp
 *   lets the shorter rule supersede, db_rule_add).
 *
 * Not done: runc's -ENOSYS stub for syscalls newer than the profile
 * (patchbpf); the compat tables (i386, x32, ARM) are Linux 6.12's, so the
 * syscalls 463–469 of later kernels are unknown there.
 */

/** SECCOMP_RET_TRACE (linux/seccomp.h); the others are in SECCOMP_RET. */
export const SECCOMP_RET_TRACE = 0x7ff00000;

/** libseccomp's default SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL: the calling thread is killed. */
export const OCI_BAD_ARCH_ACTION = SECCOMP_RET.KILL_THREAD;

/** EPERM: runc's errno (and trace value) when errnoRet is absent. */
const EPERM = 1;

export interface OciCompileOptions {
  /** The host the filter is for (Node's process.arch names); x64 and arm64. Default: this process's. */
  readonly arch?: NodeJS.Architecture;
}

export interface CompiledOciFilter {
  /** struct sock_filter[] (little-endian), for seccomp(SECCOMP_SET_MODE_FILTER) through a sock_fprog. */
  readonly program: Buffer;
  /** SECCOMP_FILTER_FLAG_* of `flags`, ORed: seccomp(2)'s flags argument. */
  readonly flags: number;
  /** program.length / 8. */
  readonly instructions: number;
  readonly insns: readonly Insn[];
  /** The architectures the filter has rules for, in order (x32 within x86_64's block). */
  readonly architectures: readonly OciSeccompArchitecture[];
  /** Names no architecture of the filter knows, left out as runc leaves them out. */
  readonly skipped: readonly string[];
}

/** An action as the filter's return value. */
export function ociActionValue(action: OciSeccompAction, errnoRet?: number): number {
  switch (action) {
    case 'SCMP_ACT_KILL_PROCESS': return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_KILL_THREAD':
    case 'SCMP_ACT_KILL': return SECCOMP_RET.KILL_THREAD;
    case 'SCMP_ACT_TRAP': return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_ERRNO': return (SECCOMP_RET.ERRNO | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE': return (SECCOMP_RET_TRACE | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_ALLOW': return SECCOMP_RET.ALLOW;
    case 'SCMP_ACT_LOG': return SECCOMP_RET.LOG;
  }
}

type Op = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'masked-eq';
const OPS: Readonly<Record<OciSeccompArg['op'], Op>> = {
  SCMP_CMP_EQ: 'eq', SCMP_CMP_NE: 'ne', SCMP_CMP_LT: 'lt', SCMP_CMP_LE: 'le',
  SCMP_CMP_GT: 'gt', SCMP_CMP_GE: 'ge', SCMP_CMP_MASKED_EQ: 'masked-eq',
};

/** One comparison as the filter makes it: `(args[index] & mask) op datum`, mask all ones but for masked-eq. */
interface Cond {
  readonly index: number;
  readonly op: Op;
  readonly datum: bigint;
  readonly mask: bigint;
}

interface Rule {
  readonly nr: number;
  readonly ret: number;
  readonly bits: 32 | 64;
  readonly conds: readonly Cond[];
  readonly order: number;
}

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffffffffn;

/** Compile a `linux.seccomp` object (validated again here) into a seccomp BPF filter for the host. */
export function compileOciSeccomp(input: OciSeccomp, options: OciCompileOptions = {}): CompiledOciFilter {
  const spec = parseOciSeccomp(input);
  const hostArch = options.arch ?? process.arch;
  const host = OCI_HOSTS[hostArch];
  if (!host) throw new OciSeccompError('linux.seccomp', `no syscall table for this host's architecture (${hostArch}): only x64 and arm64`);

  // The native architecture, then the listed ones this kernel can run.
  const tokens: OciSeccompArchitecture[] = [host.native];
  spec.architectures.forEach((token, i) => {
    if (BIG_ENDIAN_ARCHES.has(token)) {
      throw new OciSeccompError(`linux.seccomp.architectures[${i}]`,
        `${token} is big-endian and cannot share a filter with the little-endian ${host.native} (libseccomp refuses it too)`);
    }
    if (host.reachable.includes(token) && !tokens.includes(token)) tokens.push(token);
  });
  const arches = tokens.map((t) => OCI_ARCHES[t]!);

  const defaultRet = ociActionValue(spec.defaultAction, spec.defaultErrnoRet);
  const rules = new Map<OciArch, Rule[]>(arches.map((a) => [a, []]));
  const skipped = new Set<string>();
  let order = 0;
  for (const entry of spec.syscalls) {
    const ret = ociActionValue(entry.action, entry.errnoRet);
    if (ret === defaultRet) continue; // runc: redundant with the default, libseccomp would refuse it
    const perIndex = new Map<number, number>();
    for (const a of entry.args) perIndex.set(a.index, (perIndex.get(a.index) ?? 0) + 1);
    const groups = [...perIndex.values()].some((n) => n > 1) ? entry.args.map((a) => [a]) : [entry.args];
    for (const name of entry.names) {
      let known = false;
      for (const arch of arches) {
        for (const args of groups) {
          for (const { nr, conds } of resolve(arch, name, args)) {
            known = true;
            const normalized = conds.map((c) => cond(c, arch.bits)).filter((c): c is Cond => c !== undefined);
            rules.get(arch)!.push({ nr, ret, bits: arch.bits, conds: normalized, order: order++ });
          }
        }
      }
      if (!known) skipped.add(name);
    }
  }

  const asm = new Assembler();
  const badArch = asm.label();
  asm.load(SECCOMP_DATA.ARCH);
  const blocks = new Map<number, OciArch[]>();
  for (const arch of arches) blocks.set(arch.auditArch, [...(blocks.get(arch.auditArch) ?? []), arch]);
  for (const [auditArch, members] of blocks) {
    const next = asm.label();
    asm.jump('jeq', auditArch, undefined, next);
    asm.load(SECCOMP_DATA.NR);
    const names = members.map((m) => m.token);
    if (names.includes('SCMP_ARCH_X86_64') && !names.includes('SCMP_ARCH_X32')) {
      // x32 shares AUDIT_ARCH_X86_64: without x32 in the filter its syscalls are a bad arch; -1 goes on to the rules.
      const dispatch = asm.label();
      asm.jump('jge', X32_SYSCALL_BIT, undefined, dispatch);
      asm.jump('jeq', 0xffffffff, dispatch, badArch);
      asm.place(dispatch);
    }
    const bySyscall = new Map<number, Rule[]>();
    for (const rule of members.flatMap((m) => rules.get(m)!)) bySyscall.set(rule.nr, [...(bySyscall.get(rule.nr) ?? []), rule]);
    const nrs = [...bySyscall.keys()].sort((a, b) => a - b);
    search(asm, nrs, (nr) => decision(bySyscall.get(nr)!), defaultRet);
    asm.place(next);
  }
  asm.place(badArch);
  asm.ret(OCI_BAD_ARCH_ACTION);

  const insns = asm.assemble();
  if (insns.length > BPF_MAXINSNS) {
    throw new OciSeccompError('linux.seccomp',
      `compiles to ${insns.length} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS} (BPF_MAXINSNS)`);
  }
  const flags = spec.flags.reduce((f, name) => f | OCI_SECCOMP_FLAGS[name], 0);
  return { program: encodeFilter(insns), flags, instructions: insns.length, insns, architectures: tokens, skipped: [...skipped] };
}

/** The syscall numbers a rule on `name` lands on in one architecture, with their conditions. */
function resolve(arch: OciArch, name: string, args: readonly OciSeccompArg[]): { nr: number; conds: readonly OciSeccompArg[] }[] {
  const out: { nr: number; conds: readonly OciSeccompArg[] }[] = [];
  if (Object.hasOwn(arch.syscalls, name)) out.push({ nr: (arch.syscalls[name]! | arch.nrBase) >>> 0, conds: args });
  if (arch.multiplexers) {
    // libseccomp (abi_rule_add): the multiplexed form, argument 0 being the call's number.
    const muxed = (nr: number, call: number) => out.push({
      nr, conds: [{ index: 0, op: 'SCMP_CMP_EQ', value: BigInt(call), valueTwo: 0n }, ...args.filter((a) => a.index !== 0)],
    });
    if (Object.hasOwn(SOCKETCALL_CALLS, name)) muxed(arch.multiplexers.socketcall, SOCKETCALL_CALLS[name]!);
    if (Object.hasOwn(IPC_CALLS, name)) muxed(arch.multiplexers.ipc, IPC_CALLS[name]!);
  }
  return out;
}

/** A condition as libseccomp compiles it for an ABI's word size; undefined when it always holds. */
function cond(arg: OciSeccompArg, bits: 32 | 64): Cond | undefined {
  const op = OPS[arg.op];
  const wordMask = bits === 32 ? U32_MAX : U64_MAX;
  const mask = (op === 'masked-eq' ? arg.value : U64_MAX) & wordMask;
  const datum = (op === 'masked-eq' ? arg.valueTwo : arg.value) & mask;
  if (op === 'masked-eq' && mask === 0n) return undefined;
  return { index: arg.index, op, datum, mask };
}

/** The code deciding one syscall; identical decisions share their code within a leaf. */
interface Decision {
  readonly key: string;
  emit(asm: Assembler, defaultRet: number): void;
}

function decision(rules: readonly Rule[]): Decision {
  const ordered = [...rules].sort((a, b) => a.conds.length - b.conds.length || a.order - b.order);
  const cut = ordered.findIndex((r) => r.conds.length === 0);
  const used = cut < 0 ? ordered : ordered.slice(0, cut + 1); // an unconditional rule decides: the rest cannot be reached
  const key = JSON.stringify(used.map((r) => [r.ret, r.bits, r.conds.map((c) => [c.index, c.op, String(c.datum), String(c.mask)])]));
  return {
    key,
    emit(asm, defaultRet) {
      for (const rule of used) {
        if (rule.conds.length === 0) {
          asm.ret(rule.ret);
          return;
        }
        const next = asm.label();
        for (const c of rule.conds) (rule.bits === 64 ? compare64 : compare32)(asm, c, next);
        asm.ret(rule.ret);
        asm.place(next);
      }
      asm.ret(defaultRet);
    },
  };
}

/** Binary search on A (= nr) down to leaves of a few `jeq`s, each leaf followed by its decisions. */
function search(asm: Assembler, nrs: readonly number[], decide: (nr: number) => Decision, defaultRet: number): void {
  const LEAF = 8;
  if (nrs.length > LEAF) {
    const mid = nrs.length >> 1;
    const upper = asm.label();
    asm.jump('jge', nrs[mid]!, upper, undefined);
    search(asm, nrs.slice(0, mid), decide, defaultRet);
    asm.place(upper);
    search(asm, nrs.slice(mid), decide, defaultRet);
    return;
  }
  const targets = new Map<string, { label: Label; decision: Decision }>();
  for (const nr of nrs) {
    const d = decide(nr);
    let target = targets.get(d.key);
    if (!target) targets.set(d.key, target = { label: asm.label(), decision: d });
    asm.jump('jeq', nr, target.label, undefined);
  }
  asm.ret(defaultRet);
  for (const { label, decision: d } of targets.values()) {
    asm.place(label);
    d.emit(asm, defaultRet);
  }
}

const lo = (index: number) => SECCOMP_DATA.ARGS + 8 * index;
const hi = (index: number) => SECCOMP_DATA.ARGS + 8 * index + 4;
const word = (v: bigint, high: boolean) => Number((high ? v >> 32n : v) & U32_MAX);

/** Fall through when the low word of the argument satisfies the condition, else go to `fail` (32-bit ABIs). */
function compare32(asm: Assembler, { index, op, datum, mask }: Cond, fail: Label): void {
  asm.load(lo(index));
  if (mask !== U32_MAX) asm.and(Number(mask));
  const k = Number(datum);
  switch (op) {
    case 'eq': case 'masked-eq': asm.jump('jeq', k, undefined, fail); break;
    case 'ne': asm.jump('jeq', k, fail, undefined); break;
    case 'gt': asm.jump('jgt', k, undefined, fail); break;
    case 'ge': asm.jump('jge', k, undefined, fail); break;
    case 'lt': asm.jump('jge', k, fail, undefined); break;
    case 'le': asm.jump('jgt', k, fail, undefined); break;
  }
}

/**
 * Fall through when the whole 64-bit argument satisfies the condition, else
 * go to `fail`. Little-endian words: the low one at +0, the high one at +4.
 */
function compare64(asm: Assembler, { index, op, datum, mask }: Cond, fail: Label): void {
  const [dlo, dhi] = [word(datum, false), word(datum, true)];
  const pass = asm.label();
  switch (op) {
    case 'eq':
      asm.load(hi(index)); asm.jump('jeq', dhi, undefined, fail);
      asm.load(lo(index)); asm.jump('jeq', dlo, undefined, fail);
      break;
    case 'ne':
      asm.load(hi(index)); asm.jump('jeq', dhi, undefined, pass);
      asm.load(lo(index)); asm.jump('jeq', dlo, fail, undefined);
      break;
    case 'masked-eq':
      // A half whose mask is 0 always matches (libseccomp emits nothing for it either).
      for (const high of [true, false]) {
        const m = word(mask, high);
        if (m === 0) continue;
        asm.load(high ? hi(index) : lo(index));
        if (m !== 0xffffffff) asm.and(m);
        asm.jump('jeq', word(datum, high), undefined, fail);
      }
      break;
    case 'gt':
    case 'ge':
      // high word above → true; equal → the low word decides; below → false
      asm.load(hi(index)); asm.jump('jgt', dhi, pass, undefined); asm.jump('jeq', dhi, undefined, fail);
      asm.load(lo(index)); asm.jump(op === 'gt' ? 'jgt' : 'jge', dlo, undefined, fail);
      break;
    case 'lt':
    case 'le':
      // high word below → true; equal → the low word decides; above → false
      asm.load(hi(index)); asm.jump('jge', dhi, undefined, pass); asm.jump('jeq', dhi, undefined, fail);
      asm.load(lo(index)); asm.jump(op === 'lt' ? 'jge' : 'jgt', dlo, fail, undefined);
      break;
  }
  asm.place(pass);
}
