// The arguments of the pre-exec program's operations, and what an emitted op is (program.ts builds the program).
import { AttachError, ErrorCodes } from '../errors.js';
import type { Phase } from './phases.js';

/**
 * Writable memory in the program's data that several ops share: one op
 * writes into it (capget), a later one reads it back (capset). Unlike
 * bytes(), which gives every use its own copy, every use of a block points
 * at the same bytes. Make one with scratch(), point into it with scratchAt().
 */
export interface ScratchBlock {
  readonly size: number;
}

/** An argument of an operation: an immediate, bytes in the program's data, shared scratch memory, or an earlier op's result. */
export type Arg =
  | { readonly kind: 'imm'; readonly value: number | bigint }
  | { readonly kind: 'data'; readonly bytes: Uint8Array; readonly pointers?: readonly DataPointer[] }
  | { readonly kind: 'scratch'; readonly block: ScratchBlock; readonly offset: number }
  | { readonly kind: 'result'; readonly op: OpHandle };

export const imm = (value: number | bigint): Arg => ({ kind: 'imm', value });
/**
 * A pointer inside data bytes, for structs that point at other memory
 * (sock_fprog, iovec, clone_args): the executor writes the address of `to`
 * (placed in the program's data too) as a 64-bit word at byte `at`.
 */
export interface DataPointer {
  readonly at: number;
  readonly to: Uint8Array;
}

/** Bytes placed in the program's data; the executor passes their address. `pointers` patch addresses into them. */
export const bytes = (value: Uint8Array, pointers?: readonly DataPointer[]): Arg => {
  for (const p of pointers ?? []) {
    if (!Number.isSafeInteger(p.at) || p.at < 0 || p.at + 8 > value.length) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `bytes: a pointer at ${p.at} does not fit in ${value.length} bytes`);
    }
  }
  return pointers?.length ? { kind: 'data', bytes: value, pointers } : { kind: 'data', bytes: value };
};
/** A NUL-terminated string in the program's data; the executor passes its address. */
export const cstring = (value: string): Arg => bytes(Buffer.from(`${noNul(value, 'string')}\0`));
export const resultOf = (op: OpHandle): Arg => ({ kind: 'result', op });
/** A zeroed block of `size` bytes of scratch memory, for ops that write what later ops read. */
export const scratch = (size: number): ScratchBlock => {
  if (!Number.isSafeInteger(size) || size <= 0) throw new AttachError(ErrorCodes.BAD_REQUEST, `scratch: ${size} is not a size`);
  return { size };
};
/** A pointer `offset` bytes into a scratch block. */
export const scratchAt = (block: ScratchBlock, offset = 0): Arg => {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= block.size) {
    throw new AttachError(ErrorCodes.BAD_REQUEST, `scratchAt: offset ${offset} is outside a block of ${block.size} bytes`);
  }
  return { kind: 'scratch', block, offset };
};

/** What the parent knows about an op, so that a failure can be reported in words. */
export interface OpInfo {
  /** The stage that emitted it. */
  readonly stage: string;
  readonly phase: Phase;
  /** The syscall or executor primitive. */
  readonly syscall: string;
  /** What it does and to what: `setns(CLONE_NEWNS|CLONE_NEWPID) on pid 4089`. */
  readonly operation: string;
}

/** An emitted op; pass it to resultOf() to use its result in a later op. */
export interface OpHandle extends OpInfo {
  readonly seq: number;
}

/** NUL-terminated strings one after another in the program's data (an argv or environment block). */
export function cstrings(list: readonly string[], what: string): Arg {
  return bytes(Buffer.from(list.map((s) => `${noNul(s, what)}\0`).join('')));
}

function noNul(value: string, what: string): string {
  if (value.includes('\0')) throw new AttachError(ErrorCodes.BAD_REQUEST, `${what} contains a NUL byte: ${JSON.stringify(value)}`);
  return value;
}
