import { readSync } from 'node:fs';
import type { SocketConstructorOpts } from 'node:net';
import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ReadStream } from 'node:tty';
import {
  AttachError, checkTerminalSize, ErrorCodes, F_DUPFD_CLOEXEC, F_GETFL, F_SETFL, O_NONBLOCK, SyscallError,
  type AttachedProcess, type AttachedTerminal, type Libc,
} from '@attachkit/core';
import { appendLog, closeQuietly } from './caller-terminal.js';
import { MasterWriter } from './master-writer.js';
import { DRAIN_LIMITS, type DrainLimits } from './proxy.js';
import { setWinsize, winsize } from './termios.js';

/** The fds a PtyStream takes over: the pty's master and the optional -L log. */
export interface PtyStreamFds {
  readonly master: number;
  /** The slave's name, for errors: /dev/pts/N (in the container, for a pty of its devpts). */
  readonly path: string;
  readonly log?: number;
}

/**
 * The caller's side of the command's pty (the request's `tty`), as a duplex
 * stream over the master, for a program with no terminal of its own (a
 * server giving a browser a shell):
 *
 * - reading gives what the command wrote (Buffers), with backpressure: a
 *   caller that stops reading stops the reading of the master, and the
 *   command blocks once the pty is full, as with a terminal;
 * - writing types into the pty, without blocking the event loop
 *   (MasterWriter); a write after the end is dropped: the command is gone;
 * - ending the writable side sends nothing: EOF is the terminal's own
 *   character (Ctrl-D, '\x04'), for the caller to write;
 * - when the command has exited, the master is drained as the CLI's proxy
 *   drains it (until EIO or EAGAIN: empty; at most DRAIN_LIMITS), then the
 *   readable side ends and every fd is closed. It ends sooner when nobody
 *   holds the slave any more (EIO);
 * - destroy() hangs the session up: the master is closed, the kernel sends
 *   the command (the session leader) SIGHUP;
 * - resize() sets the window size; the command's foreground job gets SIGWINCH.
 */
export class PtyStream extends Duplex implements AttachedTerminal {
  /** The pty's name, as the command sees it: /dev/pts/N. */
  readonly path: string;
  /** Until the end or destroy(). */
  private master: number | undefined;
  private log: number | undefined;
  /** libuv's reading of the master, on a duplicate it owns. */
  private reader: ReadStream | undefined;
  private readonly writer: MasterWriter;
  private writerFull = false;
  private heldWrite: (() => void) | undefined;
  private draining = false;

  constructor(fds: PtyStreamFds, proc: AttachedProcess, private readonly libc: Libc, private readonly limits: DrainLimits = DRAIN_LIMITS) {
    super({ allowHalfOpen: true, decodeStrings: true });
    this.path = fds.path;
    this.master = fds.master;
    this.log = fds.log;
    // Non-blocking, whoever made it (a pty of a container's devpts is opened
    // blocking): the writer needs EAGAIN on a full pty, the drain on an empty one.
    libc.fcntl(fds.master, F_SETFL, libc.fcntl(fds.master, F_GETFL, 0) | O_NONBLOCK);
    this.writer = new MasterWriter(fds.master, (full) => {
      this.writerFull = full;
      if (!full) this.releaseWrite();
    });
    const reader = new ReadStream(libc.fcntl(fds.master, F_DUPFD_CLOEXEC, 0), {} as SocketConstructorOpts);
    this.reader = reader;
    reader.on('data', (chunk: Buffer) => {
      if (!this.deliver(chunk)) reader.pause();
    });
    // EIO (or EOF): nobody holds the slave any more, the command's side is all closed.
    const closed = () => { void this.drain(); };
    reader.on('error', closed);
    reader.on('end', closed);
    void proc.exited.then(() => this.drain());
  }

  resize(cols: number, rows: number): void {
    checkTerminalSize(cols, rows, 'resize()');
    if (this.master === undefined) return;
    try {
      setWinsize(this.libc, this.master, winsize(cols, rows));
    } catch (err) {
      if (!(err instanceof SyscallError)) throw err;
      throw AttachError.fromErrno(ErrorCodes.STAGE_FAILED, {
        stage: 'open-pty', operation: `ioctl(${this.path}, TIOCSWINSZ)`, syscall: err.syscall, errno: err.errno, cause: err,
      });
    }
  }

  override _read(): void {
    if (!this.draining) this.reader?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.master === undefined) {
      done(); // the command is gone: nobody reads it
      return;
    }
    this.writer.write(chunk);
    if (this.writerFull) this.heldWrite = done;
    else done();
  }

  override _final(done: (error?: Error | null) => void): void {
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.close();
    done(error);
  }

  /**
   * After the command's exit (or once the slave is all closed): what libuv
   * read and still holds first, then the master read here until it is empty
   * — EIO: nobody holds the slave; EAGAIN: a background process still does
   * but wrote nothing — or a bound of `limits` is reached. One chunk at a
   * time, yielding in between. Then the end, and every fd closed.
   */
  private async drain(): Promise<void> {
    if (this.draining || this.master === undefined) return;
    this.draining = true;
    const reader = this.reader;
    if (reader) {
      reader.pause();
      reader.removeAllListeners('data'); // read() below emits 'data' too
      for (let chunk = reader.read() as Buffer | null; chunk !== null; chunk = reader.read() as Buffer | null) this.deliver(chunk);
      this.reader = undefined;
      reader.destroy(); // closes its duplicate of the master
    }
    const deadline = performance.now() + this.limits.maxMs;
    let left = this.limits.maxBytes;
    const buf = Buffer.allocUnsafe(64 * 1024);
    while (this.master !== undefined && left > 0 && performance.now() < deadline) {
      let n: number;
      try {
        n = readSync(this.master, buf, 0, Math.min(buf.length, left), null);
      } catch {
        break; // EIO or EAGAIN: all read
      }
      if (n === 0) break;
      this.deliver(Buffer.from(buf.subarray(0, n)));
      left -= n;
      await nextTurn();
    }
    if (this.master === undefined) return; // destroyed meanwhile
    this.push(null);
    this.close();
  }

  /** To the reader and the -L log; false when the reader wants no more for now. */
  private deliver(chunk: Buffer): boolean {
    this.log = appendLog(this.log, chunk);
    return this.push(chunk);
  }

  private releaseWrite(): void {
    const done = this.heldWrite;
    this.heldWrite = undefined;
    done?.();
  }

  /** Close every fd (the pty hangs up with the last of the master's). */
  private close(): void {
    this.writer.close();
    this.releaseWrite();
    this.reader?.destroy();
    this.reader = undefined;
    if (this.master !== undefined) closeQuietly(this.master);
    this.master = undefined;
    if (this.log !== undefined) closeQuietly(this.log);
    this.log = undefined;
  }
}
