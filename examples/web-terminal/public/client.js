// @ts-check
// The browser side: xterm.js on a WebSocket. Binary frames carry the
// terminal's bytes both ways; text frames are JSON control messages
// (to the server: resize; from it: exit, error).
import { Terminal } from '/assets/xterm.mjs';
import { FitAddon } from '/assets/addon-fit.mjs';

const term = new Terminal({ cursorBlink: true, scrollback: 5000 });
const fit = new FitAddon();
term.loadAddon(fit);
term.open(/** @type {HTMLElement} */ (document.getElementById('terminal')));
fit.fit();
// For the browser's console and the end-to-end test: the terminal, and the session's state.
Object.assign(window, { term, session: { state: 'connecting', exitCode: null } });
const session = /** @type {{ state: string, exitCode: number | null }} */ (/** @type {any} */ (window).session);

const token = new URLSearchParams(location.search).get('token') ?? '';
const query = new URLSearchParams({ token, cols: String(term.cols), rows: String(term.rows) });
const ws = new WebSocket(`ws://${location.host}/tty?${query}`);
ws.binaryType = 'arraybuffer';
const encoder = new TextEncoder();

ws.onopen = () => { session.state = 'open'; term.focus(); };
ws.onmessage = (event) => {
  if (typeof event.data !== 'string') {
    term.write(new Uint8Array(event.data));
    return;
  }
  const msg = JSON.parse(event.data);
  if (msg.type === 'exit') {
    session.exitCode = msg.exitCode;
    term.write(`\r\n[exited: ${msg.signal ?? msg.exitCode}]\r\n`);
  } else if (msg.type === 'error') {
    term.write(`\r\n[${msg.message}]\r\n`);
  }
};
ws.onclose = () => { session.state = 'closed'; };

term.onData((data) => { if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data)); });
term.onBinary((data) => {
  if (ws.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(data, (c) => c.charCodeAt(0)));
});
term.onResize(({ cols, rows }) => {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
});
// The window's size decides the terminal's: fit, and the server resizes the pty.
window.addEventListener('resize', () => fit.fit());
