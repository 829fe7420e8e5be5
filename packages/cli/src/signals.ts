import type { AttachedProcess } from '@attachkit/core';
import type { PtySession } from '@attachkit/pty-plugin';

/**
 * Signals attachkit passes on to the attached process (docs/terminal.md).
 * lxc-attach forwards none; we do, so that `kill` of attachkit, a closed
 * terminal and Ctrl-C reach the command (it runs in its own session, so its
 * caller's terminal cannot signal it directly).
 *
 * - SIGTERM, SIGHUP, SIGUSR1, SIGUSR2: always, to the attached process.
 * - SIGINT, SIGQUIT: to the attached process when no pty carries the keys.
 *   When one does (stdin is a terminal, now raw), Ctrl-C and Ctrl-\ travel as
 *   bytes and the command's terminal signals its foreground job; the same
 *   signals sent to attachkit by other means are then ignored, as
 *   lxc-attach ignores them.
 * - SIGWINCH: with a pty, the terminal proxy resizes it (and the kernel
 *   signals the foreground job); without one, to the attached process.
 *
 * Caught from before the attach starts: a signal that arrives while the
 * command is being started is delivered to it once it runs (its default
 * action would kill attachkit and leave the command running unwatched).
 */
export const ALWAYS_FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
export const KEYBOARD_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];
const CAUGHT: readonly NodeJS.Signals[] = [...ALWAYS_FORWARDED, ...KEYBOARD_SIGNALS, 'SIGWINCH'];

export class SignalForwarder {
  private proc: AttachedProcess | undefined;
  private readonly pending: NodeJS.Signals[] = [];
  private readonly kept = new Set<NodeJS.Signals>();
  private readonly handlers = CAUGHT.map((signal) => [signal, () => this.receive(signal)] as const);

  /** Start catching (before the attach). */
  constructor() {
    for (const [signal, handler] of this.handlers) process.on(signal, handler);
  }

  /** Forward to the attached process from now on, after what arrived while it started. */
  attach(proc: AttachedProcess, pty: PtySession | undefined): void {
    const keysOnPty = pty !== undefined && pty.terminals[0] !== null;
    for (const signal of CAUGHT) {
      const forwarded = ALWAYS_FORWARDED.includes(signal)
        || (KEYBOARD_SIGNALS.includes(signal) && !keysOnPty)
        || (signal === 'SIGWINCH' && !pty);
      if (forwarded) this.kept.add(signal);
    }
    this.proc = proc;
    for (const signal of this.pending.splice(0)) proc.kill(signal);
  }

  stop(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
  }

  private receive(signal: NodeJS.Signals): void {
    if (!this.proc) this.pending.push(signal);
    else if (this.kept.has(signal)) this.proc.kill(signal);
  }
}
