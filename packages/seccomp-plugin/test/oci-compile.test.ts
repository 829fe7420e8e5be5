import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AARCH64, BPF_MAXINSNS, COMPAT_SYSCALL_NUMBERS, compileOciSeccomp, OCI_BAD_ARCH_ACTION, OciSeccompError, SECCOMP_RET, X86_64,
} from '../src/index.js';
import { runFilter } from './bpf-vm.js';
import { dockerLike } from './oci-profiles.js';

const { ALLOW, KILL_THREAD, KILL_PROCESS, TRAP, LOG } = SECCOMP_RET;
const ERRNO = (n: number) => (SECCOMP_RET.ERRNO | n) >>> 0;
const TRACE = (n: number) => (0x7ff00000 | n) >>> 0;

const AUDIT = { x86_64: 0xc000003e, i386: 0x40000003, aarch64: 0xc00000b7, arm: 0x40000028 } as const;
const X32_BIT = 0x40000000;
const NR = {
  x86_64: X86_64.syscalls, aarch64: AARCH64.syscalls,
  i386: COMPAT_SYSCALL_NUMBERS.x86, x32: COMPAT_SYSCALL_NUMBERS.x32, arm: COMPAT_SYSCALL_NUMBERS.arm,
};
type Abi = keyof typeof NR;

/** Compile `spec` for a host and return a function deciding a syscall as the kernel would run the filter. */
function filter(spec: unknown, arch: NodeJS.Architecture = 'x64') {
  const compiled = compileOciSeccomp(spec as never, { arch });
  assert.equal(compiled.program.length, compiled.instructions * 8);
  assert.equal(compiled.insns.length, compiled.instructions);
  const decide = (abi: Abi, name: string | number, args: bigint[] = []) => {
    const raw = typeof name === 'number' ? name : NR[abi][name];
    assert.ok(raw !== undefined, `${name} on ${abi}`);
    const nr = abi === 'x32' ? (raw | X32_BIT) >>> 0 : raw;
    const audit = abi === 'x32' ? AUDIT.x86_64 : abi === 'i386' ? AUDIT.i386 : AUDIT[abi];
    return runFilter(compiled.insns, { nr, arch: audit, args });
  };
  return Object.assign(decide, { compiled });
}

const spec = (syscalls: unknown[], extra: Record<string, unknown> = {}) => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls, ...extra });

describe('OCI seccomp compiler', () => {
  it('should give every action its seccomp return value, with errnoRet and its EPERM default', () => {
    const decide = filter(spec([
      { names: ['read'], action: 'SCMP_ACT_KILL_PROCESS' },
      { names: ['write'], action: 'SCMP_ACT_KILL_THREAD' },
      { names: ['open'], action: 'SCMP_ACT_KILL' },
      { names: ['close'], action: 'SCMP_ACT_TRAP' },
      { names: ['stat'], action: 'SCMP_ACT_ERRNO' },
      { names: ['fstat'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 },
      { names: ['lstat'], action: 'SCMP_ACT_TRACE' },
      { names: ['poll'], action: 'SCMP_ACT_TRACE', errnoRet: 0x1234 },
      { names: ['lseek'], action: 'SCMP_ACT_LOG' },
      { names: ['mmap'], action: 'SCMP_ACT_ERRNO', errnoRet: 0 },
    ], { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38 }));
    const names = ['read', 'write', 'open', 'close', 'stat', 'fstat', 'lstat', 'poll', 'lseek', 'mmap', 'getpid'];
    assert.deepEqual(names.map((n) => decide('x86_64', n)),
      [KILL_PROCESS, KILL_THREAD, KILL_THREAD, TRAP, ERRNO(1), ERRNO(99), TRACE(1), TRACE(0x1234), LOG, ERRNO(0), ERRNO(38)]);
    assert.equal(filter({ defaultAction: 'SCMP_ACT_ERRNO' })('x86_64', 'getpid'), ERRNO(1), 'defaultErrnoRet absent: EPERM');
    assert.equal(filter({ defaultAction: 'SCMP_ACT_LOG' })('x86_64', 'getpid'), LOG);
  });

  it('should check the architecture first: native always, listed ones added, others killed (thread) as libseccomp does', () => {
    assert.equal(OCI_BAD_ARCH_ACTION, KILL_THREAD);
    const native = filter(spec([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 }]));
    assert.deepEqual(native.compiled.architectures, ['SCMP_ARCH_X86_64']);
    assert.equal(native('x86_64', 'mkdir'), ERRNO(99));
    assert.equal(native('i386', 'mkdir'), KILL_THREAD, 'i386 not listed');
    assert.equal(native('i386', 'getpid'), KILL_THREAD);
    assert.equal(native('x32', 'getpid'), KILL_THREAD, 'x32 not listed: nr >= __X32_SYSCALL_BIT');
    assert.equal(native('x86_64', 0xffffffff), ALLOW, 'nr -1 (a tracer skipping the syscall) reaches the default');
    assert.equal(native('x86_64', 0x3fffffff), ALLOW);
    assert.equal(runFilter(native.compiled.insns, { nr: 0, arch: AUDIT.aarch64 }), KILL_THREAD);

    const all = filter(spec([{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 }], {
      architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_RISCV64'],
    }));
    // Duplicates are one; ARM, AArch64 and RISC-V can never be seccomp_data.arch on x86_64: no block.
    assert.deepEqual(all.compiled.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual((['x86_64', 'i386', 'x32'] as const).map((abi) => all(abi, 'mkdir')), [ERRNO(99), ERRNO(99), ERRNO(99)]);
    assert.deepEqual((['x86_64', 'i386', 'x32'] as const).map((abi) => all(abi, 'getpid')), [ALLOW, ALLOW, ALLOW]);
    assert.equal(all('x32', 0x3fffffff), ALLOW, 'x32 listed: an x32 syscall without a rule gets the default action');
    assert.equal(all('x86_64', 0xffffffff), ALLOW);

    const arm = filter(spec([{ names: ['mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 }], { architectures: ['SCMP_ARCH_ARM', 'SCMP_ARCH_X86'] }), 'arm64');
    assert.deepEqual(arm.compiled.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.deepEqual([arm('aarch64', 'mkdirat'), arm('arm', 'mkdirat'), arm('arm', 'mkdir')], [ERRNO(99), ERRNO(99), ALLOW]);
    assert.equal(arm('x86_64', 'mkdirat'), KILL_THREAD);
  });

  it('should give x32 its own numbers (with __X32_SYSCALL_BIT) and not let them through as x86_64 ones', () => {
    const decide = filter(spec([{ names: ['rt_sigaction', 'getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 }], { architectures: ['SCMP_ARCH_X32'] }));
    assert.equal(decide('x86_64', 'rt_sigaction'), ERRNO(5));
    assert.equal(NR.x32.rt_sigaction, 512, 'x32 has its own rt_sigaction');
    assert.equal(decide('x32', 'rt_sigaction'), ERRNO(5));
    assert.equal(decide('x32', 13), ALLOW, 'x32 nr 13 (x86_64 rt_sigaction) is no x32 syscall: default');
    assert.equal(decide('x86_64', 512), ALLOW, 'x86_64 nr 512 is not x32 rt_sigaction');
    assert.equal(decide('x32', 'getpid'), ERRNO(5));
  });

  it('should refuse a big-endian architecture and a host without tables', () => {
    assert.throws(() => filter(spec([], { architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_S390X'] })), (err) =>
      err instanceof OciSeccompError && err.field === 'linux.seccomp.architectures[1]' && /big-endian/.test(err.message));
    assert.throws(() => filter(spec([]), 'riscv64'), /no syscall table for this host's architecture \(riscv64\)/);
  });

  it('should compare whole 64-bit arguments on 64-bit ABIs for every operator', () => {
    const edges = [0n, 1n, 5n, 0xffffffffn, 0x100000000n, 0x100000005n, 0x1ffffffffn, 0x500000000n, 2n ** 63n, 2n ** 64n - 1n];
    const holds: Record<string, (a: bigint, v: bigint) => boolean> = {
      SCMP_CMP_EQ: (a, v) => a === v, SCMP_CMP_NE: (a, v) => a !== v, SCMP_CMP_LT: (a, v) => a < v, SCMP_CMP_LE: (a, v) => a <= v,
      SCMP_CMP_GT: (a, v) => a > v, SCMP_CMP_GE: (a, v) => a >= v,
    };
    for (const [op, holdsFor] of Object.entries(holds)) {
      for (const value of edges) {
        for (const host of ['x64', 'arm64'] as const) {
          const decide = filter(spec([{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value, op }] }]), host);
          for (const a of edges) {
            assert.equal(decide(host === 'x64' ? 'x86_64' : 'aarch64', 'read', [0n, 0n, a]), holdsFor(a, value) ? ERRNO(1) : ALLOW, `${host}: ${a} ${op} ${value}`);
          }
        }
      }
    }
  });

  it('should read MASKED_EQ as (arg & value) == valueTwo — mask first — on both halves', () => {
    const masks = [0xfn, 0xf0000000fn, 0xffffffff00000000n, 2n ** 64n - 1n, 0n];
    const data = [0n, 5n, 0x500000000n, 0x500000005n, 0xffn];
    const args = [0n, 5n, 0x15n, 0x500000005n, 0x700000005n, 0x5n | (1n << 63n), 2n ** 64n - 1n];
    for (const mask of masks) {
      for (const datum of data) {
        const decide = filter(spec([{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: mask, valueTwo: datum, op: 'SCMP_CMP_MASKED_EQ' }] }]));
        for (const a of args) {
          // libseccomp masks the datum too: (arg & mask) == (datum & mask).
          const want = (a & mask) === (datum & mask) ? ERRNO(1) : ALLOW;
          assert.equal(decide('x86_64', 'read', [0n, a]), want, `(${a} & ${mask}) == ${datum}`);
        }
      }
    }
    // The operand order: mask in value, datum in valueTwo (LXC's profiles have it the other way round).
    const decide = filter(spec([{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xff, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' }] }]));
    assert.equal(decide('x86_64', 'personality', [0x108n]), ERRNO(1), '(0x108 & 0xff) == 8');
    assert.equal(decide('x86_64', 'personality', [0x18n]), ALLOW, '(0x18 & 0xff) != 8, though (0x18 & 8) == (0xff & 8)');
  });

  it('should compare the low word only on 32-bit ABIs, with value and mask cut to 32 bits (libseccomp ARCH_SIZE_32)', () => {
    const decide = filter(spec([
      { names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x100000005n, op: 'SCMP_CMP_EQ' }] },
      { names: ['write'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x100000005n, op: 'SCMP_CMP_GT' }] },
      { names: ['close'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xffffffff00000000n, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    ], { architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }));
    for (const abi of ['i386', 'x32'] as const) {
      assert.equal(decide(abi, 'read', [5n]), ERRNO(1), `${abi}: low word 5 == 5`);
      assert.equal(decide(abi, 'read', [0x200000005n]), ERRNO(1), `${abi}: the high word is not looked at`);
      assert.equal(decide(abi, 'read', [6n]), ALLOW);
      assert.equal(decide(abi, 'write', [6n]), ERRNO(1), `${abi}: 6 > 5 on the low word`);
      assert.equal(decide(abi, 'write', [0x100000005n]), ALLOW);
      assert.equal(decide(abi, 'close', [123n]), ERRNO(1), `${abi}: a mask with no low bits always holds`);
    }
    assert.equal(decide('x86_64', 'read', [5n]), ALLOW, 'x86_64 compares all 64 bits');
    assert.equal(decide('x86_64', 'read', [0x100000005n]), ERRNO(1));
    assert.equal(decide('x86_64', 'close', [0x100000000n]), ALLOW);
    assert.equal(decide('x86_64', 'close', [123n]), ERRNO(1));
  });

  it('should AND conditions on different arguments and OR them all when one argument repeats (runc)', () => {
    const and = filter(spec([{ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args: [
      { index: 0, value: 3, op: 'SCMP_CMP_EQ' }, { index: 1, value: 0x5412, op: 'SCMP_CMP_EQ' }] }]));
    assert.deepEqual([[3n, 0x5412n], [3n, 0n], [4n, 0x5412n]].map((a) => and('x86_64', 'ioctl', a)), [ERRNO(1), ALLOW, ALLOW]);
    // personality(0) or personality(8): two conditions on argument 0.
    const or = filter(spec([{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [
      { index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }], { defaultAction: 'SCMP_ACT_ERRNO' }));
    assert.deepEqual([0n, 8n, 4n].map((p) => or('x86_64', 'personality', [p])), [ALLOW, ALLOW, ERRNO(1)]);
    // runc makes every condition of such an entry a rule of its own, the other arguments' included.
    const mixed = filter(spec([{ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args: [
      { index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 1, value: 7, op: 'SCMP_CMP_EQ' }] }]));
    assert.deepEqual([[1n, 0n], [2n, 0n], [9n, 7n], [9n, 0n]].map((a) => mixed('x86_64', 'ioctl', a)), [ERRNO(1), ERRNO(1), ERRNO(1), ALLOW]);
  });

  it('should let an unconditional rule decide, try fewer conditions first, and drop rules with the default action (runc)', () => {
    const decide = filter(spec([
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 2, args: [{ index: 2, value: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 3, args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 1, value: 1, op: 'SCMP_CMP_EQ' }] },
      { names: ['umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 4, args: [{ index: 1, value: 1, op: 'SCMP_CMP_EQ' }] },
      { names: ['umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 1, value: 1, op: 'SCMP_CMP_EQ' }] },
    ], { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 9 }));
    assert.equal(decide('x86_64', 'mount', [0n, 0n, 0n]), ERRNO(1));
    assert.equal(decide('x86_64', 'umount2', [1n, 1n]), ERRNO(4), 'one condition before two, then profile order');
    assert.equal(decide('x86_64', 'umount2', [1n, 0n]), ERRNO(9));
    // An entry with the default's action adds nothing (libseccomp refuses it): a later rule still applies.
    const skip = filter(spec([
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
      { names: ['mkdir'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0o700, op: 'SCMP_CMP_EQ' }] },
    ], { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1 }));
    assert.equal(skip('x86_64', 'mkdir', [0n, 0o700n]), ALLOW);
    assert.equal(skip('x86_64', 'mkdir', [0n, 0o755n]), ERRNO(1));
    const kill = filter(spec([{ names: ['mkdir'], action: 'SCMP_ACT_KILL_THREAD' }, { names: ['mkdir'], action: 'SCMP_ACT_TRAP' }], { defaultAction: 'SCMP_ACT_KILL' }));
    assert.equal(kill('x86_64', 'mkdir'), TRAP, 'SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD: the first entry is the default');
  });

  it('should resolve names per architecture and skip the ones no architecture knows', () => {
    const decide = filter(spec([
      { names: ['socketcall', 'arch_prctl', 'no_such_syscall', 'mmap2', 'breakpoint'], action: 'SCMP_ACT_ERRNO', errnoRet: 7 },
    ], { architectures: ['SCMP_ARCH_X86'] }));
    assert.deepEqual(decide.compiled.skipped, ['no_such_syscall', 'breakpoint'], 'breakpoint is ARM only: not in this filter');
    assert.equal(decide('i386', 'socketcall'), ERRNO(7));
    assert.equal(decide('i386', 'mmap2'), ERRNO(7));
    assert.equal(decide('x86_64', 'arch_prctl'), ERRNO(7));
    assert.equal(decide('i386', 'arch_prctl'), ERRNO(7));
    assert.equal(NR.x86_64.arch_prctl, 158);
    assert.equal(decide('x86_64', 102), ALLOW, 'x86_64 nr 102 (getuid) is not socketcall');
    const arm = filter(spec([{ names: ['breakpoint', 'cacheflush', 'set_tls'], action: 'SCMP_ACT_ERRNO', errnoRet: 7 }], { architectures: ['SCMP_ARCH_ARM'] }), 'arm64');
    assert.deepEqual(arm.compiled.skipped, []);
    assert.deepEqual(['breakpoint', 'cacheflush', 'set_tls'].map((n) => arm('arm', n)), [ERRNO(7), ERRNO(7), ERRNO(7)]);
    assert.equal(NR.arm.cacheflush, 0x0f0002);
  });

  it('should also apply socket and SysV IPC rules to socketcall(2) and ipc(2) on i386, as libseccomp does', () => {
    const decide = filter(spec([
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 40, op: 'SCMP_CMP_EQ' }, { index: 2, value: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['send', 'shmget', 'semop'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
    ], { architectures: ['SCMP_ARCH_X86'] }));
    assert.equal(decide('i386', 'socket', [40n, 1n, 0n]), ERRNO(97), 'the direct socket(2)');
    assert.equal(decide('i386', 'socket', [2n, 1n, 0n]), ALLOW);
    // socketcall(SYS_SOCKET = 1, args): argument 0 is the call; libseccomp keeps the rule's other conditions.
    assert.equal(decide('i386', 'socketcall', [1n, 0x1000n, 0n]), ERRNO(97));
    assert.equal(decide('i386', 'socketcall', [1n, 0x1000n, 3n]), ALLOW);
    assert.equal(decide('i386', 'socketcall', [2n, 0x1000n, 0n]), ALLOW, 'SYS_BIND');
    assert.equal(decide('i386', 'socketcall', [9n]), ERRNO(13), 'SYS_SEND: send has no syscall of its own on i386');
    assert.equal(decide('i386', 'shmget'), ERRNO(13));
    assert.equal(decide('i386', 'ipc', [23n]), ERRNO(13), 'SHMGET');
    assert.equal(decide('i386', 'ipc', [1n]), ERRNO(13), 'SEMOP: only through ipc(2) on i386');
    assert.equal(decide('i386', 'ipc', [2n]), ALLOW);
    assert.equal(decide('x86_64', 'socket', [40n, 0n, 0n]), ERRNO(97));
    assert.equal(decide('x86_64', 'shmget'), ERRNO(13));
  });

  it('should return the flags as seccomp(2) takes them', () => {
    assert.equal(filter(spec([])).compiled.flags, 0);
    assert.equal(filter(spec([], { flags: ['SECCOMP_FILTER_FLAG_TSYNC'] })).compiled.flags, 1);
    assert.equal(filter(spec([], { flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_LOG'] })).compiled.flags, 6);
  });

  it("should fit a Docker-like default profile for x86_64+x86+x32 and for aarch64+arm in BPF_MAXINSNS", () => {
    const docker = dockerLike();
    for (const [host, architectures, abis] of [
      ['x64', ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], ['x86_64', 'i386', 'x32']],
      ['arm64', ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'], ['aarch64', 'arm']],
    ] as const) {
      const decide = filter({ ...docker, architectures }, host);
      const { instructions } = decide.compiled;
      assert.ok(instructions < BPF_MAXINSNS, `${host}: ${instructions} instructions`);
      assert.ok(instructions > 256, 'long enough to need far jumps');
      for (const abi of abis) {
        for (const name of docker.syscalls[0]!.names) {
          if (NR[abi][name] !== undefined) assert.equal(decide(abi, name, [0n, 0n]), ALLOW, `${abi} ${name}`);
        }
        for (const name of ['mount', 'kexec_load', 'ptrace', 'unshare', 'setns']) {
          if (NR[abi][name] !== undefined) assert.equal(decide(abi, name), ERRNO(1), `${abi} ${name}`);
        }
        assert.equal(decide(abi, 'personality', [8n]), ALLOW);
        assert.equal(decide(abi, 'personality', [0xffffffffn]), ALLOW);
        assert.equal(decide(abi, 'personality', [1n]), ERRNO(1));
        assert.equal(decide(abi, 'clone', [0x11n]), ALLOW, `${abi}: clone without namespace flags`);
        assert.equal(decide(abi, 'clone', [0x10000000n]), ERRNO(1), `${abi}: clone(CLONE_NEWUSER)`);
        assert.equal(decide(abi, 'clone3'), ERRNO(38));
        assert.equal(decide(abi, 'socket', [2n]), ALLOW);
        assert.equal(decide(abi, 'socket', [40n]), ERRNO(1), `${abi}: AF_VSOCK`);
      }
    }
  });

  it("should refuse a filter beyond the kernel's 4096 instructions", () => {
    const ops = ['SCMP_CMP_LT', 'SCMP_CMP_GT', 'SCMP_CMP_NE', 'SCMP_CMP_LE', 'SCMP_CMP_GE', 'SCMP_CMP_EQ'];
    // Distinct values: identical decisions would share their code.
    const syscalls = Object.keys(X86_64.syscalls).map((name, i) => ({
      names: [name], action: 'SCMP_ACT_ERRNO', args: ops.map((op, index) => ({ index, value: 0x100000001n * BigInt(i + index + 1), op })),
    }));
    assert.throws(() => filter(spec(syscalls)), (err) => err instanceof OciSeccompError
      && /^linux\.seccomp: compiles to \d+ BPF instructions, more than the kernel's limit of 4096 \(BPF_MAXINSNS\)$/.test(err.message));
  });
});
