import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError, CONTAINER_MODEL, createPipeline, ErrorCodes, SyscallError, type AttachRequest, type ContainerModel } from '../src/index.js';
import { collect, stage } from './helpers.js';

describe('build-env', () => {
  it("should build lxc-attach's order: kept vars, the container's environment, then -v over all", async () => {
    const environment = () => [['container', 'lxc'], ['AK_FROM_CONFIG', 'config'], ['AK_BOTH', 'config'], ['container', 'config-says'], ['AK_KEPT', 'config']] as const;
    const p = createPipeline().add(stage('test-model', (ctx) => ctx.set(CONTAINER_MODEL, { runtime: 'test', environment }),
      { after: ['resolve-target'], before: ['build-env'] }));
    process.env.AK_KEPT = 'caller';
    let out;
    try {
      out = await collect(await p.spawn({
        target: { pid: process.pid }, command: ['env'], stdio: ['ignore', 'pipe', 'pipe'],
        env: { policy: 'clear', keep: ['AK_KEPT'], set: { AK_BOTH: 'flag' } },
      }));
    } finally {
      delete process.env.AK_KEPT;
    }
    assert.equal(out.exitCode, 0);
    // LXC sets PATH after restoring the kept variables (only if none was kept).
    assert.deepEqual(out.stdout.trim().split('\n'), ['AK_KEPT=config', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'container=config-says', 'AK_FROM_CONFIG=config', 'AK_BOTH=flag']);
  });

  describe('with a model whose environment replaces the caller\'s (an OCI process spec)', () => {
    const replacing = (environment: ContainerModel['environment']): ContainerModel => ({ runtime: 'test', environment, environmentReplaces: true });
    async function env(model: ContainerModel, request: Partial<AttachRequest> = {}): Promise<string[]> {
      const p = createPipeline().add(stage('test-model', (ctx) => ctx.set(CONTAINER_MODEL, model), { after: ['resolve-target'], before: ['build-env'] }));
      process.env.AK_CALLER = 'caller';
      try {
        const out = await collect(await p.spawn({ target: { pid: process.pid }, command: ['/usr/bin/env'], stdio: ['ignore', 'pipe', 'pipe'], ...request }));
        assert.equal(out.exitCode, 0, out.stderr);
        return out.stdout.split('\n').filter(Boolean);
      } finally {
        delete process.env.AK_CALLER;
      }
    }

    it("should give exactly the model's entries, then -v over them: no caller's variable, no container=lxc", async () => {
      const model = replacing(() => [['PATH', '/bin'], ['FOO', 'bar']]);
      assert.deepEqual(await env(model), ['PATH=/bin', 'FOO=bar']);
      assert.deepEqual(await env(model, { env: { policy: 'keep', set: { FOO: 'flag', NEW: '1' } } }), ['PATH=/bin', 'FOO=flag', 'NEW=1']);
      assert.deepEqual(await env(replacing(() => [])), []);
    });

    it('should take --keep-var names from the caller with --clear-env, under the model\'s entries, and add no LXC PATH', async () => {
      assert.deepEqual(await env(replacing(() => [['FOO', 'bar']]), { env: { policy: 'clear', keep: ['AK_CALLER', 'AK_UNSET'] } }), ['AK_CALLER=caller', 'FOO=bar']);
      assert.deepEqual(await env(replacing(() => [['AK_CALLER', 'model']]), { env: { policy: 'clear', keep: ['AK_CALLER'] } }), ['AK_CALLER=model']);
    });

    it('should keep the caller\'s environment when the model says it replaces it but has no environment member', async () => {
      const out = await env({ runtime: 'test', environmentReplaces: true });
      assert.ok(out.includes('AK_CALLER=caller') && out.includes('container=lxc'), out.join(' '));
    });
  });

  it("should turn a model's failure to say its environment into one AttachError naming build-env", async () => {
    const spawn = (environment: () => never) => createPipeline()
      .add(stage('test-model', (ctx) => ctx.set(CONTAINER_MODEL, { runtime: 'test', environment }), { after: ['resolve-target'], before: ['build-env'] }))
      .spawn({ target: { pid: process.pid }, command: ['true'], stdio: ['ignore', 'pipe', 'pipe'] });
    await assert.rejects(spawn(() => { throw new Error('process.env[0] is not NAME=VALUE: "X"'); }),
      (err: unknown) => err instanceof AttachError && err.code === ErrorCodes.BAD_REQUEST && err.stage === 'build-env'
        && err.message === 'build-env: process.env[0] is not NAME=VALUE: "X"');
    const failure = Object.assign(new Error('no such file'), { operation: 'reading /srv/b/config.json', cause: new SyscallError('openat2', 2) });
    await assert.rejects(spawn(() => { throw failure; }),
      (err: unknown) => err instanceof AttachError && err.stage === 'build-env' && /^build-env: reading \/srv\/b\/config.json failed: ENOENT/.test(err.message));
  });
});
