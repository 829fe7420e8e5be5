import { closeSync, fstatSync, openSync, readlinkSync, statSync } from 'node:fs';
import {
  CONTAINER_MODEL, O_CLOEXEC, O_DIRECTORY, O_PATH, openInRoot, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
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
  let master: number | undefined;
  try {
    // Looked at before it is opened: a node the container put there under
    // that name could be any device, and opening some does something.
    const node = libc.openat2(devpts, 'ptmx', O_PATH | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
    try {
      const st = fstatSync(node);
      if (!st.isCharacterDevice() || st.rdev !== PTMX_RDEV) throw new Error('the container\'s devpts has no ptmx device node');
      master = openSync(`/proc/self/fd/${node}`, O_RDWR | O_NOCTTY | O_CLOEXEC);
    } finally {
      closeSync(node);
    }
    libc.ioctl(master, TIOCSPTLCK, Buffer.alloc(4)); // unlockpt
    const n = Buffer.alloc(4);
    libc.ioctl(master, TIOCGPTN, n);
    const slave = libc.ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    setWinsize(libc, master, winsize);
    return { master, slave, path: `/dev/pts/${n.readUInt32LE(0)}` };
  } catch (err) {
    if (master !== undefined) closeSync(master);
    throw ctx.error("opening a pty of the target's devpts", err);
  } finally {
    closeSync(devpts);
  }
}

/** The target's devpts directory, when it is not ours. */
function containerDevpts(ctx: StageContext): number | undefined {
  const model = ctx.get(CONTAINER_MODEL);
  if (model?.devpts) return model.devpts();
  if (readlinkSync(`/proc/${ctx.target.pid}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt')) return undefined;
  let dir: number;
  try {
    dir = openInRoot(ctx.libc, ctx.target, 'dev/pts', O_PATH | O_DIRECTORY | O_CLOEXEC);
  } catch {
    return undefined;
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

