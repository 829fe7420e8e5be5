import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ensureContainer, initPid, rootfs, stopContainer, targetArgs, type ContainerSpec } from '../lxc/containers.js';
import { attachkit, both, lxcAttach, oneErrorLine, same, type RunOptions } from '../lxc/differential.js';

/**
 * Namespaces and identity (issue 4), the same attach through lxc-attach 5
 * and attachkit on real LXC containers, privileged and unprivileged: what
 * the attached process sees must be the same. This file owns its
 * containers (made once, stopped at the end), so that another suite
 * stopping its own never disturbs these.
 */

const CONTAINERS: readonly ContainerSpec[] = [{ name: 'attachkit-id-priv' }, { name: 'attachkit-id-unpriv', unpriv: true }];
/** A user whose shell is not root's, to see where the default shell comes from. */
const TESTER = 'tester:x:1000:1000:tester:/tmp:/bin/ash';
const OWNED = '/tmp/attachkit-owned';

/** The interfaces in a /proc/<pid>/net/dev. */
const interfaces = (netDev: string) => netDev.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();

describe('namespaces and identity: attachkit and lxc-attach 5 see the same (real LXC)', () => {
  let nowhere: string;
  before(() => {
    for (const c of CONTAINERS) {
      ensureContainer(c);
      const passwd = `${rootfs(c)}/etc/passwd`;
      if (!readFileSync(passwd, 'utf8').includes(`\n${TESTER}\n`)) appendFileSync(passwd, `${TESTER}\n`);
    }
    // A directory of the host that does not exist inside.
    nowhere = mkdtempSync('/tmp/attachkit-nowhere-');
  });
  after(() => {
    for (const c of CONTAINERS) stopContainer(c);
    rmSync(nowhere, { recursive: true, force: true });
  });

  for (const c of CONTAINERS) {
    describe(`${c.unpriv ? 'unprivileged' : 'privileged'} container ${c.name}`, () => {
      const attach = (options: readonly string[], command: readonly string[], run?: RunOptions) =>
        both([...targetArgs(c), ...options, '--', ...command], run);
      const hostRoot = c.unpriv ? 100000 : 0;

      it("should join the init's namespace of every type and show its hostname", async () => {
        const out = same(await attach([], ['sh', '-c', 'hostname; for ns in /proc/self/ns/*; do echo "${ns##*/} $(readlink $ns)"; done']));
        const init = initPid(c);
        const [hostname, ...links] = out.trim().split('\n');
        assert.equal(hostname, c.name);
        const types = readdirSync(`/proc/${init}/ns`).sort();
        assert.ok(['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'].every((t) => types.includes(t)), types.join(' '));
        assert.deepEqual(links, types.map((t) => `${t} ${readlinkSync(`/proc/${init}/ns/${t}`)}`));
      });

      it("should run as the container's root, with its id maps", async () => {
        const out = same(await attach([], ['sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map']));
        const map = c.unpriv ? '0 100000 65536' : '0 0 4294967295';
        assert.deepEqual(out.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' ')), ['uid=0(root) gid=0(root)', map, map]);
      });

      it('should switch to -u 1000 -g 1000 with no supplementary groups', async () => {
        const out = same(await attach(['-u', '1000', '-g', '1000'], ['sh', '-c', 'id; grep -E "^(Uid|Gid|Groups):" /proc/self/status']));
        assert.match(out, /^uid=1000\(tester\) gid=1000\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t *\n$/);
      });

      it('should create files the host sees owned by the mapped ids, as root and as -u 1000 -g 1000', async () => {
        for (const [ids, host] of [[[], hostRoot], [['-u', '1000', '-g', '1000'], hostRoot + 1000]] as const) {
          const owners = [];
          for (const tool of [lxcAttach, attachkit]) {
            rmSync(`${rootfs(c)}${OWNED}`, { force: true });
            const r = await tool([...targetArgs(c), ...ids, '--', 'touch', OWNED]);
            assert.equal(r.code, 0, r.stderr);
            const st = statSync(`${rootfs(c)}${OWNED}`);
            owners.push([st.uid, st.gid]);
          }
          assert.deepEqual(owners, [[host, host], [host, host]], ids.join(' '));
        }
      });

      it("should run the user's shell from the container's passwd when no command is given", async () => {
        for (const [ids, shell] of [[[], '/bin/sh'], [['-u', '1000'], '/bin/ash']] as const) {
          const r = await both([...targetArgs(c), ...ids], { input: 'echo $0\n' });
          assert.equal(same(r, ids.join(' ')), `${shell}\n`);
        }
      });

      it("should keep the caller's working directory when it exists inside, else use /", async () => {
        assert.equal(same(await attach([], ['pwd'], { cwd: '/tmp' })), '/tmp\n');
        assert.equal(same(await attach([], ['pwd'], { cwd: nowhere })), '/\n');
      });

      it('should join only the uts namespace with -s UTSNAME: the host\'s files, the container\'s hostname', async () => {
        const out = same(await attach(['-s', 'UTSNAME'], ['sh', '-c', `hostname; readlink /proc/self/ns/uts /proc/self/ns/mnt; test -d ${rootfs(c)} && echo host-files`]));
        assert.deepEqual(out.trim().split('\n'), [c.name, readlinkSync(`/proc/${initPid(c)}/ns/uts`), readlinkSync('/proc/self/ns/mnt'), 'host-files']);
      });

      it("should join the uts and pid namespaces with -s 'UTSNAME|PID', not the mount namespace", async () => {
        const out = same(await attach(['-s', 'UTSNAME|PID'], ['sh', '-c', 'hostname; readlink /proc/self/ns/pid /proc/self/ns/mnt']));
        assert.deepEqual(out.trim().split('\n'), [c.name, readlinkSync(`/proc/${initPid(c)}/ns/pid`), readlinkSync('/proc/self/ns/mnt')]);
      });

      it(c.unpriv ? 'should join the user namespace alone with -s USER' : 'should join nothing with -s USER, the user namespace it shares with the host (lxc-attach: EINVAL)', async () => {
        const r = await attach(['-s', 'USER'], ['sh', '-c', 'id -u; readlink /proc/self/ns/user /proc/self/ns/mnt']);
        const expected = `0\n${readlinkSync(`/proc/${initPid(c)}/ns/user`)}\n${readlinkSync('/proc/self/ns/mnt')}\n`;
        if (c.unpriv) {
          assert.equal(same(r), expected);
          return;
        }
        // A documented difference (README, "Where attachkit differs from lxc-attach"): lxc-attach passes
        // CLONE_NEWUSER to setns(2) for its own user namespace, which the kernel refuses.
        assert.equal(r.lxc.code, 1);
        assert.match(r.lxc.stderr, /Invalid argument - Failed to attach to namespaces via pidfd/);
        assert.deepEqual(r.attachkit, { code: 0, stdout: expected, stderr: '' });
      });

      it("should show the container's network in /proc and /sys with -s NETWORK -R (the host's /sys without -R)", async () => {
        const command = ['sh', '-c', 'cat /proc/net/dev; echo --; ls /sys/class/net'];
        const own = interfaces(readFileSync(`/proc/${initPid(c)}/net/dev`, 'utf8'));
        const [netDev, sys] = same(await attach(['-s', 'NETWORK', '-R'], command)).split('--\n');
        assert.deepEqual([interfaces(netDev!), sys!.trim().split('\n').sort()], [own, own]);
        const [, hostSys] = same(await attach(['-s', 'NETWORK'], command)).split('--\n');
        assert.deepEqual(hostSys!.trim().split('\n').sort(), readdirSync('/sys/class/net').sort());
      });

      it(c.unpriv ? 'should refuse -u 4000000000, which the container does not map: non-zero, one line' : 'should run as -u 4000000000, a host uid', async () => {
        const r = await attach(['-u', '4000000000'], ['id', '-u']);
        if (!c.unpriv) {
          assert.equal(same(r), '4000000000\n');
          return;
        }
        assert.equal(r.lxc.code, 1);
        assert.equal(r.attachkit.code, 1);
        assert.match(oneErrorLine(r.attachkit), /^attachkit: set-identity: uid 4000000000 is not mapped in the user namespace of container attachkit-id-unpriv .*\(uid_map: 0 100000 65536\)$/);
      });
    });
  }

  it("should refuse -s '' and an unknown namespace name: non-zero, one line", async () => {
    const [c] = CONTAINERS;
    for (const [value, message] of [['', /-s\/--namespaces needs at least one namespace name/], ['BOGUS', /join-namespaces: unknown namespace 'BOGUS'/]] as const) {
      const r = await both([...targetArgs(c!), '-s', value, '--', 'true']);
      assert.equal(r.lxc.code, 1, value);
      assert.equal(r.attachkit.code, 1, value);
      assert.match(oneErrorLine(r.attachkit), message);
    }
  });
});
