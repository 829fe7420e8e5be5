import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytes, cstring, imm, PHASES, PreExecProgram, resultOf, scratch, scratchAt, syscallNumber } from '../src/index.js';

const OP_SIZE = 112;

describe('PreExecProgram', () => {
  it('should lay ops out in phase order, with the core ops, whatever the emission order', () => {
    const program = new PreExecProgram();
    const late = program.emitter('late');
    const early = program.emitter('early');
    late.syscall('ids', 'setresuid', [imm(0), imm(0), imm(0)], { operation: 'setresuid(0)' });
    early.syscall('namespaces', 'setns', [imm(4), imm(0)], { operation: 'setns' });
    late.exec({ file: 'true', argv: ['true'], env: [] });
    const { ops, bytes } = program.serialize();
    const phases = ops.map((o) => o.phase);
    assert.deepEqual([...phases].sort((a, b) => PHASES.indexOf(a) - PHASES.indexOf(b)), phases);
    assert.deepEqual(ops.map((o) => `${o.stage}:${o.syscall}`), [
      'executor:read', 'executor:prctl', 'executor:prctl', 'executor:keyctl', 'early:setns', 'executor:clone',
      'executor:setsid', 'executor:fcntl', 'executor:fcntl', 'executor:fcntl', 'late:setresuid',
      'executor:close_range', 'late:execve',
    ]);
    assert.equal(bytes.readUInt32LE(0), 0x31584b41);
    assert.equal(bytes.readUInt32LE(4), ops.length);
    const setns = ops.findIndex((o) => o.syscall === 'setns');
    assert.equal(Number(bytes.readBigInt64LE(16 + setns * OP_SIZE + 8)), syscallNumber('setns'));
  });

  it('should emit a fork into a cgroup2 directory in the cgroups phase, flagged, with the passed fd', () => {
    const program = new PreExecProgram();
    const e = program.emitter('cg');
    e.forkIntoCgroup(42, 'clone3(CLONE_INTO_CGROUP) into /cg');
    e.exec({ file: 'x', argv: ['x'], env: [] });
    const { ops, bytes, fds } = program.serialize();
    const i = ops.findIndex((o) => o.stage === 'cg');
    assert.deepEqual(ops.map((o) => o.phase).slice(i - 1, i + 2), ['harden', 'cgroups', 'fork']);
    const at = 16 + i * OP_SIZE;
    assert.equal(bytes.readUInt32LE(at), 3); // FORK
    assert.equal(bytes.readUInt32LE(at + 4), 2); // F_INTO_CGROUP
    assert.deepEqual(fds, [42]);
    assert.equal(Number(bytes.readBigInt64LE(at + 16 + 8)), 3); // its executor fd, the first passed
  });

  it('should place string data in the blob and point at it', () => {
    const program = new PreExecProgram();
    const e = program.emitter('s');
    e.syscall('cwd', 'chdir', [cstring('/tmp')], { operation: 'chdir' });
    e.exec({ file: 'x', argv: ['x'], env: [] });
    const { ops, bytes } = program.serialize();
    const i = ops.findIndex((o) => o.syscall === 'chdir');
    const at = 16 + i * OP_SIZE + 16;
    assert.equal(bytes.readUInt32LE(at), 1); // ARG_DATA
    const dataStart = 16 + ops.length * OP_SIZE;
    const off = Number(bytes.readBigInt64LE(at + 8));
    assert.equal(bytes.toString('utf8', dataStart + off, dataStart + off + 5), '/tmp\0');
  });

  it('should point every use of a scratch block at the same bytes, and copy bytes() per use', () => {
    const program = new PreExecProgram();
    const e = program.emitter('s');
    const block = scratch(24);
    const copied = bytes(Buffer.from('abc'));
    e.syscall('capabilities', 'capget', [copied, scratchAt(block)], { operation: 'capget' });
    e.syscall('capabilities', 'read', [imm(4), scratchAt(block, 8), imm(4)], { operation: 'read' });
    e.syscall('capabilities', 'capset', [copied, scratchAt(block)], { operation: 'capset' });
    e.exec({ file: 'x', argv: ['x'], env: [] });
    const { ops, bytes: wire } = program.serialize();
    const arg = (syscall: string, k: number) => {
      const at = 16 + ops.findIndex((o) => o.stage === 's' && o.syscall === syscall) * OP_SIZE + 16 + k * 16;
      assert.equal(wire.readUInt32LE(at), 1); // ARG_DATA: the executor needs no new kind
      return Number(wire.readBigInt64LE(at + 8));
    };
    assert.equal(arg('capget', 1), arg('capset', 1));
    assert.equal(arg('read', 1), arg('capget', 1) + 8);
    assert.notEqual(arg('capget', 0), arg('capset', 0));
    const dataStart = 16 + ops.length * OP_SIZE;
    assert.ok(wire.subarray(dataStart + arg('capget', 1), dataStart + arg('capget', 1) + 24).every((b) => b === 0), 'a block starts zeroed');
    assert.throws(() => scratchAt(block, 24), /outside a block of 24 bytes/);
  });

  it('should record a pointer inside data as a relocation the executor patches', () => {
    const program = new PreExecProgram();
    const e = program.emitter('s');
    const target = Buffer.from('filter!!');
    e.syscall('seccomp', 'seccomp', [imm(1), imm(0), bytes(Buffer.alloc(16), [{ at: 8, to: target }])], { operation: 'seccomp' });
    e.exec({ file: 'x', argv: ['x'], env: [] });
    const { ops, bytes: wire } = program.serialize();
    assert.equal(wire.readUInt32LE(12), 1);
    const relocs = 16 + ops.length * OP_SIZE;
    const dataStart = relocs + 16;
    const i = ops.findIndex((o) => o.syscall === 'seccomp');
    const structAt = Number(wire.readBigInt64LE(16 + i * OP_SIZE + 16 + 2 * 16 + 8));
    assert.equal(Number(wire.readBigUInt64LE(relocs)), structAt + 8);
    const to = Number(wire.readBigUInt64LE(relocs + 8));
    assert.equal(wire.toString('utf8', dataStart + to, dataStart + to + 8), 'filter!!');
    assert.throws(() => bytes(Buffer.alloc(8), [{ at: 4, to: target }]), /does not fit/);
  });

  it('should refuse ops in the phases the core fills', () => {
    const e = new PreExecProgram().emitter('s');
    assert.throws(() => e.syscall('fork', 'getpid', [], { operation: 'x' }), /cannot emit getpid into phase 'fork'/);
  });

  it('should refuse a result reference to an op that runs later', () => {
    const program = new PreExecProgram();
    const e = program.emitter('s');
    const later = e.syscall('ids', 'getpid', [], { operation: 'getpid()' });
    e.syscall('remount', 'kill', [resultOf(later), imm(0)], { operation: 'kill' });
    e.exec({ file: 'x', argv: ['x'], env: [] });
    assert.throws(() => program.serialize(), /uses the result of 'getpid\(\)', which does not run before it/);
  });

  it('should refuse a second exec and a program without one', () => {
    const program = new PreExecProgram();
    assert.throws(() => program.serialize(), /no stage set the command/);
    program.emitter('a').exec({ file: 'x', argv: ['x'], env: [] });
    assert.throws(() => program.emitter('b').exec({ file: 'y', argv: ['y'], env: [] }), /already set by stage 'a'/);
  });

  it('should pass each parent fd once and number them from 3', () => {
    const program = new PreExecProgram();
    assert.equal(program.passFd(17), 3);
    assert.equal(program.passFd(9), 4);
    assert.equal(program.passFd(17), 3);
  });

  it('should place kept fds at 3, 4, … after every stage op, lifting them first, and sweep from above them', () => {
    const program = new PreExecProgram();
    const e = program.emitter('s');
    e.passFd(40); // an executor fd (3) that the first kept fd's placement overwrites
    assert.deepEqual([e.keepFd(41), e.keepFd(42)], [3, 4]);
    e.syscall('ids', 'setresuid', [imm(0), imm(0), imm(0)], { operation: 'setresuid(0)' });
    e.exec({ file: 'x', argv: ['x'], env: [] });
    const { ops, bytes: wire, fds } = program.serialize();
    assert.deepEqual(fds, [40, 41, 42]);
    const tail = ops.slice(ops.findIndex((o) => o.syscall === 'setresuid'));
    assert.deepEqual(tail.map((o) => o.operation), [
      'setresuid(0)',
      'fcntl(fd 41 kept, F_DUPFD_CLOEXEC, 5)', 'fcntl(fd 42 kept, F_DUPFD_CLOEXEC, 5)',
      'dup3(fd 41 kept, 3)', 'dup3(fd 42 kept, 4)',
      'close_range(5, ~0)', 'execvp("x") searching the default PATH (no PATH in the command\'s environment)',
    ]);
    const imm0 = (syscall: string, nth: number) =>
      Number(wire.readBigInt64LE(16 + ops.findIndex((o, i) => o.syscall === syscall && ops.slice(0, i).filter((p) => p.syscall === syscall).length === nth) * OP_SIZE + 16 + 8));
    assert.deepEqual([imm0('fcntl', 3), imm0('fcntl', 4)], [4, 5], 'lifted from the executor fds of 41 and 42');
  });

  it('should arm PR_SET_PDEATHSIG in the attached process and disarm it before exec, with a lifeline check after each', () => {
    const program = new PreExecProgram();
    program.setLifeline(30);
    program.emitter('s').exec({ file: 'x', argv: ['x'], env: [] });
    const { ops, fds } = program.serialize();
    assert.deepEqual(fds, [30]);
    const watched = ops.filter((o) => /PDEATHSIG|lifeline/.test(o.operation)).map((o) => `${o.phase}: ${o.operation}`);
    assert.deepEqual(watched, [
      'fork: prctl(PR_SET_PDEATHSIG, SIGKILL)', 'fork: write(lifeline) after the fork: attachkit is still there',
      'close-fds: write(lifeline) before exec: attachkit is still there', 'close-fds: prctl(PR_SET_PDEATHSIG, 0)',
    ]);
    assert.equal(ops.findIndex((o) => o.syscall === 'clone') + 1, ops.findIndex((o) => o.operation.includes('SIGKILL')), 'right after the fork');
  });
});
