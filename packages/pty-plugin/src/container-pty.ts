import { closeSync, fstatSync, openSync, readlinkSync, statSync } from 'node:fs';
import {
  CONTAINER_MODEL, fileKind, O_CLOEXEC, O_DIRECTORY, O_PATH, openInRoot, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
  type StageContext,
} from '@attachkit/core';
import { O_NOCTTY, O_RDWR, TIOCGPTN, TIOCGPTPEER, TIOCSPTLCK } from './constants.js';
import type { PtyPair } from './node-pty.js';
import { setWinsize } from './termios.js';

/** /dev/ptmx and every devpts ptmx node: character device 5:2. */
const PTMX_RDEV = (5 << 8) | 2;

/**
 * A pty of the target's own devpts, as lxc-attach makes it (terminal.c,
 * lxc_devpts_terminal): the container's devpts directory (from its monitor,
 * GET_DEVPTS_FD; for a --pid target in another mount namespace, its
 * /dev/pts read in its root), its `ptmx` opened beneath it without following
 * anything out of that mount, the slave unlocked and opened with TIOCGPTPEER
 * (no path lookup inside the container). Inside, `tty` then names it
 * /dev/pts/N. (give-pty hands it to the command's user, as LXC does.)
 *
 * Undefined when the target shares our devpts or has none: node-pty's pair
 * serves then, as lxc-attach falls back to openpty(3).
 */
export function openContainerPty(ctx: StageContext, winsize: Buffer): PtyPair | undefined {
  const devpts = containerDevpts(ctx);
  if (devpts === undefined) return undefined;
  const { libc } = ctx;
  const of = `in the devpts of ${ctx.target.description}`;
  // Each step fails as one error naming what it did, in whose devpts.
  const step = <T>(operation: string, run: () => T): T => {
    try {
      return run();
    } catch (err) {
      throw ctx.error(`${operation} ${of}`, err);
    }
  };
  let master: number | undefined;
  try {
    // Looked at before it is opened: a node the container put there under
    // that name could be any device, and opening some does something.
    const node = step('openat2("/dev/pts/ptmx", O_PATH, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV)',
      () => libc.openat2(devpts, 'ptmx', O_PATH | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV));
    try {
      const st = step('fstat("/dev/pts/ptmx")', () => fstatSync(node));
      if (!st.isCharacterDevice() || st.rdev !== PTMX_RDEV) {
        const kind = st.isFile() ? 'a regular file' : st.isCharacterDevice() ? `character device ${st.rdev >> 8}:${st.rdev & 0xff}` : fileKind(st);
        throw ctx.error(`open("/dev/pts/ptmx") ${of}`, new Error(`it is ${kind}, not the ptmx device (5:2): refused`));
      }
      master = step('open("/dev/pts/ptmx", O_RDWR|O_NOCTTY)', () => openSync(`/proc/self/fd/${node}`, O_RDWR | O_NOCTTY | O_CLOEXEC));
    } finally {
      closeSync(node);
    }
    const fd = master;
    step('ioctl(ptmx, TIOCSPTLCK) (unlockpt)', () => libc.ioctl(fd, TIOCSPTLCK, Buffer.alloc(4)));
    const n = Buffer.alloc(4);
    step('ioctl(ptmx, TIOCGPTN)', () => libc.ioctl(fd, TIOCGPTN, n));
    const path = `/dev/pts/${n.readUInt32LE(0)}`;
    const slave = step(`ioctl(ptmx, TIOCGPTPEER) opening ${path}`, () => libc.ioctl(fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    try {
      step(`ioctl(${path}, TIOCSWINSZ)`, () => setWinsize(libc, fd, winsize));
    } catch (err) {
      closeSync(slave);
      throw err;
    }
    return { master, slave, path };
  } catch (err) {
    if (master !== undefined) closeSync(master);
    throw err;
  } finally {
    closeSync(devpts);
  }
}

/** The target's devpts directory, when it is not ours. */
function containerDevpts(ctx: StageContext): number | undefined {
  const model = ctx.get(CONTAINER_MODEL);
  if (model?.devpts) {
    try {
      return model.devpts();
    } catch (err) {
      throw ctx.error(`getting the devpts directory of ${ctx.target.description}`, err);
    }
  }
  const theirs = ctx.readTarget(() => readlinkSync(`/proc/${ctx.target.pid}/ns/mnt`));
  let ours: string;
  try {
    ours = readlinkSync('/proc/self/ns/mnt');
  } catch (err) {
    throw ctx.error('readlink("/proc/self/ns/mnt")', err);
  }
  if (theirs === ours) return undefined;
  let dir: number;
  try {
    dir = openInRoot(ctx.libc, ctx.target, 'dev/pts', O_PATH | O_DIRECTORY | O_CLOEXEC);
  } catch {
    return undefined; // none: a pty of ours serves, as lxc-attach falls back to openpty(3)
  }
  if (!sameDevpts(dir)) return dir;
  closeSync(dir);
  return undefined;
}

/** A target in its own mount namespace may still see the host's devpts (a bind mount): then ours serves. */
function sameDevpts(dir: number): boolean {
  try {
    return fstatSync(dir).dev === statSync('/dev/pts').dev;
  } catch {
    return false;
  }
}

