import { isatty } from 'node:tty';
import type { AttachRequest } from '@attachkit/core';

/**
 * For each of the command's fds 0, 1, 2: the caller's fd it would get, when
 * that fd is a terminal; null when it is redirected (or a pipe the library
 * makes). lxc-attach's rule: a pty is allocated when any std fd is a
 * terminal, and stands in for exactly those.
 */
export type TerminalFds = readonly [number | null, number | null, number | null];

export function terminalFds(request: AttachRequest): TerminalFds {
  const stdio = request.stdio ?? ['inherit', 'inherit', 'inherit'];
  const one = (n: 0 | 1 | 2): number | null => {
    const s = stdio[n];
    const fd = s === 'inherit' ? n : typeof s === 'number' ? s : null;
    return fd !== null && isatty(fd) ? fd : null;
  };
  return [one(0), one(1), one(2)];
}

export function describeTerminalFds(fds: TerminalFds): string {
  const on = [0, 1, 2].filter((n) => fds[n] !== null);
  return on.length === 1 ? `fd ${on[0]} is a terminal` : `fds ${on.join(', ')} are terminals`;
}
