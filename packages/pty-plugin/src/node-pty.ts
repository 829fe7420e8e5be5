import { createRequire } from 'node:module';

/** A pty pair, as node-pty's native `open` returns it. */
export interface PtyPair {
  readonly master: number;
  readonly slave: number;
  /** The slave's path on the host: /dev/pts/N. */
  readonly path: string;
}

interface NativePty {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}

let native: NativePty | undefined;

/**
 * A bare master/slave pair from node-pty, spawning nothing. node-pty's
 * JavaScript API has no such thing (`spawn` forks a process, `open` wraps
 * both ends in read streams); its native binding's `open` is openpty(3) with
 * the size set, and is what we use, loaded by node-pty's own loader.
 *
 * Both fds come back O_NONBLOCK and without FD_CLOEXEC; the caller fixes that.
 */
export function openPtyPair(cols: number, rows: number): PtyPair {
  if (!native) {
    const require = createRequire(import.meta.url);
    const { loadNativeModule } = require('node-pty/lib/utils') as { loadNativeModule(name: string): { module: NativePty } };
    native = loadNativeModule('pty').module;
  }
  const { master, slave, pty } = native.open(cols, rows);
  return { master, slave, path: pty };
}
