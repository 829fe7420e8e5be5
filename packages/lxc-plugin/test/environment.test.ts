import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttachError, ErrorCodes } from '@attachkit/core';
import { containerEnvironment } from '../src/index.js';
import { config } from './helpers.js';

describe('lxc.environment', () => {
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
});
