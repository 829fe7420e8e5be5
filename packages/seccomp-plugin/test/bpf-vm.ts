import type { Insn } from '../src/index.js';

/** What the kernel hands a seccomp filter (struct seccomp_data). */
export interface SeccompData {
  readonly nr: number;
  readonly arch: number;
  readonly args?: readonly bigint[];
}

const SECCOMP_DATA_SIZE = 64;

/**
 * A classic BPF interpreter for the instructions seccomp filters use, with
 * the checks of the kernel's loader (sk_chk_filter, seccomp_check_filter):
 * aligned loads inside seccomp_data, jumps inside the program, a ret at the
 * end of every path. Returns the filter's 32-bit verdict.
 */
export function runFilter(program: readonly Insn[], data: SeccompData): number {
  const word = (offset: number): number => {
    if (offset % 4 !== 0 || offset < 0 || offset >= SECCOMP_DATA_SIZE) throw new Error(`bad load offset ${offset}`);
    if (offset === 0) return data.nr >>> 0;
    if (offset === 4) return data.arch >>> 0;
    if (offset < 16) return 0; // instruction_pointer
    const arg = data.args?.[(offset - 16) >> 3] ?? 0n;
    return Number(offset % 8 === 0 ? arg & 0xffffffffn : (arg >> 32n) & 0xffffffffn);
  };
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= program.length; steps++) {
    const insn = program[pc];
    if (!insn) throw new Error(`fell off the program at ${pc}`);
    const branch = (taken: boolean) => { pc += 1 + (taken ? insn.jt : insn.jf); };
    switch (insn.code) {
      case 0x20: a = word(insn.k); pc++; break;
      case 0x54: a = (a & insn.k) >>> 0; pc++; break;
      case 0x05: pc += 1 + insn.k; break;
      case 0x15: branch(a === insn.k); break;
      case 0x25: branch(a > insn.k); break;
      case 0x35: branch(a >= insn.k); break;
      case 0x45: branch((a & insn.k) !== 0); break;
      case 0x06: return insn.k >>> 0;
      default: throw new Error(`unknown instruction 0x${insn.code.toString(16)} at ${pc}`);
    }
    if (insn.code !== 0x05 && (insn.jt > 255 || insn.jf > 255)) throw new Error(`jump offset out of range at ${pc}`);
  }
  throw new Error('no ret reached');
}
