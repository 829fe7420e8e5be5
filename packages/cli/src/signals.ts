import type { AttachedProcess } from '@attachkit/core';

/**
 * Signals attachkit passes on to the attached process. lxc-attach forwards
 * none; we do, so that `kill` of attachkit and Ctrl-C reach the command
 * (the command runs in its own session, so the terminal's signals reach only us).
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Forward until the process exits; returns the function that stops forwarding. */
export function forwardSignals(proc: AttachedProcess): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => { proc.kill(signal); };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => { for (const [signal, handler] of handlers) process.off(signal, handler); };
}
