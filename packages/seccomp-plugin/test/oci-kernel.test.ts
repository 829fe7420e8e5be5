import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { COMPAT_SYSCALL_NUMBERS, compileOciSeccomp, nativeArch } from '../src/index.js';
import { dockerLike } from './oci-profiles.js';

/**
 * Real kernel: compiled filters loaded by a small static program
 * (fixtures/oci-seccomp-run.c) that then makes the syscalls it is given and
 * prints what each returned. i386 and x32 calls are made from the same
 * x86_64 process (int $0x80, and the syscall instruction with
 * __X32_SYSCALL_BIT): seccomp sees them with their own arch and numbers.
 */

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/oci-seccomp-run.c', import.meta.url));
const arch = nativeArch()!;
const x64 = process.arch === 'x64';
const EFAULT = 14;
const ENOSYS = 38;
const AT_FDCWD = -100;

const nr = (table: Readonly<Record<string, number>>, name: string) => {
  const n = table[name];
  assert.ok(n !== undefined, name);
  return n;
};
/** A native call: `name,arg,...`. */
const call = (name: string, ...args: (number | bigint)[]) => [nr(arch.syscalls, name), ...args].join(',');
const i386 = (name: string, ...args: (number | bigint)[]) => `i386:${[nr(COMPAT_SYSCALL_NUMBERS.x86, name), ...args].join(',')}`;
const x32 = (name: string, ...args: (number | bigint)[]) => `x32:${[nr(COMPAT_SYSCALL_NUMBERS.x32, name), ...args].join(',')}`;
const thread = (name: string) => `thread:${nr(arch.syscalls, name)}`;

/** What the runner needs once the filter is loaded, for profiles that deny by default. */
const RUNNER = { names: ['write', 'exit_group', 'exit', 'rt_sigreturn'], action: 'SCMP_ACT_ALLOW' };

describe('OCI seccomp filters on the real kernel', () => {
  let dir: string;
  let runner: string;
  let count = 0;
  /** Load the compiled spec and make the calls: the lines printed, and how the runner ended. */
  const run = (spec: unknown, calls: string[]) => {
    const { program, flags } = compileOciSeccomp(spec as never);
    const file = join(dir, `filter-${count++}.bpf`);
    writeFileSync(file, program);
    const r = spawnSync(runner, [file, String(flags), ...calls], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    return { lines: r.stdout.split('\n').filter(Boolean), signal: r.signal, status: r.status };
  };
  const deny = (syscalls: unknown[], extra: Record<string, unknown> = {}) =>
    ({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 77, syscalls: [RUNNER, ...syscalls], ...extra });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'attachkit-oci-seccomp-'));
    runner = join(dir, 'oci-seccomp-run');
    execFileSync('cc', ['-static', '-O2', '-pthread', '-o', runner, FIXTURE]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("should deny with the rule's errnoRet and the default's defaultErrnoRet", () => {
    const r = run(deny([
      { names: ['mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 },
      { names: ['getppid'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mknodat'], action: 'SCMP_ACT_ERRNO' },
    ]), [call('mkdirat', AT_FDCWD, 0, 0o755), call('getpid'), call('getppid'), call('mknodat', AT_FDCWD, 0, 0)]);
    assert.deepEqual(r.lines, ['loaded 0', '-1 99', '-1 77', `${process.pid} 0`, '-1 1']);
    assert.equal(r.status, 0);
  });

  it('should allow personality(0xffffffff) but not personality(8) with conditions on argument 0 (EQ, OR)', () => {
    const r = run(deny([{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [
      { index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] }]),
    [call('personality', 0xffffffff), call('personality', 8), call('personality', 0)]);
    assert.deepEqual(r.lines, ['loaded 0', '0 0', '-1 77', '0 0']);
  });

  it('should read MASKED_EQ as (arg & value) == valueTwo', () => {
    // (arg & 0xff) == 8: 0x108 matches; 0x18 does not (it would with the operands swapped: (0x18 & 8) == (0xff & 8)).
    const r = run(deny([
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 99, args: [{ index: 0, value: 0xff, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffff00, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
    ]), [call('personality', 0x108), call('personality', 0x18), call('personality', 0xffffffff), call('personality', 0x1000)]);
    // personality(0x18) was allowed and set the persona, which the query then returns; 0x1000 matches neither rule.
    assert.deepEqual(r.lines, ['loaded 0', '-1 99', '0 0', `${0x18} 0`, '-1 77']);
  });

  it('should compare the high word of a 64-bit argument', () => {
    const rules = [
      { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 99, args: [{ index: 0, value: 5, op: 'SCMP_CMP_EQ' }] },
      { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 98, args: [{ index: 1, value: 0xffffffff, op: 'SCMP_CMP_GT' }] },
    ];
    const calls = [call('getppid', 5), call('getppid', 0x100000005n), call('getppid', 0, 0xffffffff), call('getppid', 0, 0x100000000n), call('getppid', 0, 2n ** 64n - 1n)];
    const ppid = `${process.pid} 0`;
    const r = run({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: rules }, calls);
    assert.deepEqual(r.lines, ['loaded 0', '-1 99', ppid, ppid, '-1 98', '-1 98']);
    // With an unconditional rule for the syscall too, that rule decides (libseccomp: it supersedes the others).
    const u = run(deny([...rules, { names: ['getppid'], action: 'SCMP_ACT_ALLOW' }]), calls);
    assert.deepEqual(u.lines, ['loaded 0', ...Array(5).fill(ppid)]);
  });

  it('should kill the thread or the process, and trap, as the actions say', () => {
    const allow = (syscalls: unknown[]) => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls });
    const ppid = `${process.pid} 0`;
    for (const action of ['SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL']) {
      const r = run(allow([{ names: ['getpid'], action }]), [thread('getpid'), call('getppid')]);
      assert.deepEqual([r.lines, r.status], [['loaded 0', 'thread-killed', ppid], 0], action);
    }
    const proc = run(allow([{ names: ['getpid'], action: 'SCMP_ACT_KILL_PROCESS' }]), [thread('getpid'), call('getppid')]);
    assert.deepEqual([proc.lines, proc.signal], [['loaded 0'], 'SIGSYS']);
    const byDefault = run({ defaultAction: 'SCMP_ACT_KILL_PROCESS', syscalls: [RUNNER] }, [call('getppid')]);
    assert.deepEqual([byDefault.lines, byDefault.signal], [['loaded 0'], 'SIGSYS']);
    const trap = run(allow([{ names: ['getpid'], action: 'SCMP_ACT_TRAP' }]), [call('getpid'), call('getppid')]);
    assert.equal(trap.lines[1], `trap ${nr(arch.syscalls, 'getpid')} 0x${arch.auditArch.toString(16)} 0`);
    assert.equal(trap.lines[3], ppid);
  });

  it('should load with the flags it returns', () => {
    const r = run({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 }] }, [call('getppid')]);
    assert.deepEqual(r.lines, ['loaded 0', '-1 5']);
  });

  it('should kill an i386 or x32 syscall when the profile does not list that ABI', { skip: !x64 && 'x86_64 only' }, () => {
    const spec = deny([{ names: ['getppid'], action: 'SCMP_ACT_ALLOW' }]);
    const viaI386 = run(spec, [call('getppid'), i386('getppid'), call('getppid')]);
    assert.deepEqual([viaI386.lines, viaI386.signal], [['loaded 0', `${process.pid} 0`], 'SIGSYS']);
    const viaX32 = run(spec, [call('getppid'), x32('getppid'), call('getppid')]);
    assert.deepEqual([viaX32.lines, viaX32.signal], [['loaded 0', `${process.pid} 0`], 'SIGSYS']);
  });

  it('should apply the rules to i386 and x32 syscalls with their own numbers when listed', { skip: !x64 && 'x86_64 only' }, () => {
    const spec = deny([
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 },
      { names: ['getpid', 'getppid'], action: 'SCMP_ACT_ALLOW' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
    ], { architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] });
    const r = run(spec, [
      i386('mkdir', 0, 0o755), i386('getppid'), i386('personality', 0xffffffff), i386('personality', 8), i386('umask', 0),
      x32('mkdir', 0, 0o755), x32('getpid'), x32('umask', 0), call('mkdir', 0, 0o755),
    ]);
    assert.deepEqual(r.lines, [
      'loaded 0',
      '-1 99', `${process.pid} 0`, '0 0', '-1 77', '-1 77',
      // x32: the filter decides before the kernel looks at nr; this kernel has no x32 ABI, so an allowed x32 syscall is ENOSYS.
      '-1 99', `-1 ${ENOSYS}`, '-1 77',
      '-1 99',
    ]);
  });

  it('should also apply socket and IPC rules to i386 socketcall(2) and ipc(2)', { skip: !x64 && 'x86_64 only' }, () => {
    const spec = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], syscalls: [
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97 },
      { names: ['semop'], action: 'SCMP_ACT_ERRNO', errnoRet: 96 },
    ] };
    // Denied calls never reach the kernel's copy of the arguments: a null pointer shows which did (EFAULT).
    const r = run(spec, [i386('socket', 2, 1, 0), i386('socketcall', 1, 0), i386('socketcall', 2, 0), i386('ipc', 1, 0, 0, 0, 0), call('socket', 2, 1, 0)]);
    assert.deepEqual(r.lines, ['loaded 0', '-1 97', '-1 97', `-1 ${EFAULT}`, '-1 96', '-1 97']);
  });

  it('should load a Docker-like default profile for x86_64, x86 and x32 and enforce it', { skip: !x64 && 'x86_64 only' }, () => {
    const r = run({ ...dockerLike(), architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }, [
      call('getppid'), call('mount', 0, 0, 0, 0, 0), call('unshare', 0x10000000), call('personality', 0xffffffff), call('personality', 1),
      call('clone3', 0, 0), i386('getppid'), i386('mount', 0, 0, 0, 0, 0), x32('mount', 0, 0, 0, 0, 0),
    ]);
    assert.deepEqual(r.lines, ['loaded 0', `${process.pid} 0`, '-1 1', '-1 1', '0 0', '-1 1', `-1 ${ENOSYS}`, `${process.pid} 0`, '-1 1', '-1 1']);
  });
});
