/**
 * Classic BPF, as seccomp runs it (linux/filter.h, linux/bpf_common.h,
 * Documentation/userspace-api/seccomp_filter.rst): a small assembler with
 * labels. Conditional jumps reach at most 255 instructions forward; a jump
 * that must go further goes through a `ja` trampoline placed right after it.
 */

export const BPF_LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
export const BPF_ALU_AND_K = 0x54; // BPF_ALU | BPF_AND | BPF_K
export const BPF_JA = 0x05; // BPF_JMP | BPF_JA
export const BPF_JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
export const BPF_JGT_K = 0x25;
export const BPF_JGE_K = 0x35;
export const BPF_RET_K = 0x06; // BPF_RET | BPF_K

/** The kernel's limit on a filter's length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
/** sizeof(struct sock_filter): u16 code, u8 jt, u8 jf, u32 k. */
export const SOCK_FILTER_SIZE = 8;

export interface Insn {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/** A position in the program, placed once. */
export interface Label {
  readonly id: number;
}

type Node =
  | { readonly kind: 'insn'; readonly code: number; readonly k: number }
  | { kind: 'jump'; readonly code: number; readonly k: number; jt: Label; jf: Label }
  | { readonly kind: 'ja'; readonly target: Label }
  | { readonly kind: 'label'; readonly label: Label };

export type JumpOp = 'jeq' | 'jgt' | 'jge';
const JUMP_CODES: Readonly<Record<JumpOp, number>> = { jeq: BPF_JEQ_K, jgt: BPF_JGT_K, jge: BPF_JGE_K };
const MAX_OFFSET = 255;
type Offset = (node: number, label: Label) => number;

export class Assembler {
  private readonly nodes: Node[] = [];
  private labels = 0;

  label(): Label {
    return { id: this.labels++ };
  }

  place(label: Label): void {
    this.nodes.push({ kind: 'label', label });
  }

  /** A = the 32-bit word at `offset` in seccomp_data. */
  load(offset: number): void {
    this.nodes.push({ kind: 'insn', code: BPF_LD_W_ABS, k: offset });
  }

  and(k: number): void {
    this.nodes.push({ kind: 'insn', code: BPF_ALU_AND_K, k });
  }

  ret(k: number): void {
    this.nodes.push({ kind: 'insn', code: BPF_RET_K, k });
  }

  /** if (A op k) goto jt else goto jf; `undefined` is the next instruction. */
  jump(op: JumpOp, k: number, jt: Label | undefined, jf: Label | undefined): void {
    const next = jt && jf ? undefined : this.label();
    this.nodes.push({ kind: 'jump', code: JUMP_CODES[op], k, jt: jt ?? next!, jf: jf ?? next! });
    if (next) this.place(next);
  }

  /** Resolve labels into offsets, adding trampolines for jumps out of reach. */
  assemble(): Insn[] {
    for (;;) {
      const offset = this.layout();
      const far = this.nodes.findIndex((n, i) => n.kind === 'jump' && (offset(i, n.jt) > MAX_OFFSET || offset(i, n.jf) > MAX_OFFSET));
      if (far < 0) return this.encode(offset);
      // Send the far target(s) to a `ja` right after the jump (before its
      // fall-through label); the next pass recomputes every offset.
      const jump = this.nodes[far] as Extract<Node, { kind: 'jump' }>;
      const trampolines: Node[] = [];
      for (const side of ['jt', 'jf'] as const) {
        if (offset(far, jump[side]) <= MAX_OFFSET) continue;
        const hop = this.label();
        trampolines.push({ kind: 'label', label: hop }, { kind: 'ja', target: jump[side] });
        jump[side] = hop;
      }
      this.nodes.splice(far + 1, 0, ...trampolines);
    }
  }

  /** The jump distance from node i to a label, in the current layout. */
  private layout(): Offset {
    const pc: number[] = [];
    const labelPc = new Map<number, number>();
    let next = 0;
    for (const node of this.nodes) {
      pc.push(next);
      if (node.kind === 'label') labelPc.set(node.label.id, next);
      else next++;
    }
    return (node, label) => {
      const target = labelPc.get(label.id);
      if (target === undefined) throw new Error(`bpf: label ${label.id} was never placed`);
      const off = target - pc[node]! - 1;
      // cBPF only jumps forward: a backward jump would be a compiler bug.
      if (off < 0) throw new Error(`bpf: backward jump to label ${label.id}`);
      return off;
    };
  }

  private encode(offset: Offset): Insn[] {
    const out: Insn[] = [];
    this.nodes.forEach((node, i) => {
      if (node.kind === 'insn') out.push({ code: node.code, jt: 0, jf: 0, k: node.k >>> 0 });
      else if (node.kind === 'jump') out.push({ code: node.code, jt: offset(i, node.jt), jf: offset(i, node.jf), k: node.k >>> 0 });
      else if (node.kind === 'ja') out.push({ code: BPF_JA, jt: 0, jf: 0, k: offset(i, node.target) });
    });
    return out;
  }
}

/** struct sock_filter[], little-endian (x86_64 and aarch64). */
export function encodeFilter(program: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(program.length * SOCK_FILTER_SIZE);
  program.forEach((insn, i) => {
    buf.writeUInt16LE(insn.code, i * 8);
    buf.writeUInt8(insn.jt, i * 8 + 2);
    buf.writeUInt8(insn.jf, i * 8 + 3);
    buf.writeUInt32LE(insn.k, i * 8 + 4);
  });
  return buf;
}
