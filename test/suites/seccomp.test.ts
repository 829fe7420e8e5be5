import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPipeline } from '@attachkit/core';
import { cgroupPlugin } from '@attachkit/cgroup-plugin';
import { nsPlugin } from '@attachkit/ns-plugin';
import { seccompPlugin } from '@attachkit/seccomp-plugin';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { collect, nsLink } from '../helpers/process.js';

describe('seccomp plugin in a full pipeline, into the sandbox container', () => {
  let sandbox: Sandbox;
  let dir: string;
  before(async () => {
    sandbox = await startSandbox();
    dir = mkdtempSync(join(tmpdir(), 'attachkit-seccomp-suite-'));
  });
  after(async () => {
    await sandbox.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should load the profile in the sandbox's namespaces, after the joins, and deny with its errno", async () => {
    // The profile is read on the host while planning: the path need not exist inside.
    const seccompProfile = join(dir, 'sandbox.seccomp');
    writeFileSync(seccompProfile, '2\ndenylist\nreject_force_umount\n[all]\nuname errno 38\n');
    const pipeline = createPipeline({ plugins: [nsPlugin(), cgroupPlugin(), seccompPlugin()] });
    const ids = pipeline.order().map((s) => s.id);
    assert.ok(ids.indexOf('join-namespaces') < ids.indexOf('load-seccomp') && ids.indexOf('load-seccomp') < ids.indexOf('exec'), ids.join(' '));
    const script = 'grep ^Seccomp: /proc/self/status; readlink /proc/self/ns/uts; uname -n; echo "uname: $?"';
    const r = await collect(await pipeline.spawn({
      target: { pid: sandbox.pid }, command: ['sh', '-c', script], stdio: ['ignore', 'pipe', 'pipe'], extensions: { seccompProfile },
    }));
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, `Seccomp:\t2\n${nsLink(sandbox.pid, 'uts')}\nuname: 1\n`);
    assert.match(r.stderr, /Function not implemented/);
  });
});
