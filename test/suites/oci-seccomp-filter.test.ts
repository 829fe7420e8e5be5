import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { COMPAT_SYSCALL_NUMBERS, X32_SYSCALL_BIT, X86_64 } from '@attachkit/seccomp-plugin';
import { CLI } from '../helpers/cli.js';
import { ensureRuncContainer, removeRuncContainer, startTime, type OciContainer } from '../oci/containers.js';

/**
 * The seccomp filter attachkit loads for an OCI container beside the one
 * runc loaded into the container's init, compared by behaviour: both read
 * back from the kernel (test/oci/seccomp-dump.c: PTRACE_SECCOMP_GET_FILTER
 * on the init, and on a command attached with `attachkit --oci ID -d`), then
 * run in a classic-BPF interpreter over many seccomp_data (x86_64, i386 and
 * x32 numbers, foreign architectures, edge argument values); every verdict
 * must be the same. The programs themselves are not compared: runc's comes
 * from libseccomp, attachkit's from its own compiler (different layouts,
 * different lengths).
 *
 * The profile is Docker-like (packages/seccomp-plugin/test/oci-profiles.ts:
 * default ERRNO(EPERM), ~300 names allowed, personality on argument values,
 * clone on a MASKED_EQ, socket on NE) for x86_64, x86 and x32, plus rules
 * with other errnos, EQ on one argument, MASKED_EQ, two conditions on two
 * arguments, a 64-bit datum (its low half only on the 32-bit ABIs) and one
 * GE. libseccomp (2.5, which runc uses) mis-compiles several range
 * comparisons (LT/LE/GT/GE) on one 64-bit argument: the profile keeps to
 * one range per argument, so a difference is attachkit's.
 *
 * The allowed names are those whose numbers are at most 448 (Linux 5.15) in
 * every x86 ABI: the ones any libseccomp runc may be built with knows.
 * Names libseccomp does not know are skipped by runc, compiled by attachkit
 * (its tables are Linux 6.12's): a version difference, not a behaviour one.
 *
 * Tolerated, and only it: runc's -ENOSYS stub (patchbpf), which answers
 * ENOSYS for a syscall numbered above the highest the profile names in its
 * ABI, where attachkit answers the default action (documented as not done
 * in packages/seccomp-plugin/src/oci-compile.ts).
 */

/** The Docker-like profile of the seccomp plugin's tests (compiled beside them; not part of the package's exports). */
interface ProfileSyscall { readonly names: string[]; readonly action: string; readonly errnoRet?: number; readonly args?: unknown[] }
const { dockerLike } = await import(new URL('../../../packages/seccomp-plugin/dist/test/oci-profiles.js', import.meta.url).href) as {
  dockerLike: () => { syscalls: ProfileSyscall[] };
};

const DUMP_C = fileURLToPath(new URL('../../oci/seccomp-dump.c', import.meta.url));
const ID = 'attachkit-ocit-seccomp';

const SECCOMP_RET_ERRNO = 0x00050000;
const ENOSYS = 38;
const DEFAULT = (SECCOMP_RET_ERRNO | 1) >>> 0;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
/** Architectures the filters have no block for: both must kill. */
const FOREIGN = { aarch64: 0xc00000b7, arm: 0x40000028, none: 0, 'x86_64 with a bit flipped': 0xc000003f };

const NEWEST = 448;
const TABLES = { x86_64: X86_64.syscalls, i386: COMPAT_SYSCALL_NUMBERS.x86, x32: COMPAT_SYSCALL_NUMBERS.x32 } as const;
type Abi = keyof typeof TABLES;
const old = (name: string) => Object.values(TABLES).every((t) => t[name] === undefined || t[name]! <= NEWEST || t === TABLES.x32 && t[name]! >= 512);

/** The names given a rule of their own below, taken out of the allow list. */
const RULED = ['mkdir', 'mkdirat', 'rmdir', 'kill', 'chmod', 'fchownat', 'lseek', 'setpriority', 'sched_setscheduler', 'map_shadow_stack'];

function profile() {
  const base = dockerLike();
  const [allow, ...argRules] = base.syscalls;
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: allow!.names.filter((n) => old(n) && !RULED.includes(n)), action: 'SCMP_ACT_ALLOW' },
      // personality (EQ, five values), clone (MASKED_EQ, zero datum), clone3 (ENOSYS), socket (NE)
      ...argRules,
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 },
      { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 1, value: 10, op: 'SCMP_CMP_EQ' }] },
      { names: ['kill'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 10, op: 'SCMP_CMP_NE' }] },
      // the setuid bit of the mode: (arg1 & 04000) == 04000
      { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 30, args: [{ index: 1, value: 0o4000, valueTwo: 0o4000, op: 'SCMP_CMP_MASKED_EQ' }] },
      // two conditions on two arguments, ANDed
      { names: ['fchownat'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 2, value: 0, op: 'SCMP_CMP_EQ' }, { index: 3, value: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['setpriority'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 1, value: 0, op: 'SCMP_CMP_EQ' }] },
      // a datum above 32 bits: the 32-bit ABIs compare its low half (0)
      { names: ['lseek'], action: 'SCMP_ACT_ERRNO', errnoRet: 7, args: [{ index: 1, value: 0x1_0000_0000, op: 'SCMP_CMP_EQ' }] },
      // one range on its argument (see above)
      { names: ['sched_setscheduler'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 1, value: 3, op: 'SCMP_CMP_GE' }] },
      // 453 on x86_64, i386 and x32 (common in the kernel tables since 6.12 at the latest), which libseccomp 2.5.4 does not know
      { names: ['map_shadow_stack'], action: 'SCMP_ACT_ERRNO', errnoRet: 95 },
    ],
  };
}
const PROFILE = profile();

// --- classic BPF, as seccomp runs it --------------------------------------------

interface Insn { readonly code: number; readonly jt: number; readonly jf: number; readonly k: number }

/** struct sock_filter[] as the kernel hands it back (little-endian). */
function decode(buf: Buffer): Insn[] {
  assert.equal(buf.length % 8, 0);
  const out: Insn[] = [];
  for (let i = 0; i < buf.length; i += 8) out.push({ code: buf.readUInt16LE(i), jt: buf[i + 2]!, jf: buf[i + 3]!, k: buf.readUInt32LE(i + 4) });
  return out;
}

/**
 * Every instruction seccomp_check_filter lets through: loads of seccomp_data
 * words, immediates, scratch memory and the data length; the ALU; all jumps;
 * TAX/TXA; ret K and ret A. Returns the 32-bit verdict.
 */
function runBpf(p: readonly Insn[], nr: number, arch: number, args: readonly bigint[]): number {
  const word = (off: number): number => {
    if (off % 4 !== 0 || off < 0 || off >= 64) throw new Error(`load of seccomp_data offset ${off}`);
    if (off === 0) return nr >>> 0;
    if (off === 4) return arch >>> 0;
    if (off < 16) return 0; // instruction_pointer
    const a = args[(off - 16) >> 3] ?? 0n;
    return Number(off % 8 === 0 ? a & 0xffffffffn : (a >> 32n) & 0xffffffffn);
  };
  let a = 0;
  let x = 0;
  const mem = new Array<number>(16).fill(0);
  for (let pc = 0, steps = 0; steps <= p.length; steps++) {
    const i = p[pc];
    if (!i) throw new Error(`fell off the program at ${pc}`);
    switch (i.code & 7) {
      case 0: // BPF_LD
      case 1: { // BPF_LDX
        const mode = i.code & 0xe0;
        const v = mode === 0x20 ? word(i.k) : mode === 0x00 ? i.k : mode === 0x80 ? 64 : mode === 0x60 ? mem[i.k]! : NaN;
        if (Number.isNaN(v)) throw new Error(`load 0x${i.code.toString(16)} at ${pc}`);
        if ((i.code & 7) === 0) a = v >>> 0;
        else x = v >>> 0;
        pc++;
        break;
      }
      case 2: mem[i.k] = a; pc++; break; // BPF_ST
      case 3: mem[i.k] = x; pc++; break; // BPF_STX
      case 4: { // BPF_ALU
        const s = i.code & 8 ? x : i.k;
        switch (i.code & 0xf0) {
          case 0x00: a = (a + s) >>> 0; break;
          case 0x10: a = (a - s) >>> 0; break;
          case 0x20: a = Number((BigInt(a) * BigInt(s)) & 0xffffffffn); break;
          case 0x30: if (s === 0) return 0; a = Math.floor(a / s) >>> 0; break;
          case 0x90: if (s === 0) return 0; a = (a % s) >>> 0; break;
          case 0x40: a = (a | s) >>> 0; break;
          case 0x50: a = (a & s) >>> 0; break;
          case 0xa0: a = (a ^ s) >>> 0; break;
          case 0x60: a = s >= 32 ? 0 : (a << s) >>> 0; break;
          case 0x70: a = s >= 32 ? 0 : a >>> s; break;
          case 0x80: a = -a >>> 0; break;
          default: throw new Error(`alu 0x${i.code.toString(16)} at ${pc}`);
        }
        pc++;
        break;
      }
      case 5: { // BPF_JMP
        if ((i.code & 0xf0) === 0x00) { pc += 1 + i.k; break; }
        const s = i.code & 8 ? x : i.k;
        let taken: boolean;
        switch (i.code & 0xf0) {
          case 0x10: taken = a === s; break;
          case 0x20: taken = a > s; break;
          case 0x30: taken = a >= s; break;
          case 0x40: taken = (a & s) !== 0; break;
          default: throw new Error(`jump 0x${i.code.toString(16)} at ${pc}`);
        }
        pc += 1 + (taken ? i.jt : i.jf);
        break;
      }
      case 6: return ((i.code & 0x18) === 0x10 ? a : i.k) >>> 0; // BPF_RET K / A
      case 7: // BPF_MISC
        if (i.code === 0x07) x = a;
        else if (i.code === 0x87) a = x;
        else throw new Error(`misc 0x${i.code.toString(16)} at ${pc}`);
        pc++;
        break;
    }
  }
  throw new Error('no ret reached');
}

// --- the inputs -----------------------------------------------------------------

/** The rules' data, one off, with the high half set, masks' bits, and the extremes. */
const VALUES = [
  0n, 1n, 2n, 3n, 4n, 8n, 9n, 10n, 11n, 0x11n, 40n, 41n, 0o777n, 0o4000n, 0o4777n, 0x20000n, 0x20008n, 0x7e020000n, 0x7e020011n,
  0x80000000n, 0xffffffffn, 0x1_0000_0000n, 0x1_0000_0002n, 0x1_0000_000an, 0x10_0000_4000n, 0xffffffff_00000000n, 0xffffffff_ffffffffn,
];

/** A seeded xorshift: the same "random" vectors every run. */
function* xorshift(seed: number): Generator<number> {
  let s = seed >>> 0;
  for (;;) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    yield s;
  }
}

function argVectors(): bigint[][] {
  const out: bigint[][] = [];
  const zeros = () => Array<bigint>(6).fill(0n);
  for (const v of VALUES) out.push(Array<bigint>(6).fill(v));
  for (let i = 0; i < 6; i++) {
    for (const v of VALUES) {
      const args = zeros();
      args[i] = v;
      out.push(args);
    }
  }
  const few = [0n, 1n, 10n, 0x1_0000_0000n, 0xffffffff_ffffffffn];
  for (const [i, j] of [[0, 1], [2, 3]] as const) {
    for (const v of few) {
      for (const w of few) {
        const args = Array<bigint>(6).fill(7n);
        args[i] = v;
        args[j] = w;
        out.push(args);
      }
    }
  }
  const rnd = xorshift(0x5eccc0);
  for (let n = 0; n < 40; n++) out.push(Array.from({ length: 6 }, () => VALUES[rnd.next().value % VALUES.length]!));
  return out;
}

interface Input { readonly label: string; readonly abi?: Abi; readonly abiNr?: number; readonly nr: number; readonly arch: number }

function inputs(): Input[] {
  const out: Input[] = [];
  const odd = [0xffffffff, 0x3fffffff, 0x7fffffff, 0x80000000, 1000, 0xbfffffff];
  for (let n = 0; n <= 479; n++) out.push({ label: `x86_64 ${n}`, abi: 'x86_64', abiNr: n, nr: n, arch: AUDIT_ARCH_X86_64 });
  for (let n = 0; n <= 559; n++) out.push({ label: `x32 ${n}`, abi: 'x32', abiNr: n, nr: (X32_SYSCALL_BIT | n) >>> 0, arch: AUDIT_ARCH_X86_64 });
  for (let n = 0; n <= 479; n++) out.push({ label: `i386 ${n}`, abi: 'i386', abiNr: n, nr: n, arch: AUDIT_ARCH_I386 });
  for (const nr of odd) {
    const x32 = (nr & X32_SYSCALL_BIT) !== 0;
    out.push({ label: `x86_64 nr 0x${nr.toString(16)}`, abi: x32 ? 'x32' : 'x86_64', abiNr: x32 ? (nr & ~X32_SYSCALL_BIT) >>> 0 : nr, nr, arch: AUDIT_ARCH_X86_64 });
    out.push({ label: `i386 nr 0x${nr.toString(16)}`, abi: 'i386', abiNr: nr, nr, arch: AUDIT_ARCH_I386 });
  }
  for (const [name, arch] of Object.entries(FOREIGN)) for (const nr of [0, 1, 59, 221, 0x40000001, 0xffffffff]) out.push({ label: `${name} ${nr}`, nr, arch });
  return out;
}

/** The highest number the profile names in each ABI (any action): where runc's -ENOSYS stub starts. */
function highestNamed(): Record<Abi, number> {
  const names = PROFILE.syscalls.flatMap((s) => s.names);
  const top = (abi: Abi) => Math.max(...names.map((n) => TABLES[abi][n] ?? -1));
  return { x86_64: top('x86_64'), i386: top('i386'), x32: top('x32') };
}

// --- reading a filter back ---------------------------------------------------------

function dump(helper: string, pid: number, file: string): { filters: number; program: Insn[] } {
  const r = spawnSync(helper, [String(pid), file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `seccomp-dump ${pid}: ${r.stderr}`);
  const m = /^filters (\d+) instructions (\d+)\n$/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const program = decode(readFileSync(file));
  assert.equal(program.length, Number(m[2]));
  return { filters: Number(m[1]), program };
}

const hex = (v: number) => `0x${v.toString(16)}`;

describe('OCI seccomp: the filter attachkit loads against the one runc loaded into the container init', () => {
  let dir: string;
  let c: OciContainer;
  let attached = 0;
  let attachedStart: number | undefined;
  let init: { filters: number; program: Insn[] };
  let ours: { filters: number; program: Insn[] };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'attachkit-ocit-seccomp-'));
    const helper = join(dir, 'seccomp-dump');
    const cc = spawnSync('cc', ['-static', '-O2', '-Wall', '-Werror', '-o', helper, DUMP_C], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
    c = ensureRuncContainer({ id: ID, seccomp: PROFILE });
    init = dump(helper, c.initPid, join(dir, 'init.bpf'));
    const r = spawnSync(CLI, ['--oci', ID, '-d', '--', 'sleep', '30'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    attached = Number(r.stdout.trim());
    attachedStart = startTime(attached);
    assert.ok(Number.isSafeInteger(attached) && attachedStart !== undefined, `attachkit -d printed ${JSON.stringify(r.stdout)}`);
    assert.equal(readlinkSync(`/proc/${attached}/ns/pid`), readlinkSync(`/proc/${c.initPid}/ns/pid`), 'the detached command is in the container');
    ours = dump(helper, attached, join(dir, 'attachkit.bpf'));
  });

  after(() => {
    if (attached && attachedStart !== undefined && startTime(attached) === attachedStart) process.kill(attached, 'SIGKILL');
    removeRuncContainer(ID);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('should read one filter from each, and two different programs (compared by behaviour, never instruction by instruction)', (t) => {
    // One each: the test process runs unfiltered, so index 0 is all the attached command is under.
    assert.equal(init.filters, 1);
    assert.equal(ours.filters, 1);
    assert.notDeepEqual(ours.program, init.program, 'the same program twice: was the init read twice?');
    t.diagnostic(`runc (libseccomp): ${init.program.length} instructions; attachkit: ${ours.program.length}`);
    // Both are the profile's: a few verdicts known from it.
    for (const p of [init.program, ours.program]) {
      assert.equal(runBpf(p, X86_64.syscalls.mkdir!, AUDIT_ARCH_X86_64, []), (SECCOMP_RET_ERRNO | 99) >>> 0);
      assert.equal(runBpf(p, X86_64.syscalls.kill!, AUDIT_ARCH_X86_64, [1n, 10n]), (SECCOMP_RET_ERRNO | 97) >>> 0);
      assert.equal(runBpf(p, X86_64.syscalls.kill!, AUDIT_ARCH_X86_64, [1n, 9n]), 0x7fff0000);
      assert.equal(runBpf(p, COMPAT_SYSCALL_NUMBERS.x86.mkdir!, AUDIT_ARCH_I386, []), (SECCOMP_RET_ERRNO | 99) >>> 0);
      assert.equal(runBpf(p, (X32_SYSCALL_BIT | COMPAT_SYSCALL_NUMBERS.x32.rmdir!) >>> 0, AUDIT_ARCH_X86_64, []), (SECCOMP_RET_ERRNO | 13) >>> 0);
      assert.equal(runBpf(p, X86_64.syscalls.reboot!, AUDIT_ARCH_X86_64, []), DEFAULT);
      assert.equal(runBpf(p, 0, FOREIGN.aarch64, []), 0, 'a foreign architecture: SECCOMP_RET_KILL_THREAD');
    }
  });

  it('should give the same verdict as runc\'s filter for every seccomp_data (x86_64, i386, x32, foreign arches; edge argument values)', (t) => {
    const vectors = argVectors();
    const top = highestNamed();
    const stub = (SECCOMP_RET_ERRNO | ENOSYS) >>> 0;
    const differences: string[] = [];
    let compared = 0;
    let enosysStub = 0;
    for (const input of inputs()) {
      if (input.abi === 'x32' && input.abiNr === 453) continue; // the next test: libseccomp 2.5.4 predates it
      for (const args of vectors) {
        const theirs = runBpf(init.program, input.nr, input.arch, args);
        const mine = runBpf(ours.program, input.nr, input.arch, args);
        compared++;
        if (theirs === mine) continue;
        if (theirs === stub && mine === DEFAULT && input.abi !== undefined && input.abiNr! > top[input.abi]) {
          enosysStub++;
          continue;
        }
        differences.push(`${input.label} args [${args.map((a) => `0x${a.toString(16)}`).join(', ')}]: runc ${hex(theirs)}, attachkit ${hex(mine)}`);
      }
    }
    t.diagnostic(`${compared} seccomp_data compared; ${enosysStub} above the profile's highest syscall (x86_64 ${top.x86_64}, i386 ${top.i386}, x32 ${top.x32}) get runc's -ENOSYS stub and attachkit's default action`);
    assert.deepEqual(differences.slice(0, 20), [], `${differences.length} differences`);
  });

  // The kernel made map_shadow_stack a common syscall (x32 453 too: in 6.12
  // and in 6.18, which this machine runs); runc's libseccomp 2.5.4 predates that and leaves x32
  // 453 to the default action. attachkit follows the kernel.
  it('should apply the rule to x32 call 453 (map_shadow_stack, a common syscall now), which runc\'s older libseccomp leaves to the default', () => {
    const nr = (X32_SYSCALL_BIT | 453) >>> 0;
    const verdicts = (program: typeof ours.program) => [...new Set(argVectors().map((a) => hex(runBpf(program, nr, AUDIT_ARCH_X86_64, a))))];
    const x64 = [...new Set(argVectors().map((a) => hex(runBpf(ours.program, 453, AUDIT_ARCH_X86_64, a))))];
    assert.deepEqual(verdicts(ours.program), x64, 'the same verdict as x86_64 453');
  });
});
