import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** A state or config file larger than this is no runtime's: refused rather than read whole. */
const MAX_BYTES = 16 << 20;

/**
 * Read a runtime's state or config file as root would trust it: a regular
 * file (opened non-blocking, never a FIFO to hang on), owned by root or by
 * the caller, writable by no one else, and of a sane size. What a runtime's
 * files say decides which process attachkit enters and what it applies there:
 * a file another user could write must not decide it.
 */
export function readTrustedFile(path: string): string {
  return readTrustedBytes(path).toString('utf8');
}

/** readTrustedFile's bytes. */
export function readTrustedBytes(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    const euid = process.geteuid?.() ?? 0;
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    if (st.uid !== 0 && st.uid !== euid) throw new Error(`${path} is owned by uid ${st.uid}, neither root nor the caller: not trusted`);
    if (st.mode & 0o022) throw new Error(`${path} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}): not trusted`);
    if (st.size > MAX_BYTES) throw new Error(`${path} is larger than ${MAX_BYTES >> 20} MiB`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
