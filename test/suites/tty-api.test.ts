import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPipeline, isAttachError, type AttachedTerminal } from '@attachkit/core';
import '@attachkit/lxc-plugin'; // its target kind: { name }
import { nsPlugin } from '@attachkit/ns-plugin';
import { createDefaultPipeline } from '@attachkit/preset';
import { PtyStream } from '@attachkit/pty-plugin';
import { CLI } from '../helpers/cli.js';
import { children, openFdCount, refusal, stateOf, zombies } from '../helpers/process.js';
import { ensureContainer, stopContainer, type ContainerSpec } from '../lxc/containers.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

/**
 * The library's `tty`: a pty for the command whatever the caller's fds are
 * (here: the test runner's pipes), its master as AttachedProcess.terminal,
 * resize(). Against the sandbox (it shares the host's devpts: node-pty's
 * pty) and a real LXC container (a pty of its own devpts).
 */
const CONTAINER: ContainerSpec = { name: 'attachkit-tty-api' };

/** Everything the terminal gives until it ends, as text, and a way to wait for a pattern in it. */
function reader(terminal: AttachedTerminal) {
  let text = '';
  terminal.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
  const ended = new Promise<void>((resolve) => terminal.on('end', resolve));
  return {
    get text() { return text; },
    ended,
    async waitFor(pattern: RegExp, ms = 5000): Promise<RegExpExecArray> {
      for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
        const m = pattern.exec(text);
        if (m) return m;
      }
      throw new Error(`no ${pattern} in ${JSON.stringify(text)}`);
    },
  };
}

const TTY = { cols: 91, rows: 37 };

describe('tty: a pty for a library caller, as a duplex stream with resize()', () => {
  let sandbox: Sandbox;
  const pipeline = () => createDefaultPipeline();
  before(async () => {
    sandbox = await startSandbox();
    ensureContainer(CONTAINER);
    // The first attach opens what every later one shares (the executor's memfd, the reaper): not counted as leaks.
    for (const target of [{ pid: sandbox.pid }, { name: CONTAINER.name }]) {
      const warm = await pipeline().spawn({ target, command: ['true'], tty: TTY });
      const out = reader(warm.terminal!);
      await warm.exited;
      await out.ended;
    }
  });
  after(async () => {
    await sandbox.stop();
    stopContainer(CONTAINER);
  });

  it('should give the command a pty as fds 0-2 and controlling terminal of its session, sized as asked, when the caller has no terminal', async () => {
    const fds = openFdCount();
    const probe = 'tty; stty size; for n in 0 1 2; do [ -t $n ] && echo "$n:tty"; done; (exec 3</dev/tty) && echo ctty; '
      + 'set -- $(cut -d" " -f6 /proc/$$/stat); [ "$1" = $$ ] && echo session-leader';
    for (const target of [{ pid: sandbox.pid }, { name: CONTAINER.name }]) {
      const proc = await pipeline().spawn({ target, command: ['sh', '-c', probe], tty: TTY });
      assert.ok(proc.terminal instanceof PtyStream);
      assert.equal(proc.stdin, null);
      assert.equal(proc.stdout, null);
      const out = reader(proc.terminal);
      assert.deepEqual(await proc.exited, { exitCode: 0, signal: null });
      await out.ended;
      const lines = out.text.trim().split('\r\n');
      assert.match(lines[0]!, /^\/dev\/pts\/\d+$/);
      assert.equal(lines[0], (proc.terminal as PtyStream).path, 'the name the command sees');
      assert.deepEqual(lines.slice(1), ['37 91', '0:tty', '1:tty', '2:tty', 'ctty', 'session-leader'], JSON.stringify(target));
    }
    assert.equal(openFdCount(), fds, 'every fd closed once the terminal has ended');
    assert.deepEqual(zombies(), []);
  });

  it('should carry keys in and output out, and resize: the shell sees the new size and gets SIGWINCH', async () => {
    const proc = await pipeline().spawn({ target: { name: CONTAINER.name }, command: ['sh'], tty: TTY });
    const out = reader(proc.terminal!);
    proc.terminal!.write('trap "echo winched" WINCH; echo hi-$((6*7))\r');
    await out.waitFor(/hi-42/);
    proc.resize(120, 33);
    proc.terminal!.write('stty size\r');
    await out.waitFor(/\r\n33 120\r\n/);
    assert.match(out.text, /winched/);
    proc.terminal!.write('exit 7\r');
    assert.equal((await proc.exited).exitCode, 7);
    await out.ended;
  });

  it("should end the stream only after the command's whole output was read (the drain), and record it with ptyLog", async () => {
    const fds = openFdCount();
    const dir = mkdtempSync(join(tmpdir(), 'attachkit-tty-'));
    try {
      // 300 000 bytes written at once before the exit: more than the pty holds.
      const proc = await pipeline().spawn({
        target: { pid: sandbox.pid }, command: ['sh', '-c', 'head -c 300000 /dev/zero | tr "\\0" x'], tty: TTY, ptyLog: `${dir}/log`,
      });
      const out = reader(proc.terminal!);
      await proc.exited;
      await out.ended;
      assert.equal(out.text, 'x'.repeat(300000));
      assert.equal(readFileSync(`${dir}/log`, 'latin1'), out.text);
      assert.equal(openFdCount(), fds);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should stop reading the master when the caller stops reading: the command blocks on a full pty, nothing piles up', async () => {
    const proc = await pipeline().spawn({ target: { pid: sandbox.pid }, command: ['sh', '-c', 'head -c 5000000 /dev/zero | tr "\\0" x; echo done'], tty: TTY });
    proc.terminal!.pause();
    await sleep(500);
    assert.ok(proc.terminal!.readableLength < 1024 * 1024, `buffered ${proc.terminal!.readableLength}`);
    assert.equal(stateOf(proc.pid) === 'gone', false, 'the command waits for its reader');
    const out = reader(proc.terminal!);
    proc.terminal!.resume();
    assert.equal((await proc.exited).exitCode, 0);
    await out.ended;
    assert.equal(out.text.length, 5000000 + 'done\r\n'.length);
  });

  it('should hang the session up on destroy(): the shell gets SIGHUP', async () => {
    const fds = openFdCount();
    const proc = await pipeline().spawn({ target: { name: CONTAINER.name }, command: ['sh'], tty: TTY });
    const out = reader(proc.terminal!);
    proc.terminal!.write('echo ready\r');
    await out.waitFor(/\r\nready/);
    proc.terminal!.destroy();
    assert.deepEqual(await proc.exited, { exitCode: 129, signal: 'SIGHUP' });
    proc.terminal!.write('dropped'); // the command is gone: no error
    assert.equal(openFdCount(), fds);
  });

  it('should leave no zombie and no fd after kill() and after release()', async () => {
    const fds = openFdCount();
    const killed = await pipeline().spawn({ target: { pid: sandbox.pid }, command: ['sleep', '100'], tty: TTY });
    const killedOut = reader(killed.terminal!);
    assert.ok(killed.kill('SIGKILL'));
    assert.deepEqual(await killed.exited, { exitCode: 137, signal: 'SIGKILL' });
    await killedOut.ended;

    const released = await pipeline().spawn({ target: { pid: sandbox.pid }, command: ['sh', '-c', 'sleep 0.3; echo bye'], tty: TTY });
    const releasedOut = reader(released.terminal!);
    released.release();
    await releasedOut.ended; // nobody holds the slave any more: EIO
    assert.match(releasedOut.text, /bye/);
    for (let i = 0; i < 100 && stateOf(released.pid) !== 'gone'; i++) await sleep(20);
    assert.equal(stateOf(released.pid), 'gone', 'reaped');
    assert.deepEqual(zombies(), []);
    assert.equal(openFdCount(), fds);
  });

  it('should refuse what makes no sense with a tty, in one error, having started nothing', async () => {
    const fds = openFdCount();
    const before = children().length;
    const target = { pid: sandbox.pid };
    const cases: Array<[object, RegExp]> = [
      [{ tty: { cols: 0, rows: 24 } }, /^tty: cols and rows must be whole numbers from 1 to 65535, not 0 × 24$/],
      [{ tty: { cols: 80.5, rows: 24 } }, /whole numbers/],
      [{ tty: { cols: 80, rows: 70000 } }, /whole numbers/],
      [{ tty: TTY, stdio: ['pipe', 'pipe', 'pipe'] }, /^tty: the pty is the command's stdin, stdout and stderr; stdio cannot be given with it$/],
      [{ tty: TTY, input: 'ls\n' }, /^tty: the command reads its terminal; write to the AttachedProcess's terminal instead of giving input$/],
    ];
    for (const [options, message] of cases) {
      const err = await refusal(pipeline().spawn({ target, command: ['true'], ...options }));
      assert.ok(isAttachError(err), String(err));
      assert.equal(err.code, 'AK_BAD_REQUEST');
      assert.match(err.message, message);
    }
    // A pipeline without the pty plugin cannot give a terminal: refused, not ignored.
    const bare = await refusal(createPipeline({ plugins: [nsPlugin()] }).spawn({ target, command: ['true'], tty: TTY }));
    assert.equal(bare.code, 'AK_BAD_REQUEST');
    assert.match(bare.message, /^tty: no stage of this pipeline gives the command a terminal \(add @attachkit\/pty-plugin's ptyPlugin\(\)\)$/);
    // resize() without a terminal.
    const plain = await pipeline().spawn({ target, command: ['true'], stdio: ['ignore', 'ignore', 'ignore'] });
    assert.equal(plain.terminal, null);
    assert.throws(() => plain.resize(80, 24), (e: unknown) => isAttachError(e) && e.code === 'AK_BAD_REQUEST' && /no terminal/.test(e.message));
    await plain.exited;
    // and a bad size on a live one
    const live = await pipeline().spawn({ target, command: ['sleep', '100'], tty: TTY });
    const out = reader(live.terminal!);
    assert.throws(() => live.resize(-1, 10), (e: unknown) => isAttachError(e) && e.code === 'AK_BAD_REQUEST' && /^resize\(\): cols and rows/.test(e.message));
    live.kill('SIGKILL');
    await live.exited;
    await out.ended;
    assert.equal(openFdCount(), fds);
    assert.equal(children().length, before);
  });
});

describe("open-pty's errors: each names the operation, the syscall and errno, and the target", () => {
  const started: ChildProcess[] = [];
  after(() => { for (const child of started) child.kill('SIGKILL'); });

  /** A process in a mount namespace of its own, whose /dev/pts `setup` made; its pid. */
  async function target(setup: string, prefix: readonly string[] = []): Promise<number> {
    const argv = [...prefix, 'unshare', ...(prefix.length ? ['--user', '--map-root-user'] : []), '--mount', '--propagation', 'private',
      'sh', '-c', `${setup} && echo ready && exec sleep 100`];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => resolve());
      child.on('exit', (code) => reject(new Error(`${setup}: exit ${code}`)));
    });
    return child.pid!;
  }

  it('should name openat2 of /dev/pts/ptmx and ENOENT for a devpts without ptmx', async () => {
    const pid = await target('mount -t tmpfs none /dev/pts');
    const err = await refusal(createDefaultPipeline().spawn({ target: { pid }, command: ['true'], tty: TTY }));
    assert.ok(isAttachError(err));
    assert.equal(err.stage, 'open-pty');
    assert.equal(err.syscall, 'openat2');
    assert.equal(err.errnoName, 'ENOENT');
    assert.equal(err.message, `open-pty: openat2("/dev/pts/ptmx", O_PATH, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV) in the devpts of pid ${pid} failed: ENOENT (No such file or directory)`);
  });

  it('should refuse a ptmx that is not the ptmx device, naming what it is', async () => {
    const pid = await target('mount -t tmpfs none /dev/pts && touch /dev/pts/ptmx');
    const err = await refusal(createDefaultPipeline().spawn({ target: { pid }, command: ['true'], tty: TTY }));
    assert.equal(err.stage, 'open-pty');
    assert.equal(err.message, `open-pty: open("/dev/pts/ptmx") in the devpts of pid ${pid} failed: it is a regular file, not the ptmx device (5:2): refused`);
  });

  it('should name open of /dev/pts/ptmx and EACCES for a non-root caller whose devpts ptmx is mode 000 (the CLI, under script)', async () => {
    const uid = 64124;
    const asUser = ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
    const pid = await target('mount -t devpts -o newinstance,ptmxmode=000 devpts /dev/pts', asUser);
    // script(1) gives the CLI a terminal: open-pty then allocates the pty of the target's devpts.
    const r = spawnSync(asUser[0]!, [...asUser.slice(1), 'script', '-qec', `${CLI} --pid ${pid} -- true`, '/dev/null'], { encoding: 'utf8', env: { PATH: process.env.PATH! } });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(r.stdout.trim().split('\r\n').at(-1), `attachkit: open-pty: open("/dev/pts/ptmx", O_RDWR|O_NOCTTY) in the devpts of pid ${pid} failed: EACCES (Permission denied)`);
  });
});
