import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { O_CLOEXEC, O_NONBLOCK, O_PATH, O_RDONLY, RESOLVE_IN_ROOT } from '../libc/constants.js';
import type { Libc } from '../libc/libc.js';
import type { ResolvedTarget } from '../pipeline/context.js';

type RootOf = Pick<ResolvedTarget, 'pid' | 'pidfd'> | 'self';

/**
 * Open `path` in the root filesystem of `target` (or in our own, 'self')
 * from the parent: through /proc/<pid>/root with openat2(RESOLVE_IN_ROOT), so
 * that no symlink or `..` inside the container leads out to a host file. The
 * root is checked against the target's pidfd once opened: it belongs to the
 * process we hold. Throws SyscallError: `openat2` ENOENT when the path does
 * not exist there, `pidfd_send_signal` when the target is gone.
 */
export function openInRoot(libc: Libc, target: RootOf, path: string, flags: number): number {
  const root = openSync(target === 'self' ? '/' : `/proc/${target.pid}/root`, 'r');
  try {
    if (target !== 'self') libc.pidfdSendSignal(target.pidfd, 0);
    return libc.openat2(root, path.replace(/^\/+/, ''), flags, RESOLVE_IN_ROOT);
  } finally {
    closeSync(root);
  }
}

/** What readLinesInRoot reads at most unless told otherwise: far beyond any real passwd or group file. */
export const TARGET_FILE_MAX_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const MIB = 1024 * 1024;

/** A file of a target's root that readLinesInRoot refused; `problem` completes "<path> …" ("is not a regular file (a FIFO)"). */
export class TargetFileError extends Error {
  constructor(readonly path: string, readonly problem: string) {
    super(`${path} ${problem}: refused`);
    this.name = 'TargetFileError';
  }
}

export interface ReadInRootOptions {
  /** Refuse the file beyond this many bytes (default TARGET_FILE_MAX_BYTES). */
  readonly maxBytes?: number;
}

/**
 * The lines (without their '\n') of `path` in the root of `target`, read in
 * chunks through one fd: the container owns that file and may have made it
 * a FIFO (an open that never returns), a link to /dev/zero (endless) or a
 * huge sparse file. So it must be a regular file (anything else is refused
 * before it is opened for reading), at most `maxBytes` long (checked on its
 * size first, then on what is read), and is never held whole in memory.
 * Lazy: the file is opened by the first next(), closed when the iteration
 * ends, however it ends. Throws SyscallError as openInRoot does (ENOENT when
 * the path does not exist there), TargetFileError when refused.
 */
export function* readLinesInRoot(libc: Libc, target: RootOf, path: string, options: ReadInRootOptions = {}): Generator<string, void, undefined> {
  const maxBytes = options.maxBytes ?? TARGET_FILE_MAX_BYTES;
  const fd = openRegularInRoot(libc, target, path, maxBytes);
  try {
    yield* linesOf(fd, path, maxBytes);
  } finally {
    closeSync(fd);
  }
}

/** An fd for reading `path`, once proven a regular file within the cap. */
function openRegularInRoot(libc: Libc, target: RootOf, path: string, maxBytes: number): number {
  // O_PATH first: opening a device can act by itself (a watchdog arms, a
  // tape rewinds, a tty becomes ours), so only a regular file is opened for reading.
  const handle = openInRoot(libc, target, path, O_PATH | O_CLOEXEC);
  try {
    refuseUnsafe(fstatSync(handle), path, maxBytes);
    // The same inode again, readable. Non-blocking and no ctty all the same:
    // should anything but a regular file get here, its open cannot hang or adopt a terminal.
    const fd = openSync(`/proc/self/fd/${handle}`, O_RDONLY | O_NONBLOCK | O_CLOEXEC | constants.O_NOCTTY);
    try {
      refuseUnsafe(fstatSync(fd), path, maxBytes);
      return fd;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  } finally {
    closeSync(handle);
  }
}

function refuseUnsafe(st: Stats, path: string, maxBytes: number): void {
  if (!st.isFile()) throw new TargetFileError(path, `is not a regular file (${fileKind(st)})`);
  // A sparse file fails here, before a byte of it is read.
  if (st.size > maxBytes) throw tooLarge(path, maxBytes);
}

/** The lines of `fd`, decoded as UTF-8 across chunk boundaries; the cap also counts what is read (a file can grow). */
function* linesOf(fd: number, path: string, maxBytes: number): Generator<string, void, undefined> {
  const buf = Buffer.alloc(Math.min(CHUNK_BYTES, maxBytes + 1));
  const decoder = new StringDecoder('utf8');
  let pending: string[] = []; // the current line's pieces: joined once, not re-concatenated per chunk
  let total = 0;
  for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) {
    total += n;
    if (total > maxBytes) throw tooLarge(path, maxBytes);
    const text = decoder.write(buf.subarray(0, n));
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      pending.push(text.slice(start, nl));
      yield pending.join('');
      pending = [];
      start = nl + 1;
    }
    if (start < text.length) pending.push(text.slice(start));
  }
  pending.push(decoder.end());
  const last = pending.join('');
  if (last) yield last;
}

function tooLarge(path: string, maxBytes: number): TargetFileError {
  const limit = maxBytes % MIB === 0 ? `${maxBytes / MIB} MiB` : `${maxBytes} bytes`;
  return new TargetFileError(path, `is larger than ${limit}`);
}

/** What a file that is not a regular file is, in words: `a FIFO`, `a directory`, … */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'an unknown type';
}
