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
 * both ends in read streams, the slave's included); its native binding's
 * `open` is openpty(3) with the size set, and is what we use.
 *
 * node-pty's distribution is @lydell/node-pty (node-pty 1.1.0 with prebuilt
 * binaries: no compiler at install). Its binding is the one file of the
 * platform package it depends on, `@lydell/node-pty-<os>-<cpu>/pty.node`,
 * resolved from @lydell/node-pty itself as its own loader does (the
 * platform package is its optional dependency, not ours).
 *
 * Both fds come back O_NONBLOCK and without FD_CLOEXEC; the caller fixes that.
 */
export function openPtyPair(cols: number, rows: number): PtyPair {
  native ??= loadBinding();
  const { master, slave, pty } = native.open(cols, rows);
  return { master, slave, path: pty };
}

function loadBinding(): NativePty {
  const fromPtyPackage = createRequire(createRequire(import.meta.url).resolve('@lydell/node-pty'));
  const binary = `@lydell/node-pty-${process.platform}-${process.arch}/pty.node`;
  try {
    return fromPtyPackage(binary) as NativePty;
  } catch (err) {
    throw new Error(`cannot load node-pty's binding ${binary} (is @lydell/node-pty installed with its optional dependencies, on a platform it supports?)`, { cause: err });
  }
}
