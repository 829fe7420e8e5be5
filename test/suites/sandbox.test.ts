import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { runCli } from '../helpers/cli.js';
import { collect, nsLink, openFdCount, zombies } from '../helpers/process.js';

const NAMESPACES = ['mnt', 'pid', 'uts', 'ipc', 'net', 'cgroup'];

describe('attach --pid into the sandbox container (real namespaces)', () => {
  let sandbox: Sandbox;
  before(async () => { sandbox = await startSandbox(); });
  after(async () => { await sandbox.stop(); });

  it("should put the command in every namespace of the sandbox's init", async () => {
    const script = NAMESPACES.map((ns) => `readlink /proc/self/ns/${ns}`).join('; ');
    const r = await runCli(['--pid', String(sandbox.pid), '--', 'sh', '-c', script]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout.trim().split('\n'), NAMESPACES.map((ns) => nsLink(sandbox.pid, ns)));
    for (const ns of NAMESPACES) assert.notEqual(nsLink(sandbox.pid, ns), nsLink('self', ns), `${ns} differs from the host's`);
  });

  it("should show the sandbox's hostname, /proc and network", async () => {
    const r = await runCli(['--pid', String(sandbox.pid), '--', 'sh', '-c', 'hostname; echo $$; grep -c : /proc/net/dev']);
    const [hostname, pid, devices] = r.stdout.trim().split('\n');
    assert.equal(hostname, sandbox.hostname);
    assert.ok(Number(pid) < 100, `pid ${pid} is a pid of the sandbox's namespace`);
    assert.equal(devices, '1', 'only lo');
  });

  it("should exit with the command's status: 7, and 143 for SIGTERM", async () => {
    assert.equal((await runCli(['--pid', String(sandbox.pid), '--', 'sh', '-c', 'exit 7'])).code, 7);
    assert.equal((await runCli(['--pid', String(sandbox.pid), '--', 'sh', '-c', 'kill -TERM $$'])).code, 143);
  });

  it('should exit 127 with one clear line for a command that does not exist', async () => {
    const r = await runCli(['--pid', String(sandbox.pid), '--', '/no/such']);
    assert.equal(r.code, 127);
    assert.equal(r.stderr, 'attachkit: exec: execve("/no/such") failed: ENOENT (No such file or directory)\n');
  });

  it('should refuse a pid that does not exist with one clear line', async () => {
    const r = await runCli(['--pid', '999999', '--', 'true']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'attachkit: resolve-target: no process with pid 999999: pidfd_open(pid 999999) failed: ESRCH (No such process)\n');
  });

  it('should refuse bad flags with one line and a non-zero status', async () => {
    for (const args of [['--pid', 'abc'], ['--pid', '1', '-v', 'NOEQUALS', '--', 'true'], ['--pid', '1', '--keep-var', 'X', '--', 'true'], ['--bogus']]) {
      const r = await runCli(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.stderr.split('\n').length, 2, `one line for ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^attachkit: /);
    }
  });

  it('should keep the working directory when it exists inside, else use /', async () => {
    assert.equal((await runCli(['--pid', String(sandbox.pid), '--', 'pwd'], { cwd: '/tmp' })).stdout, '/tmp\n');
  });

  it('should print the resolved pipeline', async () => {
    const r = await runCli(['stages']);
    assert.equal(r.code, 0);
    const ids = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)[1]);
    // The design card's reading order; other stages may sit between these.
    const order = ['resolve-target', 'open-pty', 'join-namespaces', 'enter-cgroup', 'apply-lsm', 'drop-caps', 'set-personality', 'build-env', 'exec']
      .map((id) => ids.indexOf(id));
    assert.ok(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)), ids.join(' '));
  });

  it('should start a detached command (-d), print its pid and return at once', async () => {
    const r = await runCli(['--pid', String(sandbox.pid), '-d', '--json', '--', 'sleep', '30']);
    assert.equal(r.code, 0, r.stderr);
    const { pid } = JSON.parse(r.stdout) as { pid: number };
    try {
      assert.equal(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'sleep\u000030\u0000');
      assert.equal(nsLink(pid, 'pid'), nsLink(sandbox.pid, 'pid'));
      assert.deepEqual(['0', '1', '2'].map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`)), ['/dev/null', '/dev/null', '/dev/null']);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('should check the host with doctor, the executor for real', async () => {
    const r = await runCli(['doctor', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const checks = JSON.parse(r.stdout) as Array<{ name: string; status: string }>;
    assert.deepEqual(checks.map((c) => c.name), ['kernel', 'pidfd', 'executor', 'cgroups', 'LSM', 'user namespaces', 'seccomp', 'LXC']);
    assert.equal(checks.find((c) => c.name === 'executor')!.status, 'ok');
  });

  it('should generate shell completion that knows the attach flags', async () => {
    const home = mkdtempSync(join(tmpdir(), 'attachkit-home-'));
    try {
      const r = await runCli(['autocomplete', '--refresh-cache'], { env: { ...process.env, XDG_CACHE_HOME: home } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(readFileSync(join(home, 'attachkit/autocomplete/functions/bash/attachkit.bash'), 'utf8'), /--pid/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('should run 200 attaches through the library with the right statuses, no zombie and no leaked fd', async () => {
    const pipeline = defaultPipeline();
    await collect(await pipeline.spawn({ target: { pid: sandbox.pid }, command: ['true'], stdio: ['ignore', 'pipe', 'pipe'] }));
    const fds = openFdCount();
    for (let i = 0; i < 200; i++) {
      const proc = await pipeline.spawn({ target: { pid: sandbox.pid }, command: ['sh', '-c', `exit ${i % 5}`], stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal((await collect(proc)).exitCode, i % 5);
    }
    assert.deepEqual(zombies(), []);
    assert.equal(openFdCount(), fds);
  });
});
