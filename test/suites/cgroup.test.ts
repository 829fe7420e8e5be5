import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupPlugin, parseMountinfo } from '@attachkit/cgroup-plugin';
import { defaultPipeline } from '@attachkit/cli';
import { AttachError, CONTAINER_MODEL, createPipeline } from '@attachkit/core';
import { nsPlugin } from '@attachkit/ns-plugin';
import { CLI, runCli } from '../helpers/cli.js';
import { collect, openFdCount, zombies } from '../helpers/process.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

const cgroupOf = (pid: number | 'self') => readFileSync(`/proc/${pid}/cgroup`, 'utf8');
const piped = ['ignore', 'pipe', 'pipe'] as const;

describe('enter-cgroup (real cgroups, every hierarchy of this host)', () => {
  let sandbox: Sandbox;
  before(async () => { sandbox = await startSandbox(); });
  after(async () => { await sandbox.stop(); });

  it("should put the command in the sandbox's cgroups: / in every hierarchy, seen from inside", async () => {
    const r = await runCli(['--pid', String(sandbox.pid), '--', 'cat', '/proc/self/cgroup']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, sandbox.cgroupDirs.length);
    for (const line of lines) assert.match(line, /:\/$/, line);
  });

  it('should have a child forked at once born in the same cgroups as the init, on every hierarchy', async () => {
    const r = await runCli(['--pid', String(sandbox.pid), '--', 'sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo started']);
    assert.equal(r.code, 0, r.stderr);
    const pidNs = readlinkSync(`/proc/${sandbox.pid}/ns/pid`);
    const sleeper = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).find((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/pid`) === pidNs && readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u000030\u0000';
      } catch {
        return false;
      }
    });
    assert.ok(sleeper, 'the background sleep is running in the sandbox');
    try {
      assert.equal(cgroupOf(sleeper), cgroupOf(sandbox.pid));
    } finally {
      process.kill(sleeper, 'SIGKILL');
    }
  });

  // Kernels before 5.7 have no CLONE_INTO_CGROUP: the parent moves the
  // intermediate into the cgroup2 hierarchy at the sync point instead.
  it('should put the command and what it forks in the same cgroups when the parent makes the cgroup2 move', async () => {
    const pipeline = createPipeline({ plugins: [nsPlugin(), cgroupPlugin({ cloneIntoCgroup: false })] });
    const r = await collect(await pipeline.spawn({ target: { pid: sandbox.pid }, command: ['sh', '-c', 'cat /proc/self/cgroup; cat /proc/$$/cgroup'], stdio: [...piped] }));
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2 * sandbox.cgroupDirs.length);
    for (const line of lines) assert.match(line, /:\/$/, line);
  });

  it("should leave the command in the caller's cgroups with -e CGROUP", async () => {
    const proc = await defaultPipeline().spawn({ target: { pid: sandbox.pid }, command: ['sleep', '5'], elevated: ['CGROUP'], stdio: [...piped] });
    try {
      assert.equal(cgroupOf(proc.pid), cgroupOf('self'));
    } finally {
      proc.kill('SIGKILL');
      await proc.exited;
    }
    const r = await runCli(['stages', '-e', 'CGROUP']);
    assert.match(r.stdout, /enter-cgroup\s+off .*-e CGROUP/);
  });

  it('should fail clearly at the fork when the pids limit is reached, and leave nothing behind', async () => {
    const pidsDir = sandbox.cgroupDirs.find((d) => d.startsWith('/sys/fs/cgroup/pids/'));
    if (!pidsDir) return;
    const pipeline = defaultPipeline();
    await collect(await pipeline.spawn({ target: { pid: sandbox.pid }, command: ['true'], stdio: [...piped] }));
    const fds = openFdCount();
    writeFileSync(`${pidsDir}/pids.max`, readFileSync(`${pidsDir}/pids.current`, 'utf8').trim());
    try {
      await assert.rejects(pipeline.spawn({ target: { pid: sandbox.pid }, command: ['true'], stdio: [...piped] }), (err: AttachError) => {
        // The first fork after the move into the pids cgroup fails: the cgroup2 one, or the attached process's.
        assert.match(err.message, /^(enter-cgroup: clone3\(CLONE_INTO_CGROUP\) into \S+|executor: clone\(CLONE_PARENT\) of the attached process) failed: EAGAIN \(Resource temporarily unavailable\)$/);
        return true;
      });
    } finally {
      writeFileSync(`${pidsDir}/pids.max`, 'max');
    }
    await sleep(20);
    assert.deepEqual(zombies(), []);
    assert.equal(openFdCount(), fds);
  });

  it('should refuse a cgroup that is gone, naming the stage, the path and the errno', async () => {
    const unified = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).find((h) => h.unified)!;
    const gone = `${unified.mountPoint}/attachkit-no-such-cgroup`;
    const pipeline = defaultPipeline().add({
      id: 'fake-container-cgroups', description: 'a container whose cgroup vanished', after: ['resolve-target'], before: ['enter-cgroup'],
      plan: (ctx) => ctx.set(CONTAINER_MODEL, { runtime: 'test', cgroups: () => ({ dirs: [{ open: gone, shown: gone, unified: true }] }) }),
    });
    await assert.rejects(pipeline.spawn({ target: { pid: sandbox.pid }, command: ['true'], stdio: [...piped] }),
      new RegExp(`^AttachError: enter-cgroup: open\\(${gone}/cgroup.procs, O_WRONLY\\) failed: ENOENT \\(No such file or directory\\) \\(the cgroup is gone`, 'm'));
  });

  it('should refuse a read-only cgroup mount with one clear line, before starting anything', () => {
    const unified = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).find((h) => h.unified)!;
    // In a private mount namespace of the test's own, the cgroup2 mount is made read-only.
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      `mount -o remount,bind,ro ${unified.mountPoint} && exec "$0" "$@"`, CLI, '--pid', String(sandbox.pid), '--', 'true'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^attachkit: enter-cgroup: open\(\S+\/cgroup.procs, O_WRONLY\) failed: EROFS \(Read-only file system\) \(the cgroup is not writable; -e CGROUP attaches without moving\)\n$/);
  });
});
