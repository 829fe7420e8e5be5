import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTAINER_MODEL, createPipeline } from '../src/index.js';
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
});
