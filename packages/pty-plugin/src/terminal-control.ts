/** What a running proxy lets its control do. */
export interface Controllable {
  hangUpSession(): void;
  suspend(): void;
  resume(): void;
}

/**
 * What the caller of proxyTerminal() can do to a running proxy; each call
 * does nothing when no proxy runs (before it starts, a hang-up is kept
 * for it).
 */
export class TerminalControl {
  private proxy: Controllable | undefined;
  private hungUp = false;

  /** @internal proxyTerminal() binds itself while it runs. */
  bind(proxy: Controllable | undefined): void {
    this.proxy = proxy;
    if (proxy && this.hungUp) proxy.hangUpSession();
  }

  /**
   * Hang up the command's terminal, as a terminal emulator that closes does
   * (and as lxc-attach's death does): the caller's terminal is restored and
   * no longer read, and the master is closed, so the kernel hangs up the
   * pty — the command (its session leader) gets SIGHUP and SIGCONT, and
   * when it exits its foreground job gets SIGHUP. Output not yet read is
   * lost. proxyTerminal() still resolves with the command's result once it
   * has exited.
   */
  hangUp(): void {
    this.hungUp = true;
    this.proxy?.hangUpSession();
  }

  /** Give the caller's terminal its own modes back (before attachkit stops itself: Ctrl-Z). */
  suspend(): void {
    this.proxy?.suspend();
  }

  /** Set the proxy's modes again (attachkit continued: fg). */
  resume(): void {
    this.proxy?.resume();
  }
}
