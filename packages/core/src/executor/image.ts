import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AttachError, ErrorCodes } from '../errors.js';
import {
  F_ADD_SEALS, F_DUPFD_CLOEXEC, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE,
  MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC,
} from '../libc/constants.js';
import type { Libc } from '../libc/libc.js';

/** Set by `executorPath(path)`: the explicit choice of the program that embeds this library (the CLI's --executor). */
let explicitExecutor: string | undefined;

/**
 * Whether this process is privileged: effective uid 0, or any effective
 * capability (CapEff in /proc/self/status). Read only when ATTACHKIT_EXECUTOR
 * is set.
 */
function privileged(): boolean {
  if (process.geteuid?.() === 0) return true;
  try {
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return capEff === undefined || BigInt(`0x${capEff}`) !== 0n;
  } catch {
    return true;
  }
}

/**
 * The executor every attach of this process runs: the one `executorPath(path)`
 * named; else, in an unprivileged process, the one ATTACHKIT_EXECUTOR names;
 * else where `pnpm install` (scripts/build-executor.mjs) puts it.
 *
 * A privileged process (root, or any effective capability) ignores
 * ATTACHKIT_EXECUTOR: whoever can set root's environment must not choose the
 * program that root runs with its privileges in every attach. The explicit
 * choice is a call, `executorPath(path)`, before the attaches it is for.
 */
export function executorPath(path?: string): string {
  if (path !== undefined) explicitExecutor = path;
  if (explicitExecutor !== undefined) return explicitExecutor;
  const fromEnv = process.env.ATTACHKIT_EXECUTOR;
  return fromEnv && !privileged() ? fromEnv
    : fileURLToPath(new URL('../../../build/attachkit-executor', import.meta.url));
}

/**
 * Out of the way of the low fds the caller's own code uses, and below 256,
 * the size of a fresh Node process's fd table: growing the
 * table of a multi-threaded process waits for an RCU grace period
 * (expand_fdtable, fs/file.c), 8-18 ms here, on every CLI run.
 */
const IMAGE_FD_FLOOR = 192;

/** The memfd's name: /proc/<pid>/exe of the executor reads `/memfd:attachkit-executor (deleted)`. */
export const EXECUTOR_IMAGE_NAME = 'attachkit-executor';

const images = new WeakMap<Libc, { path: string; fd: number }>();

/**
 * A sealed, executable memfd holding the executor, made once per process and
 * exec'd fresh for every attach. Sealed (no write, grow, shrink, or new
 * seals): a process inside a container that reaches it through
 * /proc/<pid>/exe can neither change it nor any host file (CVE-2019-5736).
 */
export function executorImage(libc: Libc): number {
  const path = executorPath();
  const known = images.get(libc);
  if (known?.path === path) return known.fd;
  let image: Buffer;
  try {
    image = readFileSync(path);
  } catch (cause) {
    const message = path === explicitExecutor ? `cannot read the executor ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`
      : `the executor is not built (${path}); run the build (pnpm install) first`;
    throw new AttachError(ErrorCodes.EXECUTOR, message, { cause });
  }
  let fd: number;
  try {
    fd = libc.memfdCreate(EXECUTOR_IMAGE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  } catch {
    // Kernels before 6.3 do not know MFD_EXEC; their memfds are executable anyway.
    fd = libc.memfdCreate(EXECUTOR_IMAGE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
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
  // Another executor chosen since (executorPath(path)): the old image is only read by the spawns, synchronous, before this one.
  if (known !== undefined) libc.close(known.fd);
  images.set(libc, { path, fd });
  return fd;
}

/** The path through which the image is exec'd. */
export function executorImagePath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}
