import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { capsPlugin } from '@attachkit/caps-plugin';
import { cgroupPlugin } from '@attachkit/cgroup-plugin';
import { createPipeline, type AttachError, type AttachRequest } from '@attachkit/core';
import { lsmPlugin, type LsmOptions } from '@attachkit/lsm-plugin';
import { nsPlugin } from '@attachkit/ns-plugin';
import { runCli } from '../helpers/cli.js';
import { configStage } from '../helpers/config.js';
import { fakeAttrFiles } from '../helpers/fake-attr.js';
import { collect } from '../helpers/process.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

/**
 * AppArmor and SELinux are not active here, so these attaches run against a
 * fake host tree (procfs, securityfs) the test controls: the target's label
 * is read from it, and the attached process writes its own attr file in it,
 * through the fd the parent opened there once that process existed — the
 * bytes it wrote are then read back.
 */
describe('apply-lsm (a sandbox; AppArmor and SELinux faked by a procfs/securityfs tree)', () => {
  let sandbox: Sandbox;
  let root: string;
  before(async () => {
    sandbox = await startSandbox();
    root = mkdtempSync(join(tmpdir(), 'attachkit-lsm-'));
  });
  after(async () => {
    await sandbox.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** A fresh fake host with these files; `attached/` reads the attached process's own files. */
  const host = (name: string, files: Record<string, string>): LsmOptions & { read(path: string): string; stage: ReturnType<typeof fakeAttrFiles> } => {
    const base = join(root, name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(base, path)), { recursive: true });
      writeFileSync(join(base, path), text);
    }
    for (const dir of ['proc', 'security', 'sys']) mkdirSync(join(base, dir), { recursive: true });
    const stage = fakeAttrFiles(join(base, 'proc'));
    return {
      procRoot: join(base, 'proc'), securityfsRoot: join(base, 'security'), sysfsRoot: join(base, 'sys'), stage,
      read: (path) => readFileSync(join(base, path.replace(/^attached\/(.*)$/, (_, file: string) => `proc/${stage.attr(file)}`)), 'utf8'),
    };
  };
  const pipeline = (options: Partial<LsmOptions> & { stage?: ReturnType<typeof fakeAttrFiles> }) => {
    const p = createPipeline({ plugins: [nsPlugin(), cgroupPlugin(), lsmPlugin(options), capsPlugin()] });
    return options.stage ? p.add(options.stage) : p;
  };
  const request = (extra: Partial<AttachRequest> = {}): AttachRequest =>
    ({ target: { pid: sandbox.pid }, command: ['true'], stdio: ['ignore', 'pipe', 'pipe'], ...extra });

  it('should step aside on this host, where neither is active, and say so in attachkit stages', async () => {
    const stages = await runCli(['stages']);
    assert.match(stages.stdout, /apply-lsm\s+off .*\(neither AppArmor nor SELinux is active on this host\)/);
    const r = await runCli(['--pid', String(sandbox.pid), '--', 'true']);
    assert.deepEqual([r.code, r.stderr], [0, '']);
  });

  it("should change to the init's AppArmor profile through attr/apparmor/current, even with the path shadowed inside (CVE-2015-1334)", async () => {
    const fake = host('apparmor', {
      'security/lsm': 'lockdown,capability,apparmor',
      [`proc/${sandbox.pid}/attr/apparmor/current`]: 'lxc-sandbox_</var/lib/lxc> (enforce)\n',
    });
    // Inside the sandbox's mount namespace the fake tree is hidden under an
    // empty tmpfs: a write that looked the path up there would fail or land
    // in the tmpfs. (The sandbox's mounts are private: the host keeps its view.)
    const shadow = spawnSync('nsenter', ['-t', String(sandbox.pid), '-m', '--', 'mount', '-t', 'tmpfs', 'shadow', join(root, 'apparmor')], { encoding: 'utf8' });
    assert.equal(shadow.status, 0, shadow.stderr);
    const out = await collect(await pipeline(fake).spawn(request()));
    assert.equal(out.exitCode, 0, out.stderr);
    assert.equal(fake.read('attached/apparmor/current'), 'changeprofile lxc-sandbox_</var/lib/lxc>');
  });

  it('should use the legacy attr/current on kernels without attr/apparmor/', async () => {
    const fake = host('apparmor-legacy', {
      'sys/module/apparmor/parameters/enabled': 'Y\n',
      [`proc/${sandbox.pid}/attr/current`]: 'unconfined\n',
    });
    assert.equal((await collect(await pipeline(fake).spawn(request()))).exitCode, 0);
    assert.equal(fake.read('attached/current'), 'changeprofile unconfined');
  });

  it("should write the init's SELinux context to attr/exec, or the one -c names", async () => {
    const files = {
      'security/lsm': 'capability,selinux',
      [`proc/${sandbox.pid}/attr/current`]: 'system_u:system_r:container_t:s0:c1,c2\0',
    };
    const fake = host('selinux', files);
    assert.equal((await collect(await pipeline(fake).spawn(request()))).exitCode, 0);
    assert.equal(fake.read('attached/exec'), 'system_u:system_r:container_t:s0:c1,c2');
    const chosen = host('selinux-c', files);
    assert.equal((await collect(await pipeline(chosen).spawn(request({ selinuxContext: 'system_u:system_r:spc_t:s0' })))).exitCode, 0);
    assert.equal(chosen.read('attached/exec'), 'system_u:system_r:spc_t:s0');
  });

  it("should fall back to the container's configured label when the init shows none", async () => {
    const fake = host('selinux-config', { 'sys/fs/selinux/enforce': '1', [`proc/${sandbox.pid}/attr/current`]: '' });
    const p = pipeline(fake).add(configStage({ 'lxc.selinux.context': ['system_u:system_r:lxc_t:s0'] }));
    assert.equal((await collect(await p.spawn(request()))).exitCode, 0);
    assert.equal(fake.read('attached/exec'), 'system_u:system_r:lxc_t:s0');
  });

  it('should write nothing with -e LSM, and refuse -c with -s or where no LSM is active', async () => {
    const fake = host('elevated', { 'security/lsm': 'selinux', [`proc/${sandbox.pid}/attr/current`]: 'x_t\0' });
    const p = pipeline(fake);
    assert.equal((await collect(await p.spawn(request({ elevated: ['LSM'] })))).exitCode, 0);
    assert.equal(fake.read('attached/exec'), '');
    assert.match(p.describe(request({ elevated: ['LSM'] })).find((s) => s.id === 'apply-lsm')!.reason, /^-e LSM/);
    await assert.rejects(p.spawn(request({ namespaces: ['PID'], selinuxContext: 'y_t' })), /apply-lsm: -c\/--context cannot be combined with -e LSM or -s/);
    const r = await runCli(['--pid', String(sandbox.pid), '-c', 'y_t', '--', 'true']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "attachkit: apply-lsm: -c/--context asks for the label 'y_t', but neither AppArmor nor SELinux is active on this host\n");
  });

  it("should reach the kernel's own attr file from inside the sandbox, beneath the host's procfs", async () => {
    // SELinux faked active, the real /proc: the parent opens the attached
    // process's own attr file on the host's procfs, the process writes it from
    // inside the sandbox's namespaces, and the write reaches the kernel, which
    // refuses it only because no LSM takes it here.
    const fake = host('real-proc', { 'security/lsm': 'selinux' });
    await assert.rejects(pipeline({ ...fake, procRoot: '/proc', stage: undefined }).spawn(request({ selinuxContext: 'y_t' })), (err: AttachError) => {
      assert.match(err.message, /^apply-lsm: write\("y_t"\) to \/proc\/<attached pid>\/attr\/exec failed: EINVAL \(Invalid argument\)$/);
      return true;
    });
  });
});
