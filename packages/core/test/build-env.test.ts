import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError, CONTAINER_MODEL, containerEnvironment, createPipeline, ErrorCodes, lxcModel } from '../src/index.js';
import { collect, config, stage } from './helpers.js';

describe('build-env', () => {
  it("should read lxc.environment with LXC's rules: NAME=VALUE, bare NAME from the caller, empty clears", () => {
    const env = containerEnvironment(config({ 'lxc.environment': ['DROPPED=1', '', 'A=1', 'B=x=y', 'HOME', 'A=2'] }), { HOME: '/root' });
    assert.deepEqual(env, [['A', '1'], ['B', 'x=y'], ['HOME', '/root'], ['A', '2']]);
  });

  it("should refuse a bare NAME the caller does not have, and an entry without a name, as LXC refuses the config", () => {
    assert.throws(() => containerEnvironment(config({ 'lxc.environment': ['NOT_SET_ANYWHERE'] }), {}), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.BAD_REQUEST);
      assert.equal(err.message, "build-env: lxc.environment = NOT_SET_ANYWHERE copies NOT_SET_ANYWHERE from the caller's environment, where it is not set");
      return true;
    });
    assert.throws(() => containerEnvironment(config({ 'lxc.environment': ['=v'] }), {}), /lxc\.environment = =v has no variable name/);
  });

  it("should build lxc-attach's order: kept vars, container=lxc, lxc.environment, then -v over all", async () => {
    const p = createPipeline().add(stage('test-config', (ctx) => ctx.set(CONTAINER_MODEL, lxcModel(config({
      'lxc.environment': ['AK_FROM_CONFIG=config', 'AK_BOTH=config', 'container=config-says', 'AK_KEPT=config'],
    }))), { after: ['resolve-target'], before: ['build-env'] }));
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
