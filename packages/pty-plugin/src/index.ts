import { definePlugin, STAGE } from '@attachkit/core';
import { GivePty } from './give-pty.js';
import { OpenPty } from './open-pty.js';

export { GivePty } from './give-pty.js';
export { OpenPty } from './open-pty.js';
export { openPtyPair, type PtyPair } from './node-pty.js';
export { DRAIN_LIMITS, proxyTerminal, type DrainLimits, type ProxyOptions } from './proxy.js';
export { TerminalControl } from './terminal-control.js';
export { PtyStream, type PtyStreamFds } from './pty-stream.js';
export { PTY, type PtySession } from './session.js';
export { terminalFds, type TerminalFds } from './terminals.js';

/** Terminal: a new pty for the std fds that are terminals; proxyTerminal() connects it to the caller's. */
export function ptyPlugin() {
  return definePlugin({
    name: '@attachkit/pty-plugin',
    register(container) {
      container.register(STAGE, { useClass: OpenPty });
      container.register(STAGE, { useClass: GivePty });
    },
  });
}
