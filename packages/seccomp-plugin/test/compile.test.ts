import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AARCH64, BAD_ARCH_ACTION, BPF_MAXINSNS, compileProfile, parseProfile, ProfileError, SECCOMP_RET, X86_64,
  type CompareOp, type SeccompArch,
} from '../src/index.js';
import { runFilter } from './bpf-vm.js';

const FILE = '/test.seccomp';
const { ALLOW, KILL_THREAD, KILL_PROCESS, TRAP, LOG } = SECCOMP_RET;
const ERRNO = (n: number) => (SECCOMP_RET.ERRNO | n) >>> 0;

/** Compile a profile and return a function that decides a syscall the way the kernel would run the filter. */
function filter(text: string, arch: SeccompArch = X86_64) {
  const { program, bytes } = compileProfile(parseProfile(text, { file: FILE, arch }), arch);
  assert.equal(bytes.length, program.length * 8);
  const decide = (name: string | number, args: bigint[] = [], auditArch = arch.auditArch) =>
    runFilter(program, { nr: typeof name === 'number' ? name : arch.syscalls[name]!, arch: auditArch, args });
  return Object.assign(decide, { program });
}

describe('seccomp BPF compiler', () => {
  it("should deny what LXC's common.seccomp denies and allow the rest", () => {
    const decide = filter('2\ndenylist\nreject_force_umount\n[all]\nkexec_load errno 1\nopen_by_handle_at errno 1\n');
    assert.equal(decide('kexec_load'), ERRNO(1));
    assert.equal(decide('open_by_handle_at'), ERRNO(1));
    assert.equal(decide('read'), ALLOW);
    assert.equal(decide('umount2', [0n, 1n]), ERRNO(13), 'umount -f');
    assert.equal(decide('umount2', [0n, 3n]), ERRNO(13), 'MNT_FORCE|MNT_EXPIRE');
    assert.equal(decide('umount2', [0n, 2n]), ALLOW, 'MNT_DETACH');
  });

  it('should allow only what an allowlist lists, with its default action', () => {
    const kill = filter('2\nallowlist\nread\nwrite\nexit_group\n');
    assert.deepEqual(['read', 'write', 'exit_group', 'open', 'getpid'].map((n) => kill(n)), [ALLOW, ALLOW, ALLOW, KILL_THREAD, KILL_THREAD]);
    const enosys = filter('2\nallowlist errno 38\nread\n');
    assert.equal(enosys('uname'), ERRNO(38));
    const v1 = filter('1\nallowlist\n0\n60\n');
    assert.deepEqual([v1(0), v1(60), v1(1)], [ALLOW, ALLOW, KILL_THREAD]);
  });

  it('should give every action its seccomp return value', () => {
    const decide = filter('2\ndenylist\nread kill\nwrite trap\nopen log\nclose errno 0\nstat errno 4095\n');
    assert.deepEqual(['read', 'write', 'open', 'close', 'stat'].map((n) => decide(n)), [KILL_THREAD, TRAP, LOG, ERRNO(0), ERRNO(4095)]);
  });

  it('should kill a process that calls through another ABI: other arch, x32, but let -1 through', () => {
    const decide = filter('2\ndenylist\nkexec_load errno 1\n');
    assert.equal(BAD_ARCH_ACTION, KILL_PROCESS);
    assert.equal(decide('read', [], 0x40000003 /* AUDIT_ARCH_I386 */), KILL_PROCESS);
    assert.equal(decide(0x40000000 | 246), KILL_PROCESS, 'x32 kexec_load');
    assert.equal(decide(0x40000000 | 0), KILL_PROCESS, 'x32 read');
    assert.equal(decide(0xffffffff), ALLOW, 'a tracer-skipped syscall reaches the default');
    const arm = filter('2\ndenylist\nkexec_load errno 1\n', AARCH64);
    assert.equal(arm('kexec_load'), ERRNO(1));
    assert.equal(arm('kexec_load', [], X86_64.auditArch), KILL_PROCESS);
  });

  it('should compare whole 64-bit arguments for every operator', () => {
    const edges = [0n, 1n, 5n, 0xffffffffn, 0x100000000n, 0x100000005n, 0x1ffffffffn, 0x500000000n, 2n ** 63n, 2n ** 64n - 1n];
    const holds: Record<CompareOp, (a: bigint, v: bigint) => boolean> = {
      eq: (a, v) => a === v, ne: (a, v) => a !== v, lt: (a, v) => a < v, le: (a, v) => a <= v,
      gt: (a, v) => a > v, ge: (a, v) => a >= v, 'masked-eq': (a, v) => (a & 0xf0000000fn) === v,
    };
    const spelled: Record<CompareOp, string> = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=', 'masked-eq': '&=' };
    for (const op of Object.keys(holds) as CompareOp[]) {
      for (const value of op === 'masked-eq' ? [0n, 5n, 0x100000005n, 0x500000000n] : edges) {
        const mask = op === 'masked-eq' ? ',0xf0000000f' : '';
        const decide = filter(`2\ndenylist\nread errno 1 [2,${value},${spelled[op]}${mask}]\n`);
        for (const arg of edges) {
          const want = holds[op](arg, value) ? ERRNO(1) : ALLOW;
          assert.equal(decide('read', [0n, 0n, arg]), want, `args[2] = ${arg} ${op} ${value}`);
        }
      }
    }
  });

  it('should require every comparison of a rule, and try the next rule when one fails', () => {
    const decide = filter('2\ndenylist\nioctl errno 25 [0,3,==] [1,0x5412,==]\nioctl errno 1 [0,4,==]\n');
    assert.equal(decide('ioctl', [3n, 0x5412n]), ERRNO(25));
    assert.equal(decide('ioctl', [3n, 0x5413n]), ALLOW);
    assert.equal(decide('ioctl', [4n, 0n]), ERRNO(1));
    assert.equal(decide('ioctl', [5n, 0x5412n]), ALLOW);
  });

  it('should let a rule with fewer comparisons win, as libseccomp does, whatever the file order', () => {
    const decide = filter('2\ndenylist\nmount errno 2 [2,0,==]\nmount errno 1\n');
    assert.equal(decide('mount', [0n, 0n, 0n]), ERRNO(1));
    assert.equal(decide('mount', [0n, 0n, 7n]), ERRNO(1));
  });

  it('should stay within 8-bit jumps and the kernel limit for a large profile (JA trampolines)', () => {
    // Every x86_64 syscall with a comparison: the search jumps over hundreds of instructions.
    const names = Object.keys(X86_64.syscalls);
    const lines = names.map((n, i) => `${n} errno ${(i % 4000) + 1} [1,${i + 1},==]`);
    const decide = filter(`2\ndenylist\n${lines.join('\n')}\n`);
    const { program } = decide;
    assert.ok(program.length > 256 && program.length <= BPF_MAXINSNS, `${program.length} instructions`);
    assert.ok(program.some((insn) => insn.code === 0x05), 'a ja trampoline');
    names.forEach((name, i) => {
      const nr = BigInt(i);
      assert.equal(decide(name, [0n, nr + 1n]), ERRNO((i % 4000) + 1), name);
      assert.equal(decide(name, [0n, nr]), ALLOW, name);
    });
  });

  it("should refuse a profile beyond the kernel's 4096 instructions, naming the file", () => {
    const lines = Object.keys(X86_64.syscalls).map((n) => `${n} errno 1${' [0,1,<] [1,2,>] [2,3,&=,7] [3,4,!=] [4,5,<=] [5,6,>=]'}`);
    assert.throws(() => filter(`2\ndenylist\n${lines.join('\n')}\n`), (err) =>
      err instanceof ProfileError && /^\/test\.seccomp: compiles to \d+ BPF instructions, more than the kernel's limit of 4096 \(BPF_MAXINSNS\)$/.test(err.message));
  });
});
