import { accessSync, closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { F_ADD_SEALS, F_SEAL_EXEC, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE, MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC, SyscallError, type Libc } from '@attachkit/core';

/** The search path when the caller has no PATH (execvp's default). */
export const DEFAULT_SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The host file `command` names, as execvp would find it for the caller: a
 * name with a `/` as it is (relative to the caller's cwd), any other in the
 * caller's PATH (the first executable regular file). Its real path, or
 * undefined when there is none.
 */
export function findOnHost(command: string, searchPath: string): string | undefined {
  const candidates = command.includes('/') ? [resolve(command)]
    : searchPath.split(':').map((dir) => join(isAbsolute(dir) ? dir : resolve(dir || '.'), command));
  for (const path of candidates) {
    try {
      if (!statSync(path).isFile()) continue;
      accessSync(path, constants.X_OK);
      return realpathSync(path);
    } catch {
      // not there, or not executable: go on, as execvp does
    }
  }
  return undefined;
}

/**
 * A sealed memfd copy of the file open at `fd` (named after `path`):
 * executable, and sealed against writes, growth, shrinking, mode changes
 * (Linux 6.3's F_SEAL_EXEC, where there is one) and new seals, so that
 * nothing inside can change what the command runs, and nothing of it leads
 * back to a host file. The caller closes it.
 */
export function sealedCopy(libc: Libc, fd: number, path: string): number {
  const name = basename(path).slice(0, 240);
  let memfd: number;
  try {
    memfd = libc.memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  } catch (err) {
    // Before Linux 6.3 there is no MFD_EXEC; memfds are executable anyway.
    if (!(err instanceof SyscallError) || err.errno !== 22) throw err;
    memfd = libc.memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  }
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.alloc(1 << 20);
    for (let at = 0; at < size;) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
      if (n <= 0) throw new Error(`${path} shrank while it was copied`);
      for (let done = 0; done < n;) done += libc.write(memfd, chunk.subarray(done, n));
      at += n;
    }
    const seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    try {
      libc.fcntl(memfd, F_ADD_SEALS, seals | F_SEAL_EXEC);
    } catch (err) {
      if (!(err instanceof SyscallError) || err.errno !== 22) throw err;
      libc.fcntl(memfd, F_ADD_SEALS, seals);
    }
    return memfd;
  } catch (err) {
    closeSync(memfd);
    throw err;
  }
}

/** Open a host file for reading its ELF header and copying it. */
export function openProgram(path: string): number {
  return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** The first bytes of the file open at `fd`. */
export function head(fd: number, length = 4): Buffer {
  const b = Buffer.alloc(length);
  return b.subarray(0, readSync(fd, b, 0, length, 0));
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
