import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import { runCli } from '../helpers/cli.js';
import { collect } from '../helpers/process.js';
import { startSandbox, USERNS_BASE, type Sandbox } from '../sandbox/index.js';

const ns = (pid: number | 'self', kind: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);

describe('namespaces and identity (real namespaces)', () => {
  let box: Sandbox;
  let unpriv: Sandbox;
  before(async () => { [box, unpriv] = await Promise.all([startSandbox(), startSandbox({ userns: true, hostname: 'attachkit-unpriv' })]); });
  after(async () => { await Promise.all([box.stop(), unpriv.stop()]); });

  it('should run as -u/-g inside, with no supplementary groups', async () => {
    const r = await runCli(['--pid', String(box.pid), '-u', '1000', '-g', '1000', '--', 'sh', '-c', 'id -u; id -g; id -G']);
    assert.equal(r.stdout, '1000\n1000\n1000\n', r.stderr);
  });

  it("should look a user name up in the target's own /etc/passwd", async () => {
    const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':');
    const r = await runCli(['--pid', String(box.pid), '-u', 'nobody', '--', 'sh', '-c', 'id -u; id -g']);
    assert.equal(r.stdout, `${nobody[2]}\n${nobody[3]}\n`, r.stderr);
    const bad = await runCli(['--pid', String(box.pid), '-u', 'no-such-user', '--', 'true']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, "attachkit: set-identity: no user 'no-such-user' in the target's /etc/passwd\n");
  });

  it('should add --groups', async () => {
    const r = await runCli(['--pid', String(box.pid), '-u', '1000', '-g', '1000', '--groups', '20,30', '--', 'id', '-G']);
    assert.equal(r.stdout, '1000 20 30\n', r.stderr);
  });

  it("should run the user's shell from the target's passwd when no command is given", async () => {
    const shell = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('root:'))!.split(':')[6];
    const proc = await defaultPipeline().spawn({ target: { pid: box.pid }, stdio: ['pipe', 'pipe', 'pipe'] });
    proc.stdin!.end('echo "$0"\n');
    assert.equal((await collect(proc)).stdout, `${shell}\n`);
  });

  it('should join only the -s namespaces, and imply -e', async () => {
    const r = await runCli(['--pid', String(box.pid), '-s', 'UTSNAME', '--', 'sh', '-c', 'hostname; readlink /proc/self/ns/mnt /proc/self/ns/uts']);
    assert.equal(r.stdout, `${box.hostname}\n${ns('self', 'mnt')}\n${ns(box.pid, 'uts')}\n`, r.stderr);
    const two = await runCli(['--pid', String(box.pid), '-s', 'UTSNAME|PID', '--', 'sh', '-c', 'readlink /proc/self/ns/pid_for_children /proc/self/ns/net']);
    assert.equal(two.stdout, `${ns(box.pid, 'pid')}\n${ns('self', 'net')}\n`, two.stderr);
    const stages = await runCli(['stages', '-s', 'UTSNAME']);
    assert.match(stages.stdout, /enter-cgroup\s+off .*-s implies -e/);
  });

  it('should refuse an unknown or empty -s', async () => {
    const bad = await runCli(['--pid', String(box.pid), '-s', 'BOGUS', '--', 'true']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^attachkit: join-namespaces: unknown namespace 'BOGUS' \(known: USER, MOUNT, PID, UTSNAME, IPC, NETWORK, CGROUP, TIME\)\n$/);
    const empty = await runCli(['--pid', String(box.pid), '-s', '', '--', 'true']);
    assert.notEqual(empty.code, 0);
    assert.equal(empty.stderr.split('\n').length, 2);
  });

  it("should remount /proc and /sys for the joined namespaces with -R (-s NETWORK -R)", async () => {
    const r = await runCli(['--pid', String(box.pid), '-s', 'NETWORK', '-R', '--', 'sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ls /sys/class/net"]);
    assert.equal(r.stdout, 'lo\nlo\n', r.stderr);
    assert.equal(ns('self', 'mnt') !== '', true);
  });

  it('should keep the working directory when it exists inside, and refuse a --cwd through a magic link', async () => {
    assert.equal((await runCli(['--pid', String(box.pid), '--', 'pwd'], { cwd: '/tmp' })).stdout, '/tmp\n');
    const r = await runCli(['--pid', String(box.pid), '--cwd', '/proc/self/cwd', '--', 'pwd']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^attachkit: exec: openat2\("\/proc\/self\/cwd", RESOLVE_IN_ROOT\|RESOLVE_NO_MAGICLINKS\) of the working directory failed: ELOOP/);
  });

  describe('an unprivileged (user-namespaced) target', () => {
    it('should join its user namespace and run as root inside, as the mapped host id outside', async () => {
      const r = await runCli(['--pid', String(unpriv.pid), '--', 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map; hostname; readlink /proc/self/ns/user']);
      assert.equal(r.code, 0, r.stderr);
      const [uid, gid, map, hostname, user] = r.stdout.trim().split('\n');
      assert.deepEqual([uid, gid, map!.trim().split(/\s+/).join(' '), hostname, user], ['0', '0', `0 ${USERNS_BASE} 65536`, 'attachkit-unpriv', ns(unpriv.pid, 'user')]);
    });

    it('should create files owned by the mapped host ids', async () => {
      const file = `/tmp/attachkit-owner-${process.pid}`;
      const r = await runCli(['--pid', String(unpriv.pid), '-u', '1000', '-g', '1000', '--', 'sh', '-c', `touch ${file}`]);
      assert.equal(r.code, 0, r.stderr);
      const st = statSync(file);
      unlinkSync(file);
      assert.deepEqual([st.uid, st.gid], [USERNS_BASE + 1000, USERNS_BASE + 1000]);
    });

    it('should refuse an id that is not mapped, with one clear line', async () => {
      const r = await runCli(['--pid', String(unpriv.pid), '-u', '4000000000', '--', 'true']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `attachkit: set-identity: uid 4000000000 is not mapped in the user namespace of pid ${unpriv.pid} (uid_map: 0 ${USERNS_BASE} 65536)\n`);
    });
  });
});
