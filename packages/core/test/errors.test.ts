import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError, createPipeline, ErrorCodes, imm, isAttachError } from '../src/index.js';
import { children, openFdCount, stage } from './helpers.js';

describe('errors of the API', () => {
  it('should name the stage that passed an fd that is not open, as an AttachError, and leave nothing behind', async () => {
    const pipeline = createPipeline().add(stage('bad-fd', (ctx) => {
      const fd = ctx.program.passFd(9999);
      ctx.program.syscall('namespaces', 'fcntl', [imm(fd), imm(1), imm(0)], { operation: 'fcntl(9999)' });
    }, { after: ['resolve-target'], before: ['exec'] }));
    // Warm: the executor's sealed image is made once per process and kept.
    await createPipeline().attach({ target: { pid: process.pid }, command: ['true'], stdio: ['ignore', 'ignore', 'ignore'] });
    const [fds, kids] = [openFdCount(), children().length];
    await assert.rejects(pipeline.spawn({ target: { pid: process.pid }, command: ['true'], stdio: ['ignore', 'ignore', 'ignore'] }), (err: unknown) => {
      assert.ok(isAttachError(err));
      assert.equal((err as AttachError).code, ErrorCodes.BAD_REQUEST);
      assert.equal((err as AttachError).stage, 'bad-fd');
      assert.equal((err as AttachError).message, 'bad-fd: fd 9999, passed to the executor (passFd), is not open: EBADF (Bad file descriptor)');
      return true;
    });
    assert.deepEqual([openFdCount(), children().length], [fds, kids]);
  });

  it('should tell an AttachError by isAttachError, also one made by another copy of the package', () => {
    assert.ok(isAttachError(new AttachError(ErrorCodes.TARGET, 'x')));
    const foreign = Object.assign(new Error('y'), { name: 'AttachError', code: 'AK_TARGET' });
    assert.ok(isAttachError(foreign));
    assert.ok(!isAttachError(new Error('z')));
    assert.ok(!isAttachError(Object.assign(new Error('w'), { name: 'AttachError', code: 'NOPE' })));
    assert.ok(!isAttachError(null));
  });
});
