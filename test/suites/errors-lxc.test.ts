import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPipeline, ErrorCodes, isAttachError, type AttachError, type AttachRequest } from '@attachkit/core';
import { lxcPlugin } from '@attachkit/lxc-plugin';
import { nsPlugin } from '@attachkit/ns-plugin';
import { DEFAULT_LXCPATH, ensureContainer, type ContainerSpec } from '../lxc/containers.js';

/**
 * An LXC target that cannot be attached: each error's code, errno, syscall
 * and operation agree with what its message says (a stopped container's
 * refused connect; a missing config's ENOENT, not the connect's errno).
 */

const STOPPED: ContainerSpec = { name: 'attachkit-errors-stopped', stopped: true };

async function refused(request: Omit<AttachRequest, 'command'>): Promise<AttachError> {
  try {
    await createPipeline({ plugins: [lxcPlugin(), nsPlugin()] }).attach({ ...request, command: ['true'], stdio: ['ignore', 'ignore', 'ignore'] });
  } catch (err) {
    assert.ok(isAttachError(err), String(err));
    return err;
  }
  assert.fail('the attach was not refused');
}

describe('LXC target errors: code, errno and message agree (real LXC)', () => {
  let scratch: string;
  before(() => {
    ensureContainer(STOPPED);
    scratch = mkdtempSync(join(tmpdir(), 'attachkit-errors-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("should give a stopped container's error the refused connect's errno, syscall and socket", async () => {
    const err = await refused({ target: { name: STOPPED.name } });
    const socket = `@${DEFAULT_LXCPATH}/${STOPPED.name}/command`;
    assert.equal(err.code, ErrorCodes.TARGET);
    assert.equal(err.message, `resolve-target: container '${STOPPED.name}' is not running (no monitor at ${socket}: ECONNREFUSED (Connection refused))`);
    assert.deepEqual([err.stage, err.syscall, err.errnoName, err.operation], ['resolve-target', 'connect', 'ECONNREFUSED', `connect to the monitor at ${socket}`]);
  });

  it("should give an undefined container's error the missing config's ENOENT, not the connect's errno", async () => {
    const err = await refused({ target: { name: 'attachkit-errors-no-such' } });
    const config = `${DEFAULT_LXCPATH}/attachkit-errors-no-such/config`;
    assert.equal(err.code, ErrorCodes.TARGET);
    assert.equal(err.message, `resolve-target: container 'attachkit-errors-no-such' is not defined in ${DEFAULT_LXCPATH} (no ${config})`);
    assert.deepEqual([err.syscall, err.errnoName, err.operation], ['stat', 'ENOENT', `stat ${config}`]);
  });

  it('should not call a config it cannot stat missing: its own errno, before the monitor is asked', async () => {
    const lxcpath = join(scratch, 'lxc');
    mkdirSync(join(lxcpath, 'loop'), { recursive: true });
    symlinkSync('config', join(lxcpath, 'loop', 'config')); // a link to itself: ELOOP
    const err = await refused({ target: { name: 'loop', lxcpath } });
    assert.equal(err.code, ErrorCodes.TARGET);
    assert.equal(err.message, `resolve-target: cannot read the config of container 'loop': stat ${lxcpath}/loop/config failed: ELOOP (Too many levels of symbolic links)`);
    assert.deepEqual([err.syscall, err.errnoName], ['stat', 'ELOOP']);
  });
});
