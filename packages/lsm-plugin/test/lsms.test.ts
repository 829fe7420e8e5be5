import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { activeLsm, apparmor, defaultLsmOptions, readLabel, selinux, type LsmOptions } from '../src/index.js';

const roots: string[] = [];
after(() => { for (const root of roots) rmSync(root, { recursive: true, force: true }); });

/** A fake host: proc/, security/ (securityfs) and sys/ under a temporary directory, with these files. */
function host(files: Record<string, string>): LsmOptions {
  const root = mkdtempSync(join(tmpdir(), 'attachkit-lsm-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  for (const dir of ['proc', 'security', 'sys']) mkdirSync(join(root, dir), { recursive: true });
  return { procRoot: join(root, 'proc'), securityfsRoot: join(root, 'security'), sysfsRoot: join(root, 'sys') };
}

describe('LSM detection and labels', () => {
  it('should find no AppArmor or SELinux on this host', () => {
    assert.equal(activeLsm(defaultLsmOptions), undefined);
  });

  it("should read the active LSMs from securityfs's lsm list, AppArmor first as LXC", () => {
    assert.equal(activeLsm(host({ 'security/lsm': 'lockdown,capability,landlock,bpf' })), undefined);
    assert.equal(activeLsm(host({ 'security/lsm': 'lockdown,capability,selinux,bpf' })), 'selinux');
    assert.equal(activeLsm(host({ 'security/lsm': 'capability,selinux,apparmor' })), 'apparmor');
  });

  it('should fall back to the apparmor module parameter and a mounted selinuxfs without securityfs', () => {
    assert.equal(activeLsm(host({ 'sys/module/apparmor/parameters/enabled': 'Y\n' })), 'apparmor');
    assert.equal(activeLsm(host({ 'sys/module/apparmor/parameters/enabled': 'N\n' })), undefined);
    assert.equal(activeLsm(host({ 'security/apparmor/profiles': '' })), 'apparmor');
    assert.equal(activeLsm(host({ 'sys/fs/selinux/enforce': '1' })), 'selinux');
  });

  it("should read AppArmor's label up to the mode, from attr/apparmor/ when the kernel has it", () => {
    const split = host({ 'proc/42/attr/apparmor/current': 'lxc-c1_</var/lib/lxc> (enforce)\n', 'proc/42/attr/current': 'stale\n' });
    const kind = apparmor(split.procRoot, 42);
    assert.equal(kind.current, 'apparmor/current');
    assert.equal(readLabel(split.procRoot, 42, kind), 'lxc-c1_</var/lib/lxc>');
    assert.equal(kind.payload('lxc-c1'), 'changeprofile lxc-c1');
    const legacy = host({ 'proc/42/attr/current': 'unconfined\n' });
    assert.equal(apparmor(legacy.procRoot, 42).target, 'current');
    assert.equal(readLabel(legacy.procRoot, 42, apparmor(legacy.procRoot, 42)), 'unconfined');
  });

  it("should read SELinux's context without its NUL, and write it to attr/exec", () => {
    const h = host({ 'proc/42/attr/current': 'system_u:system_r:container_t:s0:c1,c2\0' });
    assert.equal(readLabel(h.procRoot, 42, selinux()), 'system_u:system_r:container_t:s0:c1,c2');
    assert.equal(selinux().target, 'exec');
    assert.equal(readLabel(h.procRoot, 43, selinux()), undefined, 'no such process: no label');
    assert.equal(readLabel(host({ 'proc/42/attr/current': '' }).procRoot, 42, selinux()), undefined, 'empty: no label');
  });
});
