import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * What attachkit needs of an ELF file to run it from the host: its class and
 * machine (a library must match its program), its interpreter (PT_INTERP:
 * the loader the kernel would look up inside the container), and from its
 * dynamic section the libraries it needs with their search paths.
 */
export interface ElfInfo {
  readonly class: 32 | 64;
  readonly machine: number;
  readonly interpreter?: string;
  readonly needed: readonly string[];
  /** DT_RUNPATH, else DT_RPATH, ':'-separated entries (as written: $ORIGIN unexpanded). */
  readonly runpath: readonly string[];
  /** Whether the search path came from DT_RPATH (searched before LD_LIBRARY_PATH) rather than DT_RUNPATH. */
  readonly rpath: boolean;
}

export class ElfError extends Error {}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
/** Far beyond a real loader path, library name or program header table. */
const MAX_STRING = 4096;
const MAX_PHNUM = 4096;
const MAX_DYN = 65536;

/** Whether the first bytes of a file are an ELF header. */
export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** Read the ELF file open at `fd`; throws ElfError for anything that is not a well-formed little-endian ELF. */
export function readElf(fd: number): ElfInfo {
  const size = fstatSync(fd).size;
  const read = (offset: number | bigint, length: number): Buffer => {
    const at = Number(offset);
    if (!Number.isSafeInteger(at) || at < 0 || length < 0 || at + length > size) throw new ElfError('truncated or corrupt (an offset beyond the end)');
    const b = Buffer.alloc(length);
    if (readSync(fd, b, 0, length, at) !== length) throw new ElfError('short read');
    return b;
  };
  const ident = read(0, 64 <= size ? 64 : size);
  if (!isElf(ident)) throw new ElfError('not an ELF file');
  if (ident[5] !== 1) throw new ElfError('big-endian ELF is not supported');
  const wide = ident[4] === 2;
  if (!wide && ident[4] !== 1) throw new ElfError(`unknown ELF class ${ident[4]}`);
  const h = read(0, wide ? 64 : 52);
  const word = (b: Buffer, at: number): bigint => (wide ? b.readBigUInt64LE(at) : BigInt(b.readUInt32LE(at)));
  const machine = h.readUInt16LE(18);
  const phoff = word(h, wide ? 32 : 28);
  const phentsize = h.readUInt16LE(wide ? 54 : 42);
  const phnum = h.readUInt16LE(wide ? 56 : 44);
  if (phnum > MAX_PHNUM || phentsize < (wide ? 56 : 32)) throw new ElfError('corrupt program header table');
  const phdrs = Array.from({ length: phnum }, (_, i) => {
    const p = read(phoff + BigInt(i * phentsize), wide ? 56 : 32);
    return wide
      ? { type: p.readUInt32LE(0), offset: p.readBigUInt64LE(8), vaddr: p.readBigUInt64LE(16), filesz: p.readBigUInt64LE(32) }
      : { type: p.readUInt32LE(0), offset: BigInt(p.readUInt32LE(4)), vaddr: BigInt(p.readUInt32LE(8)), filesz: BigInt(p.readUInt32LE(16)) };
  });
  const cstringAt = (offset: bigint, limit = MAX_STRING): string => {
    const b = read(offset, Math.min(limit, size - Number(offset)));
    const end = b.indexOf(0);
    if (end < 0) throw new ElfError('unterminated string');
    return b.subarray(0, end).toString('utf8');
  };
  const interp = phdrs.find((p) => p.type === PT_INTERP);
  const interpreter = interp ? cstringAt(interp.offset, Math.min(Number(interp.filesz), MAX_STRING)) : undefined;
  const dynamic = phdrs.find((p) => p.type === PT_DYNAMIC);
  const info = { class: wide ? 64 : 32, machine, ...(interpreter ? { interpreter } : {}) } as const;
  if (!dynamic) return { ...info, needed: [], runpath: [], rpath: false };

  const entSize = wide ? 16 : 8;
  const count = Math.min(Number(dynamic.filesz) / entSize, MAX_DYN);
  const dyn = read(dynamic.offset, count * entSize);
  const entries: Array<[bigint, bigint]> = [];
  for (let i = 0; i < count; i++) {
    const tag = wide ? dyn.readBigInt64LE(i * 16) : BigInt(dyn.readInt32LE(i * 8));
    if (tag === 0n) break;
    entries.push([tag, word(dyn, i * entSize + (wide ? 8 : 4))]);
  }
  const strtab = entries.find(([t]) => t === BigInt(DT_STRTAB))?.[1];
  const names = (tag: number): string[] => entries.filter(([t]) => t === BigInt(tag)).map(([, v]) => {
    if (strtab === undefined) throw new ElfError('a dynamic section without DT_STRTAB');
    return cstringAt(fileOffset(strtab) + v);
  });
  // DT_STRTAB is an address: the file offset is where a PT_LOAD segment maps it.
  function fileOffset(vaddr: bigint): bigint {
    const seg = phdrs.find((p) => p.type === PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz);
    if (!seg) throw new ElfError('DT_STRTAB outside every loaded segment');
    return vaddr - seg.vaddr + seg.offset;
  }
  const runpath = names(DT_RUNPATH);
  const rpath = runpath.length ? [] : names(DT_RPATH);
  const split = (list: string[]) => list.flatMap((s) => s.split(':')).filter(Boolean);
  return { ...info, needed: names(DT_NEEDED), runpath: split(runpath.length ? runpath : rpath), rpath: rpath.length > 0 };
}

/** readElf of a path. */
export function readElfFile(path: string): ElfInfo {
  const fd = openSync(path, 'r');
  try {
    return readElf(fd);
  } finally {
    closeSync(fd);
  }
}
