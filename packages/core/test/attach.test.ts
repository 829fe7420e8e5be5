import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import {
  AttachError, contextKey, createPipeline, ErrorCodes, F_SETFD, imm, realLibc, resultOf, type AttachRequest, type StageContext,
} from '../src/index.js';
import { children, collect, openFdCount, stage } from './helpers.js';

// Attach to this very process: no namespace differs, so this exercises the
// executor, the sync protocol, exit statuses and cleanup on the real kernel.
const self = (command: string[], extra: Partial<AttachRequest> = {}): AttachRequest =>
  ({ target: { pid: process.pid }, command, stdio: ['ignore', 'pipe', 'pipe'], ...extra });

describe('attach (real kernel, the caller as target)', () => {
  it("should return the command's exit status, and 128+N for signal N", async () => {
    const p = createPipeline();
    assert.equal((await collect(await p.spawn(self(['sh', '-c', 'exit 7'])))).exitCode, 7);
    const killed = await (await p.spawn(self(['sh', '-c', 'kill -TERM $$']))).exited;
    assert.deepEqual(killed, { exitCode: 143, signal: 'SIGTERM' });
  });

  it('should run a file without #! under /bin/sh, as execvp does', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'attachkit-')), 'script');
    writeFileSync(file, 'echo "from script $1"\n', { mode: 0o755 });
    const out = await collect(await createPipeline().spawn(self([file, 'arg'])));
    rmSync(dirname(file), { recursive: true });
    assert.deepEqual(out, { exitCode: 0, stdout: 'from script arg\n', stderr: '' });
  });

  it('should pass stdio and the environment through, with container=lxc', async () => {
    const out = await collect(await createPipeline().spawn(self(['sh', '-c', 'echo "$container:$AK_T"; echo err >&2'], {
      env: { set: { AK_T: 'v' } },
    })));
    assert.deepEqual(out, { exitCode: 0, stdout: 'lxc:v\n', stderr: 'err\n' });
  });

  it('should fail with 127 for a missing command and 126 for one that cannot be executed', async () => {
    const p = createPipeline();
    await assert.rejects(p.spawn(self(['/no/such'])), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.EXEC_FAILED);
      assert.equal(err.exitCode, 127);
      assert.equal(err.message, 'exec: execve("/no/such") failed: ENOENT (No such file or directory)');
      return true;
    });
    await assert.rejects(p.spawn(self(['no-such-command-anywhere'])), (err: AttachError) => err.exitCode === 127 && /searching the command's PATH/.test(err.message));
    const file = join(mkdtempSync(join(tmpdir(), 'attachkit-')), 'not-executable');
    writeFileSync(file, 'echo no\n', { mode: 0o644 });
    await assert.rejects(p.spawn(self([file])), (err: AttachError) => err.exitCode === 126 && /EACCES \(Permission denied\)/.test(err.message));
    rmSync(dirname(file), { recursive: true });
  });

  it('should name the stage, the operation, the syscall and the errno of a failing op', async () => {
    const p = createPipeline().add(stage('inject-failure', (ctx) => {
      ctx.program.syscall('namespaces', 'setns', [imm(9999), imm(0)], { operation: 'setns(fd 9999) on purpose' });
    }, { after: ['resolve-target'] }));
    await assert.rejects(p.spawn(self(['true'])), (err: AttachError) => {
      assert.equal(err.code, ErrorCodes.OP_FAILED);
      assert.equal(err.stage, 'inject-failure');
      assert.equal(err.syscall, 'setns');
      assert.equal(err.errnoName, 'EBADF');
      assert.equal(err.message, 'inject-failure: setns(fd 9999) on purpose failed: EBADF (Bad file descriptor)');
      return true;
    });
  });

  it('should refuse a pid that does not exist, in one clear line', async () => {
    await assert.rejects(createPipeline().spawn({ target: { pid: 999999 }, command: ['true'] }),
      /^AttachError: resolve-target: no process with pid 999999: pidfd_open\(pid 999999\) failed: ESRCH \(No such process\)$/m);
  });

  // The executor is started before the stages plan: an attach that fails
  // while planning must kill and reap it, and close what it held.
  it('should leave no process and no fd behind when planning fails', async () => {
    const p = createPipeline();
    await collect(await p.spawn(self(['true']))); // warm: the executor image fd is made once
    const fds = openFdCount();
    const failing = createPipeline().add(stage('refuse', () => { throw new Error('no, thanks'); }, { after: ['resolve-target'] }));
    for (let i = 0; i < 20; i++) await assert.rejects(failing.spawn(self(['true'])), /^AttachError: refuse: planning failed: no, thanks$/m);
    await assert.rejects(p.spawn({ target: { pid: 999999 }, command: ['true'] }), /no process with pid 999999/);
    assert.deepEqual(children(), []);
    assert.equal(openFdCount(), fds);
  });

  it('should show the command only 0, 1 and 2, even when the caller holds more fds', async () => {
    const libc = realLibc();
    const extra = openSync('/', 'r');
    libc.fcntl(extra, F_SETFD, 0); // not close-on-exec: the executor inherits nothing but what it passes on
    try {
      const out = await collect(await createPipeline().spawn(self(['sh', '-c', 'ls /proc/$$/fd'])));
      assert.deepEqual(out.stdout.trim().split('\n').sort(), ['0', '1', '2']);
    } finally {
      closeSync(extra);
    }
  });

  it('should never let the attached process be a host binary before exec', async () => {
    // A test stage stops the attached process just before exec, using only generic ops.
    const p = createPipeline().add(stage('pause', (ctx) => {
      const pid = ctx.program.syscall('ids', 'getpid', [], { operation: 'getpid()' });
      ctx.program.syscall('ids', 'kill', [resultOf(pid), imm(19)], { operation: 'kill(self, SIGSTOP)' });
    }, { after: ['resolve-target'] }));
    const spawning = p.spawn(self(['true']));
    let stopped: number | undefined;
    for (let i = 0; i < 200 && stopped === undefined; i++) {
      stopped = children().find((c) => c.state === 'T')?.pid;
      if (stopped === undefined) await sleep(10);
    }
    assert.ok(stopped, 'the attached process stopped before exec');
    assert.match(readlinkSync(`/proc/${stopped}/exe`), /^\/memfd:attachkit-executor \(deleted\)$/);
    process.kill(stopped, 'SIGCONT');
    assert.equal((await collect(await spawning)).exitCode, 0);
  });

  it('should keep the event loop running while the command runs', async () => {
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 10);
    await (await createPipeline().spawn(self(['sleep', '0.3']))).exited;
    clearInterval(timer);
    assert.ok(ticks >= 10, `the loop ticked ${ticks} times`);
  });

  it('should leave no zombie and no fd behind after 200 attaches', async () => {
    const p = createPipeline();
    await collect(await p.spawn(self(['true']))); // warm: the executor image fd is made once
    const fds = openFdCount();
    for (let i = 0; i < 200; i++) {
      const code = i % 3;
      const r = await collect(await p.spawn(self(['sh', '-c', `exit ${code}`])));
      assert.equal(r.exitCode, code);
    }
    await sleep(50);
    assert.deepEqual(children(), []);
    assert.equal(openFdCount(), fds);
  });

  it('should hand what a stage published to the caller, and discard it instead when the attach fails', async () => {
    const KEY = contextKey<{ fd: number }>('test/published');
    const discarded: number[] = [];
    const publishing = (ctx: StageContext) => {
      const fd = openSync('/', 'r');
      ctx.publish(KEY, { fd }, (v) => { discarded.push(v.fd); closeSync(v.fd); });
    };
    const proc = await createPipeline().add(stage('publish', publishing, { after: ['resolve-target'] })).spawn(self(['true']));
    const value = proc.get(KEY);
    assert.ok(value, 'published');
    assert.deepEqual(discarded, []);
    closeSync(value.fd);
    await proc.exited;

    await assert.rejects(createPipeline().add(stage('publish', publishing, { after: ['resolve-target'] })).spawn(self(['/no/such'])));
    assert.equal(discarded.length, 1);
  });

  it('should deliver a signal through the pidfd', async () => {
    const proc = await createPipeline().spawn(self(['sleep', '30']));
    assert.equal(proc.kill('SIGKILL'), true);
    assert.deepEqual(await proc.exited, { exitCode: 137, signal: 'SIGKILL' });
    assert.equal(proc.kill('SIGKILL'), false);
  });
});
