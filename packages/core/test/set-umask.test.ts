import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError, CONTAINER_MODEL, createPipeline, ErrorCodes, type AttachRequest } from '../src/index.js';
import { collect, stage } from './helpers.js';

const request = (): AttachRequest => ({ target: { pid: process.pid }, command: ['sh', '-c', 'umask'], stdio: ['ignore', 'pipe', 'pipe'] });
const withUmask = (umask: () => number | undefined) => createPipeline()
  .add(stage('test-model', (ctx) => ctx.set(CONTAINER_MODEL, { runtime: 'test', umask }), { after: ['resolve-target'], before: ['set-umask'] }));
const octal = (mask: number) => `0${mask.toString(8).padStart(3, '0')}\n`;

describe('set-umask', () => {
  it("should give the command the container's umask", async () => {
    const r = await collect(await withUmask(() => 0o027).spawn(request()));
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '0027\n');
  });

  it("should leave the caller's without a model, or when the model sets none", async () => {
    const mine = process.umask();
    assert.equal((await collect(await createPipeline().spawn(request()))).stdout, octal(mine));
    assert.equal((await collect(await withUmask(() => undefined).spawn(request()))).stdout, octal(mine));
  });

  it('should refuse a bad umask, and report a model that cannot read its configuration, before anything runs', async () => {
    await assert.rejects(withUmask(() => 0o1000).spawn(request()), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.BAD_REQUEST);
      assert.equal(err.message, 'set-umask: umask 01000 is not a mode from 0000 to 0777 (from test)');
      return true;
    });
    const enoent = Object.assign(new Error('ENOENT: no such file or directory'), { errno: -2, code: 'ENOENT', syscall: 'open' });
    await assert.rejects(withUmask(() => {
      throw Object.assign(new Error('reading /b/config.json'), { operation: 'read of /b/config.json (process.user.umask)', cause: enoent });
    }).spawn(request()), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.STAGE_FAILED);
      assert.equal(err.message, 'set-umask: read of /b/config.json (process.user.umask) failed: ENOENT (No such file or directory)');
      return true;
    });
  });
});
