import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  COMPAT_SYSCALL_NUMBERS, compileOciSeccomp, ociActionValue, parseOciSeccomp, X86_64,
  type Insn, type OciSeccomp, type OciSeccompAction, type OciSeccompArchitecture,
} from '../src/index.js';
import { runFilter } from './bpf-vm.js';
import { dockerLike } from './oci-profiles.js';

/**
 * Differential: the same profiles compiled here and by libseccomp the way
 * runc drives it (fixtures/libseccomp-export.c), both filters run on the same
 * seccomp_data, the verdicts compared. Needs libseccomp's headers
 * (Debian's libseccomp-dev); skipped without them.
 */

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/libseccomp-export.c', import.meta.url));
const available = process.arch === 'x64' && existsSync('/usr/include/seccomp.h');

const LIBSECCOMP_ARCH: Partial<Record<OciSeccompArchitecture, string>> = { SCMP_ARCH_X86: 'x86', SCMP_ARCH_X32: 'x32', SCMP_ARCH_X86_64: 'x86_64' };
const LIBSECCOMP_OP = { SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7 };

/** runc's InitSeccomp as directives for libseccomp-export. */
function runcDirectives(spec: OciSeccomp): string {
  const out: string[] = [];
  const def = ociActionValue(spec.defaultAction, spec.defaultErrnoRet);
  out.push(`default ${def}`, 'optimize 2');
  for (const a of spec.architectures) out.push(`arch ${LIBSECCOMP_ARCH[a]}`);
  for (const entry of spec.syscalls) {
    const act = ociActionValue(entry.action, entry.errnoRet);
    if (act === def) continue;
    const counts = new Map<number, number>();
    for (const a of entry.args) counts.set(a.index, (counts.get(a.index) ?? 0) + 1);
    const groups = [...counts.values()].some((n) => n > 1) ? entry.args.map((a) => [a]) : [entry.args];
    for (const name of entry.names) {
      for (const args of groups) {
        out.push(`rule ${act} ${name}${args.map((a) => ` ${a.index} ${LIBSECCOMP_OP[a.op]} ${a.value} ${a.valueTwo}`).join('')}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}

function decode(buf: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < buf.length; i += 8) out.push({ code: buf.readUInt16LE(i), jt: buf[i + 2]!, jf: buf[i + 3]!, k: buf.readUInt32LE(i + 4) });
  return out;
}

/** A filter's verdict, by the package's BPF interpreter (it knows what libseccomp emits: ld abs, and, ja, jeq/jgt/jge/jset, ret). */
const run = (program: readonly Insn[], nr: number, arch: number, args: readonly bigint[]): number => runFilter(program, { nr, arch, args });

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Names libseccomp 2.5 knows too, with i386's multiplexed ones and x32's own numbers among them. Not socketcall
 * and ipc themselves: with them, rules of different actions would overlap on one syscall (socket's multiplexed
 * rule and socketcall's own), which libseccomp decides by the order of its merged argument tree and this compiler
 * by fewer conditions first, then profile order.
 */
const NAMES = ['read', 'write', 'close', 'getpid', 'getppid', 'personality', 'mkdir', 'mount', 'umount2', 'ioctl', 'clone',
  'socket', 'bind', 'connect', 'sendto', 'accept4', 'shmget', 'semop', 'msgsnd', 'arch_prctl',
  'mmap2', '_llseek', 'rt_sigaction', 'readv', 'no_such_syscall'];
const VALUES = [0n, 1n, 2n, 7n, 40n, 0xffn, 0xffffffffn, 0x100000000n, 0x100000007n, 0xffffffff00000000n, 2n ** 63n, 2n ** 64n - 1n];
const ACTIONS: OciSeccompAction[] = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'];
const OPS = Object.keys(LIBSECCOMP_OP) as (keyof typeof LIBSECCOMP_OP)[];
const RANGES = new Set<string>(['SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GT', 'SCMP_CMP_GE']);
const AUDIT = { x86_64: 0xc000003e, i386: 0x40000003, aarch64: 0xc00000b7 };

describe('OCI seccomp filters against libseccomp (as runc drives it)', { skip: !available && 'needs x86_64 and libseccomp-dev' }, () => {
  let dir: string;
  let exporter: string;
  const libseccomp = (spec: OciSeccomp) => decode(execFileSync(exporter, { input: runcDirectives(spec) }));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'attachkit-libseccomp-'));
    exporter = join(dir, 'libseccomp-export');
    execFileSync('cc', ['-O2', '-o', exporter, FIXTURE, '-lseccomp']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Compare both filters on every syscall of the profile's names (and a few more) in every ABI, with argument values that hit the conditions. */
  const compare = (spec: OciSeccomp, random: () => number, samples: number) => {
    const mine = compileOciSeccomp(spec, { arch: 'x64' }).insns;
    const theirs = libseccomp(spec);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const tables = [
      { arch: AUDIT.x86_64, table: X86_64.syscalls, base: 0 },
      { arch: AUDIT.i386, table: COMPAT_SYSCALL_NUMBERS.x86, base: 0 },
      { arch: AUDIT.x86_64, table: COMPAT_SYSCALL_NUMBERS.x32, base: 0x40000000 },
    ];
    const names = [...new Set(spec.syscalls.flatMap((s) => s.names))];
    const values = [...VALUES, ...spec.syscalls.flatMap((s) => s.args.flatMap((a) => [a.value, a.valueTwo, a.value + 1n, a.value | a.valueTwo]))]
      .map((v) => v & (2n ** 64n - 1n));
    let differences = 0;
    for (const { arch, table, base } of tables) {
      const nrs = [...names.flatMap((n) => (table[n] === undefined ? [] : [(table[n]! | base) >>> 0])), (table.socketcall ?? 0) | base, (table.ipc ?? 0) | base, 0xffffffff, base | 5];
      for (const nr of nrs) {
        for (let i = 0; i < samples; i++) {
          const args = Array.from({ length: 6 }, () => (random() < 0.3 ? BigInt(Math.floor(random() * 30)) : pick(values)));
          const a = run(mine, nr, arch, args);
          const b = run(theirs, nr, arch, args);
          if (a !== b && differences++ < 5) {
            assert.fail(`nr 0x${nr.toString(16)} arch 0x${arch.toString(16)} args ${args.map((x) => `0x${x.toString(16)}`).join(',')}: `
              + `ours 0x${a.toString(16)}, libseccomp 0x${b.toString(16)}\n${runcDirectives(spec).slice(0, 3000)}`);
          }
        }
      }
    }
    assert.equal(run(mine, 0, AUDIT.aarch64, []), run(theirs, 0, AUDIT.aarch64, []), 'bad arch');
  };

  it('should decide as libseccomp on a Docker-like default profile for x86_64, x86 and x32', () => {
    const docker = dockerLike();
    // Debian 12's libseccomp (2.5.4) knows the syscalls up to Linux 5.17's (450): leave the newer ones out.
    const old = (n: string) => (X86_64.syscalls[n] ?? COMPAT_SYSCALL_NUMBERS.x86[n] ?? 0) <= 450;
    const syscalls = docker.syscalls.map((s) => ({ ...s, names: s.names.filter(old) }));
    const spec = parseOciSeccomp({ ...docker, syscalls, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] });
    compare(spec, prng(1), 4);
  });

  it('should decide as libseccomp on random profiles: actions, conditions, same-index ORs, i386 multiplexing, x32', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
      const errno = () => 1 + Math.floor(random() * 5);
      const architectures = (['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] as const).filter(() => random() < 0.6);
      const defaultAction = pick(ACTIONS);
      const syscalls = Array.from({ length: 1 + Math.floor(random() * 8) }, () => {
        const action = pick(ACTIONS);
        let ranges = 0;
        const args = Array.from({ length: random() < 0.3 ? 0 : 1 + Math.floor(random() * 3) }, () => {
          // libseccomp (2.5.4, and 2.6) gets several range comparisons (<, <=, >, >=) on one syscall wrong on
          // 64-bit ABIs: merging their trees it compares the wrong word (no reload of the accumulator). At most one here.
          let op = pick(OPS);
          if (RANGES.has(op) && ranges++ > 0) op = 'SCMP_CMP_EQ';
          return { index: Math.floor(random() * 3), value: pick(VALUES), valueTwo: op === 'SCMP_CMP_MASKED_EQ' ? pick(VALUES) : 0n, op };
        });
        // One syscall per entry and one entry per syscall: libseccomp merges overlapping rules of one syscall into a tree of its own.
        return { names: [pick(NAMES)], action, ...(action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE' ? { errnoRet: errno() } : {}), args };
      });
      const seen = new Set<string>();
      const unique = syscalls.filter((s) => !seen.has(s.names[0]!) && seen.add(s.names[0]!));
      const spec = parseOciSeccomp({
        defaultAction, ...(defaultAction === 'SCMP_ACT_ERRNO' ? { defaultErrnoRet: errno() } : {}), architectures, syscalls: unique,
      });
      compare(spec, random, 6);
    }
  });
});
