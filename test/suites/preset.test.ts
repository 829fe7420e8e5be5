import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import '@attachkit/lxc-plugin'; // its target kind: { name }
import { createDefaultPipeline, defaultPlugins } from '@attachkit/preset';
import { runCli } from '../helpers/cli.js';
import { collect } from '../helpers/process.js';
import { ensureContainer, type ContainerSpec } from '../lxc/containers.js';

/**
 * @attachkit/preset is the CLI's full isolation without the CLI: a program
 * that attaches with it confines the command exactly as `attachkit` does.
 */
const RESTRICTED: ContainerSpec = {
  name: 'attachkit-preset',
  conf: ['lxc.include = /usr/share/lxc/config/common.conf', 'lxc.no_new_privs = 1'],
};
const PROBE = ['sh', '-c', "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; cat /proc/self/cgroup"];

describe('@attachkit/preset', () => {
  before(() => ensureContainer(RESTRICTED));
  after(() => new Promise<void>((resolve) => { execFile('lxc-stop', ['-n', RESTRICTED.name, '-k'], () => resolve()); }));

  it('should hold every plugin of the CLI', () => {
    assert.deepEqual(defaultPlugins().map((p) => p.name), [
      '@attachkit/lxc-plugin', '@attachkit/oci-plugin', '@attachkit/ns-plugin', '@attachkit/cgroup-plugin', '@attachkit/lsm-plugin',
      '@attachkit/caps-plugin', '@attachkit/seccomp-plugin', '@attachkit/pty-plugin', '@attachkit/host-plugin',
    ]);
  });

  it('should confine as the CLI does: the same capability sets, no_new_privs, seccomp and cgroups', async () => {
    const lib = await collect(await createDefaultPipeline().spawn({ target: { name: RESTRICTED.name }, command: PROBE, stdio: ['ignore', 'pipe', 'pipe'] }));
    const cli = await runCli(['-n', RESTRICTED.name, '--', ...PROBE]);
    assert.equal(lib.exitCode, 0, lib.stderr);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(lib.stdout, cli.stdout);
    assert.match(lib.stdout, /^NoNewPrivs:\t1$/m);
    assert.match(lib.stdout, /^Seccomp:\t2$/m);
  });
});
