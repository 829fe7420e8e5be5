import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';
import {
  F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC, fileKind, imm, O_CLOEXEC, O_NONBLOCK, optional, TERMINAL,
  type AttachRequest, type Libc, type OpenTerminal, type Stage, type StageContext, type StageToggle,
} from '@attachkit/core';
import { TIOCSCTTY } from './constants.js';
import { openContainerPty } from './container-pty.js';
import { openPtyPair, type PtyPair } from './node-pty.js';
import { PtyStream } from './pty-stream.js';
import { PTY, PTY_SLAVE } from './session.js';
import { describeTerminalFds, terminalFds } from './terminals.js';
import { getWinsize, winsize, winsizeCols, winsizeRows } from './termios.js';

/**
 * Open pty: when any of the caller's fds 0, 1, 2 is a terminal, the command
 * gets a new pseudo terminal instead, as lxc-attach does: the pty stands in
 * for exactly the std fds that are terminals, redirected ones reach the
 * command untouched. With the request's `tty` (a library caller with no
 * terminal of its own), the pty is all three, sized as asked, and the
 * caller gets its master as a stream (TERMINAL: AttachedProcess.terminal).
 * The pty is the controlling terminal of the command's new
 * session (the core's setsid runs in the phase before), so nothing inside can
 * reach the caller's terminal: no TIOCSTI into it (CVE-2016-10124), no
 * /dev/tty, no signals from it.
 *
 * The pair comes from the target's own devpts when it has one, as lxc-attach
 * makes it (a host pty has no name inside a container with its own
 * /dev/pts), else from node-pty on the host; either way before any namespace
 * is joined, sized as the caller's terminal, so the first `stty size` is right.
 *
 * Needs: nothing. Guarantees: in the attached process, the pty is the
 * controlling terminal and the std fds that were terminals; the master (and
 * the -L log) are published under PTY for the caller, who owns them (with
 * `tty`: under TERMINAL, as a PtyStream that owns them).
 */
export class OpenPty implements Stage {
  readonly id = 'open-pty';
  readonly description = 'a new pty for the std fds that are terminals (or all three, for tty), as controlling terminal of a new session';
  readonly after = ['resolve-target'];
  readonly before = [optional('join-namespaces'), 'exec'];

  toggle(request: AttachRequest): StageToggle {
    if (request.tty) return { enabled: true, reason: `tty ${request.tty.cols}x${request.tty.rows} asked: the pty is fds 0, 1, 2` };
    const fds = terminalFds(request);
    if (fds.every((fd) => fd === null)) return { enabled: false, reason: 'no std fd is a terminal' };
    return { enabled: true, reason: `${describeTerminalFds(fds)}: the pty stands in` };
  }

  plan(ctx: StageContext): void {
    const { tty } = ctx.request;
    // tty: the pty is all three std fds, whatever the caller's are, and
    // the caller reads it as a stream (AttachedProcess.terminal).
    const terminals = tty ? undefined : terminalFds(ctx.request);
    const log = ctx.request.ptyLog === undefined ? undefined : openLog(ctx, ctx.request.ptyLog);
    let pair: PtyPair;
    try {
      pair = allocate(ctx, tty ? winsize(tty.cols, tty.rows) : callerWinsize(ctx, terminals!.find((fd) => fd !== null)!));
    } catch (err) {
      if (log !== undefined) closeSync(log);
      throw err;
    }
    ctx.defer(() => closeSync(pair.slave)); // the master gets EIO once the command side is all closed
    const discard = ({ master }: { master: number }) => {
      closeSync(master);
      if (log !== undefined) closeSync(log);
    };
    const { master, path } = pair;
    if (terminals) ctx.publish(PTY, { master, path, terminals, ...(log === undefined ? {} : { log }) }, discard);
    else {
      const { libc } = ctx;
      const open: OpenTerminal = (proc) => new PtyStream({ master, path, ...(log === undefined ? {} : { log }) }, proc, libc);
      ctx.publish(TERMINAL, open, () => discard(pair));
    }

    // The slave replaces the caller's terminals as the command's std fds
    // from the start: the caller's terminal never reaches the executor, so
    // it is never in the target's pid namespace, even before exec.
    const slave = ctx.program.passFd(pair.slave, { attached: true });
    ctx.set(PTY_SLAVE, slave);
    for (const n of [0, 1, 2] as const) if (!terminals || terminals[n] !== null) ctx.program.setStdio(n, pair.slave);
    ctx.program.syscall('terminal', 'ioctl', [imm(slave), imm(TIOCSCTTY), imm(0)], { operation: `ioctl(${pair.path}, TIOCSCTTY)` });
  }
}

/**
 * The -L log, for appending, created mode 0600 as lxc-attach makes it, but
 * with what root appending to a path a user may control needs (lxc-attach
 * has none of it):
 * - O_NOFOLLOW: a symlink (a user's, to a root-owned file) is refused (ELOOP);
 * - O_NONBLOCK, O_NOCTTY: a FIFO without a reader fails (ENXIO) instead of
 *   hanging, and a terminal does not become ours; then fstat refuses
 *   anything but a regular file (a FIFO with a reader, a device, a directory);
 * - a file owned by another user than the one attachkit runs as is refused:
 *   root's session must not land in a file its owner can read (or that
 *   some other service relies on).
 * Each refusal is one error of this stage naming the path.
 */
function openLog(ctx: StageContext, path: string): number {
  const operation = `open("${path}") of the pty log`;
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW
      | constants.O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0o600);
  } catch (err) {
    const symlink = (err as NodeJS.ErrnoException).code === 'ELOOP';
    throw ctx.error(symlink ? `open("${path}", O_NOFOLLOW) of the pty log` : operation, err);
  }
  try {
    const refusal = refuseLog(fstatSync(fd));
    if (refusal) throw ctx.error(operation, new Error(`${refusal}: refused`));
    ctx.libc.fcntl(fd, F_SETFL, ctx.libc.fcntl(fd, F_GETFL, 0) & ~O_NONBLOCK);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw ctx.error(operation, err);
  }
}

/** Why the opened -L file is not one to append to, if it is not. */
function refuseLog(st: Stats): string | undefined {
  if (!st.isFile()) return `it is ${fileKind(st)}, not a regular file`;
  const euid = process.geteuid!();
  if (st.uid !== euid) return `it is owned by uid ${st.uid}, not by uid ${euid} that attachkit runs as`;
  return undefined;
}

/** The caller's terminal's window size. */
function callerWinsize(ctx: StageContext, fd: number): Buffer {
  try {
    return getWinsize(ctx.libc, fd);
  } catch (err) {
    throw ctx.error(`ioctl(${fd}, TIOCGWINSZ) of the caller's terminal`, err);
  }
}

/** A pair of this size: of the target's devpts when it has its own, else node-pty's. */
function allocate(ctx: StageContext, size: Buffer): PtyPair {
  const own = openContainerPty(ctx, size);
  if (own) {
    try {
      secureSlave(ctx.libc, own);
    } catch (err) {
      closeSync(own.master);
      closeSync(own.slave);
      throw ctx.error(`fcntl(${own.path}, F_SETFL) of ${ctx.target.description}`, err);
    }
    return own;
  }
  let pair: PtyPair;
  try {
    pair = openPtyPair(winsizeCols(size), winsizeRows(size));
  } catch (err) {
    throw ctx.error('openpty(3) on the host, through node-pty', err);
  }
  try {
    secure(ctx.libc, pair);
  } catch (err) {
    closeSync(pair.master);
    closeSync(pair.slave);
    throw ctx.error(`fcntl on ${pair.path}`, err);
  }
  return pair;
}

/**
 * openpty(3) has no O_CLOEXEC: set it before anything else can fork (no JS
 * runs in between; only the executor gets the slave, on purpose). node-pty
 * makes both ends non-blocking; the slave becomes the command's stdio, which
 * must block as a terminal's does (they share the open file description).
 */
function secure(libc: Libc, pair: PtyPair): void {
  libc.fcntl(pair.master, F_SETFD, FD_CLOEXEC);
  libc.fcntl(pair.slave, F_SETFD, FD_CLOEXEC);
  secureSlave(libc, pair);
}

function secureSlave(libc: Libc, { slave }: PtyPair): void {
  libc.fcntl(slave, F_SETFL, libc.fcntl(slave, F_GETFL, 0) & ~O_NONBLOCK);
}
