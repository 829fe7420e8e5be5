import { contextKey } from '@attachkit/core';
import type { TerminalFds } from './terminals.js';

/**
 * The host side of the attached process's terminal, published by open-pty
 * for the caller of Pipeline.spawn() (`proc.get(PTY)`). The caller owns the
 * fds from then on: proxyTerminal() uses and closes them.
 */
export interface PtySession {
  /** The master: O_NONBLOCK, close-on-exec. */
  readonly master: number;
  /** The slave's path on the host (/dev/pts/N). */
  readonly path: string;
  /** For each of the command's fds 0, 1, 2: the caller's terminal fd the pty stands in for, or null. */
  readonly terminals: TerminalFds;
  /** -L: the log file, opened O_APPEND, mode 0600, as lxc-attach opens it. */
  readonly log?: number;
}

export const PTY = contextKey<PtySession>('pty');

/** The slave's fd number in the executor, for the stages after open-pty. */
export const PTY_SLAVE = contextKey<number>('pty/slave');
