import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AttachError, ErrorCodes } from '../errors.js';
import {
  F_ADD_SEALS, F_DUPFD_CLOEXEC, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE,
  MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC,
} from '../libc/constants.js';
import type { Libc } from '../libc/libc.js';

/** Where `pnpm install` (scripts/build-executor.mjs) puts the executor. ATTACHKIT_EXECUTOR overrides it. */
export function executorPath(): string {
  return process.env.ATTACHKIT_EXECUTOR
    ?? fileURLToPath(new URL('../../../build/attachkit-executor', import.meta.url));
}

/**
 * Out of the way of the low fds the caller's own code uses, and below 256,
 * the size of a fresh Node process's fd table: growing the
 * table of a multi-threaded process waits for an RCU grace period
 * (expand_fdtable, fs/file.c), 8-18 ms here, on every CLI run.
 */
const IMAGE_FD_FLOOR = 192;

const images = new WeakMap<Libc, number>();

/**
 * A sealed, executable memfd holding the executor, made once per process and
 * exec'd fresh for every attach. Sealed (no write, grow, shrink, or new
 * seals): a process inside a container that reaches it through
 * /proc/<pid>/exe can neither change it nor any host file (CVE-2019-5736).
 */
export function executorImage(libc: Libc): number {
  const known = images.get(libc);
  if (known !== undefined) return known;
  let image: Buffer;
  const path = executorPath();
  try {
    image = readFileSync(path);
  } catch (cause) {
    throw new AttachError(ErrorCodes.EXECUTOR, `the executor is not built (${path}); run the build (pnpm install) first`, { cause });
  }
  let fd: number;
  try {
    fd = libc.memfdCreate('attachkit-executor', MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  } catch {
    // Kernels before 6.3 do not know MFD_EXEC; their memfds are executable anyway.
    fd = libc.memfdCreate('attachkit-executor', MFD_CLOEXEC | MFD_ALLOW_SEALING);
  }
  try {
    for (let off = 0; off < image.length;) off += libc.write(fd, image.subarray(off));
    libc.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    const high = libc.fcntl(fd, F_DUPFD_CLOEXEC, IMAGE_FD_FLOOR);
    libc.close(fd);
    fd = high;
  } catch (cause) {
    libc.close(fd);
    throw new AttachError(ErrorCodes.EXECUTOR, `cannot load the executor into a sealed memfd: ${(cause as Error).message}`, { cause });
  }
  images.set(libc, fd);
  return fd;
}

/** The path through which the image is exec'd. */
export function executorImagePath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}
