import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreExecProgram } from '@attachkit/core';

/** The core's execFd as this plugin uses it: the wire layout the executor reads (native/executor.c). */
const OP_SIZE = 112;
const OP_EXEC = 5;
const OP_CLOSE_FDS = 4;
const F_EXEC_FD = 8;

describe('ProgramEmitter.execFd', () => {
  it('should exec the fd with execveat: placed above the kept fds, close-on-exec, spared by the sweep, argv rewritten', () => {
    const program = new PreExecProgram();
    const host = program.emitter('exec-host');
    host.keepFd(40);
    host.execFd(41, { operation: 'the sealed copy of /x', argv: (argv) => ['loader', '--', ...argv] });
    program.emitter('exec').exec({ file: 'x', argv: ['x', 'a'], env: ['A=1'] });
    const { ops, bytes, fds } = program.serialize();
    assert.deepEqual(fds, [40, 41]);
    const op = (i: number) => ({ code: bytes.readUInt32LE(16 + i * OP_SIZE), flags: bytes.readUInt32LE(20 + i * OP_SIZE), arg: (k: number) => Number(bytes.readBigInt64LE(16 + i * OP_SIZE + 16 + k * 16 + 8)) });
    const last = ops.length - 1;
    assert.deepEqual([ops[last]!.stage, ops[last]!.syscall, ops[last]!.operation], ['exec-host', 'execveat', 'execveat(the sealed copy of /x, AT_EMPTY_PATH)']);
    assert.equal(op(last).code, OP_EXEC);
    assert.equal(op(last).flags & F_EXEC_FD, F_EXEC_FD);
    assert.equal(op(last).arg(5), 4, 'fd 3 is the kept fd, 4 the executable');
    assert.equal(op(last).arg(2), 4, 'argv: loader -- x a');
    const sweep = ops.findIndex((o) => o.syscall === 'close_range');
    assert.equal(op(sweep).code, OP_CLOSE_FDS);
    assert.equal(op(sweep).arg(0), 5, 'the sweep starts above the executable');
    assert.ok(ops.some((o) => o.operation === 'dup3(the sealed copy of /x, 4, O_CLOEXEC)'));
  });

  it('should take one executable only', () => {
    const e = new PreExecProgram().emitter('a');
    e.execFd(3, { operation: 'one' });
    assert.throws(() => e.execFd(4, { operation: 'two' }), /the executable was already given by stage 'a'/);
  });
});
