import type { AttachedProcess } from '@attachkit/core';
import type { PtySession, TerminalControl } from '@attachkit/pty-plugin';

/**
 * Signals attachkit passes on to the command (docs/terminal.md, "Signals").
 * The command runs in a session of its own (TIOCSTI: nothing inside may
 * reach the caller's terminal), so the caller's terminal signals attachkit
 * alone; attachkit does for the command what a terminal would do for a
 * foreground job, to its whole **process group** (AttachedProcess.killGroup:
 * the command, a shell's children, a pipeline), never to a recycled pid.
 *
 * Two modes, by who carries the keys:
 *
 * - **The pty carries them** (stdin is a terminal, now raw): Ctrl-C, Ctrl-\,
 *   Ctrl-Z travel as bytes and the command's terminal signals its foreground
 *   job; SIGINT, SIGQUIT, SIGTSTP sent to attachkit by other means are
 *   ignored (as lxc-attach ignores them), SIGCONT does nothing. SIGTERM and
 *   SIGHUP hang up the session, as lxc-attach's death does: the pty is
 *   closed, the shell (session leader) gets SIGHUP, and when it exits the
 *   kernel sends SIGHUP to its foreground job; the command's group gets
 *   SIGHUP too. SIGWINCH: the proxy resizes the pty.
 * - **No pty carries them** (stdin is not a terminal; the caller's terminal
 *   stays cooked, so its keys become signals to attachkit): SIGINT, SIGQUIT,
 *   SIGTERM, SIGHUP go to the group. SIGTSTP (Ctrl-Z) stops the group with
 *   SIGSTOP (SIGTSTP's default stop is discarded for an orphaned group, and
 *   the command's is one: no member has a parent in another group of its
 *   session), then attachkit stops itself with SIGSTOP, so the shell sees a
 *   stopped job; SIGCONT (fg, bg) continues the group. SIGWINCH goes to the
 *   group when there is no pty at all (else the proxy resizes it).
 * - Both: SIGUSR1, SIGUSR2 to the command's process alone.
 *
 * Caught from before the attach starts: a signal that arrives while the
 * command is being started is acted on as soon as it runs (its default
 * action would kill attachkit and leave the command running unwatched).
 */
const CAUGHT: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTSTP', 'SIGCONT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export class SignalForwarder {
  private proc: AttachedProcess | undefined;
  private keysOnPty = false;
  private withPty = false;
  private control: TerminalControl | undefined;
  private readonly pending: NodeJS.Signals[] = [];
  private readonly handlers = CAUGHT.map((signal) => [signal, () => this.receive(signal)] as const);

  /** Start catching (before the attach). */
  constructor() {
    for (const [signal, handler] of this.handlers) process.on(signal, handler);
  }

  /** Act for the attached process from now on, after what arrived while it started. */
  attach(proc: AttachedProcess, pty: PtySession | undefined, control?: TerminalControl): void {
    this.keysOnPty = pty !== undefined && pty.terminals[0] !== null;
    this.withPty = pty !== undefined;
    this.control = control;
    this.proc = proc;
    for (const signal of this.pending.splice(0)) this.receive(signal);
  }

  stop(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
  }

  private receive(signal: NodeJS.Signals): void {
    const proc = this.proc;
    if (!proc) {
      this.pending.push(signal);
      return;
    }
    switch (signal) {
      case 'SIGUSR1':
      case 'SIGUSR2':
        proc.kill(signal);
        return;
      case 'SIGTERM':
      case 'SIGHUP':
        if (this.keysOnPty) {
          this.control?.hangUp();
          proc.killGroup('SIGHUP');
        } else {
          proc.killGroup(signal);
        }
        return;
      case 'SIGINT':
      case 'SIGQUIT':
        if (!this.keysOnPty) proc.killGroup(signal);
        return;
      case 'SIGTSTP':
        if (!this.keysOnPty) this.suspend(proc);
        return;
      case 'SIGCONT':
        if (!this.keysOnPty) {
          this.control?.resume();
          proc.killGroup('SIGCONT');
        }
        return;
      case 'SIGWINCH':
        if (!this.withPty) proc.killGroup('SIGWINCH');
        return;
      default:
    }
  }

  /**
   * Ctrl-Z without a pty carrying the keys: stop the command's group, then
   * ourselves. kill of a group makes the signal pending in every member
   * before it returns, so none runs another instruction of its own once we
   * stop; our terminal gets its own modes back meanwhile (resumed on SIGCONT).
   */
  private suspend(proc: AttachedProcess): void {
    if (!proc.killGroup('SIGSTOP')) return; // it has ended: nothing to stop
    this.control?.suspend();
    process.kill(process.pid, 'SIGSTOP');
  }
}
