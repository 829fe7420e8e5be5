import { readSync } from 'node:fs';
import type { SocketConstructorOpts } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ReadStream } from 'node:tty';
import { F_DUPFD_CLOEXEC, F_GETFL, F_SETFL, O_NONBLOCK, realLibc, type AttachedProcess, type AttachResult, type Libc } from '@attachkit/core';
import { appendLog, closeQuietly, detachHungUpStdio, isTerminal, openOutput, readCompleteLines, sameTerminal, writeAll } from './caller-terminal.js';
import { MasterWriter } from './master-writer.js';
import type { PtySession } from './session.js';
import type { Controllable, TerminalControl } from './terminal-control.js';
import { eofChar, getTermios, getWinsize, isCanonical, rawOutputTermios, rawTermios, setTermios, setWinsize, withoutEof } from './termios.js';

const CR = 0x0d;
const LF = 0x0a;

/**
 * Connect the caller's terminal to the attached process's pty until the
 * command has exited and every byte of its output has been delivered; then
 * resolve with its result. What it does, and why:
 *
 * - The caller's stdin terminal (when the pty stands in for fd 0) goes raw,
 *   so that every key, Ctrl-C and Ctrl-\ included, reaches the command's
 *   terminal as a byte, and its line discipline decides (signal, EOF, ...).
 *   The terminal that shows the output gets output processing off (the pty
 *   already did it). Both are restored on every way out: the command's end,
 *   an error, an uncaught exception (process 'exit'); Node itself restores
 *   the startup modes of fds 0-2 when a signal kills it.
 * - Keys typed before the command started wait in the caller's terminal and
 *   are read now: nothing is flushed (lxc-attach flushes them). An
 *   end-of-file pending there is not a key: it is dropped, never passed on
 *   as the NUL byte the kernel keeps for it (enterRawMode).
 * - The window size is copied to the pty now and on every SIGWINCH; the
 *   kernel then signals the command's foreground job.
 * - EOF on the caller's stdin becomes the pty's EOF character, as typing
 *   Ctrl-D would (twice after a partial line, as a terminal needs).
 * - Output goes to the caller's terminal (fd 1, else 2, else 0) and to the
 *   -L log. When the command has exited, the master is drained: read until
 *   the pty is empty (EIO once nobody holds the slave, EAGAIN when another
 *   process still does but has nothing written), so no tail is lost. That
 *   drain is bounded (DRAIN_LIMITS) and runs on the event loop: another
 *   process that holds the slave (a background job, root inside opening
 *   /dev/pts/N) and writes on cannot keep attachkit alive, and SIGTERM,
 *   SIGINT, SIGHUP or SIGQUIT end it at once. The caller's keys are no
 *   longer read once the command has exited: they stay for its shell.
 * - A terminal that goes away (hung up: reads end, writes fail with EIO)
 *   hangs up the command in turn: it gets SIGHUP, as from a terminal
 *   emulator whose connection dropped. The output is still read (and
 *   logged) meanwhile, so the command never blocks.
 *
 * If the proxy cannot be set up, the command is killed: it would otherwise
 * run with nobody to read its terminal.
 */
export async function proxyTerminal(
  proc: AttachedProcess, session: PtySession, libc: Libc = realLibc(), drainLimits: DrainLimits = DRAIN_LIMITS,
  options: ProxyOptions = {},
): Promise<AttachResult> {
  let proxy: TerminalProxy;
  try {
    proxy = new TerminalProxy(proc, session, libc);
  } catch (err) {
    proc.kill('SIGKILL');
    await proc.exited;
    throw err;
  }
  options.control?.bind(proxy);
  try {
    const result = await proc.exited;
    await proxy.drain(drainLimits);
    return result;
  } finally {
    options.control?.bind(undefined);
    proxy.finish();
  }
}

export interface ProxyOptions {
  /** Hang up, suspend and resume the proxy from outside (the CLI's signal handling). */
  readonly control?: TerminalControl;
}

/** How much of the pty is still relayed once the command has exited: whichever bound comes first. */
export interface DrainLimits {
  /** Milliseconds after the command's exit. */
  readonly maxMs: number;
  /** Bytes relayed after the command's exit. */
  readonly maxBytes: number;
}

/**
 * What the command wrote before it exited and we have not read yet is what
 * the pty holds: at most its buffer, some 64 KiB (the kernel's tty buffer
 * limit) and the 4 KiB of the master's line discipline. 4 MiB is 60 times
 * that, and 1 s delivers it even to a terminal behind a 1 Mbit/s link: the
 * command's own output always arrives whole. Anything beyond can only come
 * from another process that holds the slave and keeps writing (a background
 * job, or root inside that joined group tty and opened /dev/pts/N): not the
 * command's, and not worth keeping the caller waiting for.
 */
export const DRAIN_LIMITS: DrainLimits = { maxMs: 1000, maxBytes: 4 * 1024 * 1024 };

/**
 * Signals that end the drain at once (the command is gone: there is nobody
 * to forward them to). Only when the process handles them (the CLI does,
 * from before the attach): otherwise their default action ends it anyway,
 * and listening would keep a library's caller alive.
 */
const DRAIN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

class TerminalProxy {
  private readonly master: number;
  private readonly modes: Array<{ fd: number; original: Buffer; applied?: Buffer }> = [];
  private suspended = false;
  private readonly streams: ReadStream[] = [];
  /** Where the output goes: the caller's terminal, reopened (openOutput). */
  private readonly out: number | undefined;
  /** fds the proxy opened and closes. */
  private readonly fds: number[] = [];
  private outBroken = false;
  private hungUp = false;
  private log: number | undefined;
  /** Until hangUpSession() has closed it. */
  private masterOpen = true;
  private readonly onWinch: () => void;
  private readonly onExit: () => void;
  private input: MasterWriter | undefined;
  /** The stream reading the caller's keys, and the duplicate of their terminal it was given. */
  private inputStream: { stream: ReadStream; fd: number } | undefined;
  /** Bytes of output delivered so far (the drain's byte bound). */
  private delivered = 0;
  private finished = false;

  constructor(private readonly proc: AttachedProcess, session: PtySession, private readonly libc: Libc) {
    this.master = session.master;
    this.log = session.log;
    const [stdin, stdout, stderr] = session.terminals;
    const output = stdout ?? stderr ?? stdin!;
    this.onExit = () => this.restoreModes();
    this.onWinch = () => this.resize(stdin ?? output);
    process.on('exit', this.onExit);
    try {
      // Non-blocking, whoever made it (a pty of a container's devpts is
      // opened blocking): the keys' writer needs EAGAIN on a full pty, and the
      // drain needs it on an empty one that another process still holds.
      this.libc.fcntl(this.master, F_SETFL, this.libc.fcntl(this.master, F_GETFL, 0) | O_NONBLOCK);
      let typedAhead: Buffer | undefined;
      if (stdin !== null) typedAhead = this.enterRawMode(stdin);
      if (stdin === null || !sameTerminal(stdin, output)) this.setMode(output, rawOutputTermios);
      this.resize(stdin ?? output);
      process.on('SIGWINCH', this.onWinch);
      this.out = openOutput(output);
      if (this.out !== output) this.fds.push(this.out);
      this.readMaster();
      if (stdin !== null) this.readInput(stdin, typedAhead);
    } catch (err) {
      this.finish();
      throw err;
    }
  }

  /**
   * After the command's exit: relay what is left in the pty until it is
   * empty (EIO: nobody holds the slave any more; EAGAIN: a background
   * process still does, but has nothing written — the kernel pushes pending
   * writes to the master before it answers either), or a bound of `limits`
   * is reached, or a signal asks us to stop. One chunk at a time, yielding
   * to the event loop in between, so that signal handlers run meanwhile.
   */
  async drain(limits: DrainLimits): Promise<void> {
    // The caller's keys are for its shell now, not for whatever still holds the pty.
    this.input?.close();
    this.stopInput();
    if (!this.masterOpen) return;
    const deadline = performance.now() + limits.maxMs;
    const byteLimit = this.delivered + limits.maxBytes;
    let stopped = false;
    const stop = () => { stopped = true; };
    const signals = DRAIN_SIGNALS.filter((signal) => process.listenerCount(signal) > 0);
    for (const signal of signals) process.on(signal, stop);
    try {
      const buf = Buffer.allocUnsafe(64 * 1024);
      while (!stopped && !this.finished && this.delivered < byteLimit && performance.now() < deadline) {
        let n: number;
        try {
          n = readSync(this.master, buf, 0, buf.length, null);
        } catch {
          return; // EIO or EAGAIN: all read
        }
        if (n === 0) return;
        this.deliver(buf.subarray(0, n)); // synchronous: buf is free again
        await nextTurn();
      }
    } finally {
      for (const signal of signals) process.off(signal, stop);
    }
  }

  private stopInput(): void {
    if (!this.inputStream) return;
    const { stream, fd } = this.inputStream;
    this.inputStream = undefined;
    // As finish() does, at once: libuv reads a terminal through a reopened
    // fd of its own, and leaves ours open (when it could not reopen it,
    // closing the stream closed ours: closed again here before the number
    // can be reused).
    stream.destroy();
    closeQuietly(fd);
    this.fds.splice(this.fds.indexOf(fd), 1);
    this.streams.splice(this.streams.indexOf(stream), 1);
  }

  /** Put everything back (after the drain, or on an error). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    process.off('SIGWINCH', this.onWinch);
    this.input?.close();
    for (const s of this.streams) s.destroy();
    for (const fd of this.masterOpen ? [...this.fds, this.master] : this.fds) closeQuietly(fd);
    this.masterOpen = false;
    if (this.log !== undefined) closeQuietly(this.log);
    this.restoreModes();
    process.off('exit', this.onExit);
    detachHungUpStdio(this.libc);
  }

  private setMode(fd: number, mode: (original: Buffer) => Buffer): void {
    const original = getTermios(this.libc, fd);
    // Saved first: a failure half way still restores.
    const saved: { fd: number; original: Buffer; applied?: Buffer } = { fd, original };
    this.modes.push(saved);
    saved.applied = mode(original);
    setTermios(this.libc, fd, saved.applied);
  }

  /** The caller's terminal modes back as they were, kept for resume(). */
  suspend(): void {
    if (this.finished || this.suspended) return;
    this.suspended = true;
    for (const { fd, original } of [...this.modes].reverse()) {
      try {
        setTermios(this.libc, fd, original, true);
      } catch {
        // gone
      }
    }
  }

  resume(): void {
    if (this.finished || !this.suspended) return;
    this.suspended = false;
    for (const { fd, applied } of this.modes) {
      try {
        if (applied) setTermios(this.libc, fd, applied);
      } catch {
        // gone
      }
    }
  }

  /**
   * Raw mode for the caller's stdin terminal, keeping what was typed ahead
   * but no end-of-file that is pending there. In canonical mode the kernel
   * keeps an EOF (VEOF typed, or sent by a program such as script(1) when
   * its own stdin ends) in the input buffer as a NUL byte marked as a line's
   * end; a canonical read() consumes it as a 0-length read, but once the
   * terminal is raw it is read as a NUL that nobody typed. So, before the
   * switch: VEOF is disabled (TCSANOW; an EOF arriving from now on is the
   * plain character, as in raw mode), every complete line waiting is read
   * in canonical mode, each EOF mark dropped; then raw mode (TCSANOW: a
   * partial line stays and is read raw). Returns the lines read.
   */
  private enterRawMode(fd: number): Buffer | undefined {
    const original = getTermios(this.libc, fd);
    this.modes.push({ fd, original }); // saved first: a failure half way still restores (applied: once set)
    let typedAhead: Buffer | undefined;
    if (isCanonical(original)) {
      setTermios(this.libc, fd, withoutEof(original));
      typedAhead = readCompleteLines(fd);
    }
    const raw = rawTermios(original);
    setTermios(this.libc, fd, raw);
    this.modes[this.modes.length - 1]!.applied = raw;
    return typedAhead;
  }

  private restoreModes(): void {
    for (const { fd, original } of this.modes.splice(0).reverse()) {
      try {
        setTermios(this.libc, fd, original, true);
      } catch {
        // The terminal is gone (EIO): nothing left to restore.
      }
    }
  }

  /**
   * Hang up the command's terminal (ProxyOptions.hangUp): restore the
   * caller's, stop reading it, and close every fd of the master we hold —
   * the pty's end comes with the last one.
   */
  hangUpSession(): void {
    if (this.finished || !this.masterOpen) return;
    this.input?.close();
    this.stopInput();
    this.restoreModes();
    this.masterOpen = false;
    process.off('SIGWINCH', this.onWinch);
    for (const s of this.streams) s.destroy(); // the master's duplicate (the output stream) closes with it
    this.streams.length = 0;
    closeQuietly(this.master);
  }

  private resize(from: number): void {
    if (!this.masterOpen) return;
    try {
      setWinsize(this.libc, this.master, getWinsize(this.libc, from));
    } catch {
      // The caller's terminal is gone; the command keeps its last size.
    }
  }

  /**
   * Output, read through libuv on a duplicate of the master (the stream owns
   * and closes it on EIO); the master itself stays ours for the final drain,
   * the input and the ioctls. Never paused: delivery is synchronous, so the
   * drain after exit continues exactly where the stream stopped.
   */
  private readMaster(): void {
    // Into one buffer of ours, straight from libuv's read (net.Socket's
    // `onread`): no stream machinery and no allocation per chunk, of which
    // a pty gives at most 4 KB at a time. deliver() writes synchronously,
    // so the buffer is free again when it returns.
    const buffer = Buffer.allocUnsafe(64 * 1024);
    const onread = { buffer, callback: (n: number) => { this.deliver(buffer.subarray(0, n)); } };
    // (Node passes the options on to net.Socket; its types do not list `onread` for a ReadStream.)
    const stream = new ReadStream(this.libc.fcntl(this.master, F_DUPFD_CLOEXEC, 0), { onread } as SocketConstructorOpts);
    this.streams.push(stream);
    stream.resume(); // nothing listens for 'data' to start the reading
    stream.on('error', () => { /* EIO: the command side is all closed; the drain confirms it */ });
  }

  private readInput(fd: number, typedAhead: Buffer | undefined): void {
    // On a duplicate: libuv reads a terminal through a description of its
    // own, which it puts over the fd it was given (and leaves that fd open);
    // the caller's fd stays as it was.
    const dup = this.libc.fcntl(fd, F_DUPFD_CLOEXEC, 0);
    this.fds.push(dup);
    const stream = new ReadStream(dup);
    this.streams.push(stream);
    this.inputStream = { stream, fd: dup };
    const input = (this.input = new MasterWriter(this.master, (high) => (high ? stream.pause() : stream.resume())));
    let last: number | undefined;
    if (typedAhead?.length) {
      last = typedAhead[typedAhead.length - 1];
      input.write(typedAhead);
    }
    stream.on('data', (chunk: Buffer) => {
      last = chunk[chunk.length - 1];
      input.write(chunk);
    });
    let ended = false;
    const end = () => {
      if (ended || this.finished) return;
      ended = true;
      if (!isTerminal(this.libc, fd)) { // a hung-up terminal refuses every ioctl
        this.hangUp();
        return;
      }
      // The command's terminal decides what EOF is: its VEOF, read from the
      // master (TCGETS there returns the slave's settings).
      let eof: number;
      try {
        eof = eofChar(getTermios(this.libc, this.master));
      } catch {
        return;
      }
      const partialLine = last !== undefined && last !== CR && last !== LF && last !== eof;
      input.write(Buffer.from(partialLine ? [eof, eof] : [eof]));
    };
    stream.on('end', end);
    stream.on('error', end); // EIO: the caller's terminal hung up
  }

  private deliver(chunk: Buffer): void {
    this.delivered += chunk.length;
    this.log = appendLog(this.log, chunk);
    if (this.out !== undefined && !this.outBroken) {
      try {
        writeAll(this.out, chunk);
      } catch {
        this.outBroken = true; // the terminal went away; keep reading so the command never blocks
        this.hangUp();
      }
    }
  }

  private hangUp(): void {
    if (this.hungUp || this.finished) return;
    this.hungUp = true;
    this.proc.kill('SIGHUP');
  }
}
