import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AttachError, ErrorCodes, realLibc } from '../src/index.js';
import { AttachSession } from '../src/pipeline/context.js';

// ctx.readTarget on the real kernel: a target that is gone, one whose /proc
// may not be read, and any other failure are three different AttachErrors,
// each naming the stage, the file of the target, the syscall and the errno.

const libc = realLibc();

function contextFor(pid: number) {
  const session = new AttachSession({ target: { pid }, command: ['true'] }, libc);
  const pidfd = libc.pidfdOpen(pid);
  session.defer(() => libc.close(pidfd));
  const ctx = session.contextFor('probe');
  ctx.setTarget({ pid, pidfd, description: `pid ${pid}` });
  return { ctx, release: () => session.release(false) };
}

function failure(run: () => unknown): AttachError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof AttachError, `an AttachError, not ${String(err)}`);
    return err;
  }
  assert.fail('it did not throw');
}

async function started(command: string[]): Promise<ChildProcess> {
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
  await once(child.stdout!, 'data');
  return child;
}

describe('readTarget (real kernel)', () => {
  it('should say a reaped target exited, with the read, its syscall and errno', async () => {
    const child = await started(['sh', '-c', 'echo up; exec sleep 60']);
    const pid = child.pid!;
    const { ctx, release } = contextFor(pid);
    child.kill('SIGKILL');
    await once(child, 'exit'); // reaped by Node: the pidfd says ESRCH
    const err = failure(() => ctx.readTarget(() => readlinkSync(`/proc/${pid}/ns/mnt`)));
    release();
    assert.equal(err.code, ErrorCodes.TARGET);
    assert.equal(err.message, `probe: the target pid ${pid} exited during the attach`);
    assert.equal(err.stage, 'probe');
    assert.equal(err.operation, `read /proc/${pid}/ns/mnt of pid ${pid}`);
    assert.equal(err.syscall, 'readlink');
    assert.equal(err.errnoName, 'ENOENT');
  });

  it('should say an exited, unreaped target (a zombie, whose pidfd still answers) exited', async () => {
    // The background job exits once its parent has exec'd sleep, which never reaps it.
    const child = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let err: AttachError;
    let zombie: number;
    try {
      const [line] = await once(child.stdout!, 'data') as [Buffer];
      zombie = Number(line.toString().trim());
      for (let i = 0; i < 200 && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${zombie}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /^\d+ \(.*\) Z/, 'a zombie');
      const { ctx, release } = contextFor(zombie);
      libc.pidfdSendSignal(ctx.target.pidfd, 0); // its pidfd says it is there
      err = failure(() => ctx.readTarget(() => readlinkSync(`/proc/${zombie}/ns/mnt`)));
      release();
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(err.code, ErrorCodes.TARGET);
    assert.equal(err.message, `probe: the target pid ${zombie} exited during the attach`);
    assert.equal(err.errnoName, 'ENOENT');
  });

  it('should not call a missing file of a live target its exit, nor hide the errno of another failure', async () => {
    const child = await started(['sh', '-c', 'echo up; exec sleep 60']);
    const pid = child.pid!;
    let missing: AttachError, directory: AttachError;
    try {
      const { ctx, release } = contextFor(pid);
      missing = failure(() => ctx.readTarget(() => readFileSync(`/proc/${pid}/no-such-file`)));
      directory = failure(() => ctx.readTarget(() => readFileSync(`/proc/${pid}/ns`)));
      release();
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(missing.code, ErrorCodes.STAGE_FAILED);
    assert.equal(missing.message, `probe: read /proc/${pid}/no-such-file of pid ${pid} failed: ENOENT (No such file or directory)`);
    assert.equal(missing.syscall, 'open');
    assert.equal(directory.code, ErrorCodes.STAGE_FAILED);
    assert.equal(directory.errnoName, 'EISDIR');
    assert.equal(directory.stage, 'probe');
  });

  it("should say a read denied to a non-root caller (EACCES) is not allowed, not that the target exited", () => {
    // This test, as nobody, reading root's init: the ns links need ptrace access.
    const here = fileURLToPath(import.meta.url);
    const script = `
      import { AttachSession } from ${JSON.stringify(new URL('../src/pipeline/context.js', import.meta.url).href)};
      import { realLibc } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
      import { readlinkSync } from 'node:fs';
      const libc = realLibc();
      const session = new AttachSession({ target: { pid: 1 }, command: ['true'] }, libc);
      const ctx = session.contextFor('probe');
      ctx.setTarget({ pid: 1, pidfd: libc.pidfdOpen(1), description: 'pid 1' });
      try { ctx.readTarget(() => readlinkSync('/proc/1/ns/mnt')); } catch (err) {
        console.log(JSON.stringify({ code: err.code, message: err.message, operation: err.operation, syscall: err.syscall, errno: err.errnoName }));
      }`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: here.slice(0, here.lastIndexOf('/')) });
    assert.equal(r.stderr, '');
    assert.deepEqual(JSON.parse(r.stdout), {
      code: ErrorCodes.TARGET,
      message: "probe: cannot read /proc/1/ns/mnt: permission denied (attaching to another user's process needs root)",
      operation: 'read /proc/1/ns/mnt of pid 1',
      syscall: 'readlink',
      errno: 'EACCES',
    });
  });
});
