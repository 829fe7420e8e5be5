import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, closeSync, constants, copyFileSync, existsSync, lchownSync, mkdtempSync, openSync, readFileSync, readSync, rmSync,
  statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { constants as os, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import { F_GETFL, F_SETFL, O_NONBLOCK, realLibc } from '@attachkit/core';
import { openPtyPair, proxyTerminal, PTY, type DrainLimits } from '@attachkit/pty-plugin';
import { CLI } from '../helpers/cli.js';
import { attachkitLine, processWith, text, underScript, waitFor, type ScriptResult } from '../helpers/terminal.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

/**
 * The terminal's security claims (docs/terminal.md), attacked from inside a
 * sandbox and by a user sharing the host's filesystem with root; each case
 * was seen to fail with its protection removed:
 * - the drain after the command's exit is bounded, and signals end it: a
 *   process left holding the pty and writing forever cannot keep attachkit
 *   (and the caller's terminal, raw) hostage (proxy.ts, DRAIN_LIMITS);
 * - -L opens with O_NOFOLLOW and O_NONBLOCK and refuses anything but a
 *   regular file of attachkit's own user (open-pty.ts, openLog).
 */

/** How long a case waits for attachkit before it calls it hung (the drain's bound is 1 s). */
const HUNG_MS = 10_000;
/** How long the writers left in the pty live (far beyond HUNG_MS). */
const WRITERS_S = 30;
/** A user other than root, for files a user owns. */
const USER = 1000;

/**
 * A slow terminal for the caller: a pty whose screen takes in at most 4 KB
 * every 20 ms (a dd loop reads its master). attachkit's writes to it then
 * block, and whatever writes into the command's pty meanwhile has always
 * refilled it before attachkit reads again: the command's pty is never
 * empty, and an unbounded drain never ends.
 */
function slowTerminal(): { slave: number; close(): void } {
  const libc = realLibc();
  const pair = openPtyPair(80, 24);
  libc.fcntl(pair.master, F_SETFL, libc.fcntl(pair.master, F_GETFL, 0) & ~O_NONBLOCK);
  const screen = spawn('sh', ['-c', 'while :; do dd bs=4096 count=1 status=none; sleep 0.02; done >/dev/null'],
    { stdio: [pair.master, 'ignore', 'ignore'], detached: true });
  return {
    slave: pair.slave,
    close() {
      process.kill(-screen.pid!, 'SIGKILL');
      closeSync(pair.master);
      closeSync(pair.slave);
    },
  };
}

/** attachkit with every std fd on `terminal`; its exit status. */
function attachkitOn(terminal: number, args: readonly string[]): { pid: number; exited: Promise<number | null> } {
  const child = spawn(CLI, args, { stdio: [terminal, terminal, terminal] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + os.signals[signal] : null)));
  });
  return { pid: child.pid!, exited };
}

/** `promise`, or 'hung' after `ms` (a timer that keeps nothing alive). */
const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'hung'> =>
  Promise.race([promise, sleep(ms, 'hung' as const, { ref: false })]);

function settled<T>(r: T | 'hung', what: string): T {
  assert.notEqual(r, 'hung', what);
  return r as T;
}

describe('security: the terminal (the drain after exit, -L)', () => {
  let box: Sandbox;
  let scratch: string;
  let writer: string;
  before(async () => {
    box = await startSandbox();
    // The sandbox shares the host's filesystems; world-readable for the user's files below.
    scratch = mkdtempSync(join(tmpdir(), 'attachkit-security-terminal-'));
    chmodSync(scratch, 0o755);
    // A copy of yes, to find (and kill) the writers by their path.
    writer = join(scratch, 'pty-writer');
    copyFileSync('/usr/bin/yes', writer);
    chmodSync(writer, 0o755);
  });
  after(async () => {
    killWriters();
    await box.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const killWriters = () => {
    for (let pid = writerPid(); pid !== undefined; pid = writerPid()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      waitGone(pid);
    }
  };
  // (A zombie's cmdline is empty: only live writers match.)
  const writerPid = () => processWith((argv) => argv[0] === writer);
  /**
   * The command leaves two writers holding its pty (its stdout, inherited)
   * and writing as fast as they can, immune to the SIGHUP the kernel sends
   * when the command, the session leader, exits; then exits with status 7.
   * (Root inside could as well join group tty and open /dev/pts/N.) They
   * die after WRITERS_S all the same: a drain that waits for them, even one
   * that blocks this very process, ends then, and the case fails, not hangs.
   */
  const leavesWriters = () => `trap "" HUP; timeout -s KILL ${WRITERS_S} ${writer} & timeout -s KILL ${WRITERS_S} ${writer} & sleep 0.3; exit 7`;

  describe('a process left writing to the pty after the command exits', () => {
    let terminal: ReturnType<typeof slowTerminal>;
    before(() => { terminal = slowTerminal(); });
    after(() => terminal.close());

    // Before: after the command's exit attachkit read the master until it
    // was empty, synchronously: with a writer always ahead of it, forever,
    // the caller's terminal raw, deaf to every signal it catches.
    it("should not keep attachkit: it exits within its drain bound with the command's status, the terminal restored", async () => {
      const modes = readTermios(terminal.slave);
      const ak = attachkitOn(terminal.slave, ['--pid', String(box.pid), '--', 'sh', '-c', leavesWriters()]);
      try {
        assert.equal(settled(await within(ak.exited, HUNG_MS), 'attachkit still drains the pty'), 7);
        assert.equal(readTermios(terminal.slave), modes);
      } finally {
        await unhang(ak);
      }
    });

    it("should end the drain at once on SIGTERM, with the command's status, the terminal restored", async () => {
      const modes = readTermios(terminal.slave);
      const command = leavesWriters();
      const ak = attachkitOn(terminal.slave, ['--pid', String(box.pid), '--', 'sh', '-c', command]);
      try {
        // The command runs, then has exited and been reaped: attachkit drains.
        const sh = await waitFor(() => processWith((argv) => argv[0] === 'sh' && argv[2] === command), 'the command');
        await waitFor(() => !existsSync(`/proc/${sh}`), 'the command to exit');
        assert.ok(writerPid(), 'the writers still run');
        process.kill(ak.pid, 'SIGTERM');
        assert.equal(settled(await within(ak.exited, HUNG_MS), 'attachkit ignored SIGTERM in its drain'), 7);
        assert.equal(readTermios(terminal.slave), modes);
      } finally {
        await unhang(ak);
      }
    });

    /**
     * The same through the library: proxyTerminal with `limits`, in this
     * process, whose SIGTERM is handled (as the CLI handles it, from before
     * the attach); `duringDrain` runs once the drain is under way. The
     * result, and how long the drain took from then on.
     */
    async function libraryDrain(limits: DrainLimits, duringDrain: () => void): Promise<{ exitCode: number; ms: number }> {
      const handled = () => {};
      process.on('SIGTERM', handled);
      let proxied: ReturnType<typeof proxyTerminal> | undefined;
      try {
        const modes = readTermios(terminal.slave);
        const proc = await defaultPipeline().spawn({
          target: { pid: box.pid }, command: ['sh', '-c', leavesWriters()], stdio: [terminal.slave, terminal.slave, terminal.slave],
        });
        const started = performance.now();
        proxied = proxyTerminal(proc, proc.get(PTY)!, realLibc(), limits);
        await proc.exited;
        await sleep(200); // the drain is under way
        assert.ok(performance.now() - started < HUNG_MS, 'the drain blocked this process (until the writers died)');
        assert.ok(writerPid(), 'the writers still run');
        const draining = performance.now();
        duringDrain();
        const r = settled(await within(proxied, HUNG_MS), 'the drain went on');
        const ms = performance.now() - draining; // (a drain that blocks this process is only seen once the writers die)
        assert.equal(readTermios(terminal.slave), modes);
        return { exitCode: r.exitCode, ms };
      } finally {
        killWriters(); // the drain then ends (EIO), whatever it waited for
        await proxied?.catch(() => {});
        process.off('SIGTERM', handled);
      }
    }

    // Only the signal can end this drain: its other bounds are far away.
    it('should end the drain on a signal its caller handles, however far its bounds', async () => {
      const r = await libraryDrain({ maxMs: 600_000, maxBytes: Infinity }, () => process.kill(process.pid, 'SIGTERM'));
      assert.ok(r.ms < HUNG_MS, 'the drain went on after SIGTERM');
      assert.equal(r.exitCode, 7);
    });

    // Only the byte bound can end this one: 256 KiB reach the slow terminal in about 1.3 s.
    it('should end the drain at its byte bound', async () => {
      const r = await libraryDrain({ maxMs: 600_000, maxBytes: 256 * 1024 }, () => {});
      assert.ok(r.ms < HUNG_MS, 'the drain went on past its byte bound');
      assert.equal(r.exitCode, 7);
    });

    // A target with a devpts of its own gets a pty of it, whose master is
    // opened blocking. Before: the drain read it blocking, and a process
    // left holding the slave without writing kept attachkit in read(2),
    // beyond any bound or signal, until it exited.
    it("should not wait in read(2) on a pty of the target's own devpts that a silent process still holds", async () => {
      const holder = join(scratch, 'silent-holder'); // a copy of sleep, to find it by its path
      copyFileSync('/bin/sleep', holder);
      chmodSync(holder, 0o755);
      const target = await ownDevpts();
      try {
        const r = await within(underScript(attachkitLine(target.pid, ['--', 'sh', '-c', `trap "" HUP; ${holder} 600 & echo started`])), HUNG_MS);
        const held = processWith((argv) => argv[0] === holder);
        if (r === 'hung' && held) process.kill(held, 'SIGKILL'); // attachkit's read then ends (EIO)
        assert.ok(held, 'the silent holder ran');
        const done = settled(r, 'attachkit waits for the silent holder');
        assert.equal(done.code, 0);
        assert.equal(text(done), 'started\n');
      } finally {
        target.stop();
      }
    });

    /** After a case: a hung attachkit killed, the writers killed. */
    async function unhang(ak: { pid: number; exited: Promise<unknown> }): Promise<void> {
      if (await within(ak.exited, 1) === 'hung') process.kill(ak.pid, 'SIGKILL');
      await ak.exited;
      killWriters();
    }
  });

  // Root appends its session to the -L path: a user who controls that path
  // (a symlink to a root-owned file, a FIFO, a file of theirs) must not
  // make root write through it, hang, or record into the user's file.
  describe('-L, given a path a user controls', () => {
    const attach = async (log: string): Promise<ScriptResult | 'hung'> =>
      within(underScript(attachkitLine(box.pid, ['-L', log, '--', 'echo', 'recorded'])), HUNG_MS);
    const refused = (log: string, why: string) => `attachkit: open-pty: open("${log}") of the pty log failed: ${why}: refused\n`;

    it('should refuse a symlink (O_NOFOLLOW), leaving the root-owned file it points to unchanged', async () => {
      const target = join(scratch, 'root-owned');
      writeFileSync(target, 'root data\n', { mode: 0o644 });
      const link = join(scratch, 'users-link');
      symlinkSync(target, link);
      lchownSync(link, USER, USER);
      const r = settled(await attach(link), 'attachkit hung');
      assert.equal(r.code, 1);
      assert.equal(text(r),
        `attachkit: open-pty: open("${link}", O_NOFOLLOW) of the pty log failed: ELOOP (Too many levels of symbolic links)\n`);
      assert.equal(readFileSync(target, 'utf8'), 'root data\n');
    });

    it('should refuse a FIFO without hanging, with or without a reader, and a device', async () => {
      const fifo = join(scratch, 'users-fifo');
      execFileSync('mkfifo', [fifo]);
      chownSync(fifo, USER, USER);
      const lonely = await attach(fifo);
      if (lonely === 'hung') {
        closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)); // let the open return
        assert.fail('the open of the FIFO hung');
      }
      assert.equal(lonely.code, 1);
      assert.equal(text(lonely), `attachkit: open-pty: open("${fifo}") of the pty log failed: ENXIO (No such device or address)\n`);
      // With a reader the open succeeds; fstat refuses it (before the owner: any FIFO is refused).
      const reading = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        const r = settled(await attach(fifo), 'attachkit hung');
        assert.equal(r.code, 1);
        assert.equal(text(r), refused(fifo, 'it is a FIFO, not a regular file'));
        assert.equal(readSync(reading, Buffer.alloc(64)), 0, 'nothing was recorded into the FIFO (EOF, not data)');
      } finally {
        closeSync(reading);
      }
      const dev = settled(await attach('/dev/null'), 'attachkit hung');
      assert.equal(dev.code, 1);
      assert.equal(text(dev), refused('/dev/null', 'it is a character device, not a regular file'));
    });

    it("should refuse a file another user owns, leaving it unchanged", async () => {
      const theirs = join(scratch, 'users-file');
      writeFileSync(theirs, 'user data\n', { mode: 0o600 });
      chownSync(theirs, USER, USER);
      const r = settled(await attach(theirs), 'attachkit hung');
      assert.equal(r.code, 1);
      assert.equal(text(r), refused(theirs, `it is owned by uid ${USER}, not by uid 0 that attachkit runs as`));
      assert.equal(readFileSync(theirs, 'utf8'), 'user data\n');
      assert.equal(statSync(theirs).uid, USER);
      // Its own file, it appends to as ever.
      const mine = join(scratch, 'roots-file');
      writeFileSync(mine, 'before\n', { mode: 0o600 });
      const ok = settled(await attach(mine), 'attachkit hung');
      assert.equal(ok.code, 0);
      assert.equal(readFileSync(mine, 'utf8'), 'before\nrecorded\r\n');
    });
  });
});

/** The terminal's settings (stty -g of it). */
function readTermios(fd: number): string {
  return spawnSync('stty', ['-g'], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' }).stdout;
}

/** Wait (at most 2 s) until a killed process is gone or a zombie (its cmdline empty). */
function waitGone(pid: number): void {
  for (let i = 0; i < 200; i++) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === '') return;
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

/**
 * A process in mount and pid namespaces of its own with a devpts of its own
 * (newinstance), as a container has: an attach to it gets a pty of that
 * devpts (container-pty.ts), not node-pty's. `stop` kills the namespace.
 */
async function ownDevpts(): Promise<{ pid: number; stop(): void }> {
  const unshare = spawn('unshare', ['--mount', '--pid', '--fork', '--propagation', 'private', '--',
    'sh', '-c', 'mount -t devpts -o newinstance devpts /dev/pts && echo ready && exec sleep infinity'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    unshare.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
    unshare.on('exit', (code) => reject(new Error(`unshare exited (${code}) before it was ready`)));
  });
  const pid = Number(readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim().split(' ')[0]);
  return {
    pid,
    stop: () => {
      try {
        process.kill(pid, 'SIGKILL'); // the pid namespace dies with its init
      } catch {
        // gone
      }
    },
  };
}
