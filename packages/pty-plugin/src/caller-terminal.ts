import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { SyscallError, type Libc } from '@attachkit/core';
import { getTermios } from './termios.js';

/** The caller's terminal fds, as the proxy reads, writes and leaves them. */

/**
 * The output terminal, opened anew: a description of our own that blocks, so
 * that a slow terminal slows the command down instead of filling memory, and
 * whatever shares the caller's description is not affected. The fd as is,
 * when the terminal cannot be reopened.
 */
export function openOutput(fd: number): number {
  try {
    return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NOCTTY);
  } catch {
    return fd;
  }
}

export function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); // a non-blocking fd we could not reopen
    }
  }
}

/** Append the command's output to the -L log: the log, or undefined once a write failed (a full disk must not stop the session). */
export function appendLog(log: number | undefined, chunk: Buffer): number | undefined {
  if (log === undefined) return undefined;
  try {
    writeAll(log, chunk);
    return log;
  } catch {
    closeQuietly(log);
    return undefined;
  }
}

const EIO = 5;

/**
 * Node 20 aborts at exit when it cannot restore the startup mode of a std fd
 * whose terminal has hung up (nodejs/node#51519, fixed in #58200); it skips
 * fds that no longer refer to the file they did at startup. So a std fd on a
 * hung-up terminal — useless from now on — is pointed at /dev/null, and the
 * command's exit status survives the terminal.
 */
export function detachHungUpStdio(libc: Libc): void {
  for (const fd of [0, 1, 2]) {
    try {
      getTermios(libc, fd);
    } catch (err) {
      if (!(err instanceof SyscallError && err.errno === EIO)) continue;
      const devNull = openSync('/dev/null', constants.O_RDWR);
      try {
        libc.syscall('dup3', [devNull, fd, 0]);
      } catch {
        // keep going: the worst case is Node's abort message
      } finally {
        closeSync(devNull);
      }
    }
  }
}

/**
 * The complete lines waiting in a canonical-mode terminal, read through a
 * non-blocking description of our own (the caller's stays as it was), as a
 * canonical read() returns them: one line at a time, a 0-length read for an
 * EOF mark (dropped). Stops at the first EAGAIN: what is left is a partial
 * line, read raw later. Bounded, should something keep writing lines.
 */
export function readCompleteLines(fd: number): Buffer | undefined {
  let own: number;
  try {
    own = openSync(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  const chunks: Buffer[] = [];
  try {
    const buf = Buffer.allocUnsafe(4096);
    for (let total = 0, reads = 0; total < 1024 * 1024 && reads < 4096; reads++) {
      let n: number;
      try {
        n = readSync(own, buf, 0, buf.length, null);
      } catch {
        break; // EAGAIN: no complete line left (or the terminal is gone)
      }
      if (n > 0) chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
    }
  } finally {
    closeQuietly(own);
  }
  return chunks.length ? Buffer.concat(chunks) : undefined;
}

export function isTerminal(libc: Libc, fd: number): boolean {
  try {
    getTermios(libc, fd);
    return true;
  } catch {
    return false;
  }
}

export function sameTerminal(a: number, b: number): boolean {
  return a === b || fstatSync(a).rdev === fstatSync(b).rdev;
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
