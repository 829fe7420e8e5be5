#!/usr/bin/env node
// A container's shell in the browser: xterm.js over a WebSocket, served by
// attachkit's tty API (docs/terminal.md, "A pty for a library caller").
//
//   node dist/src/server.js --name c1            # an LXC container (-P LXCPATH)
//   node dist/src/server.js --oci 3f2a9c         # an OCI container (--oci-root DIR)
//   node dist/src/server.js --name c1 -- top     # another command than the shell
//
// It listens on 127.0.0.1 only (--port N, default a free one) and prints one
// line, the URL to open; the URL carries a random token that the page and
// the WebSocket need: anyone else on this machine can reach the port, only
// the holder of the URL gets a shell.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { isAttachError, type AttachedProcess, type AttachTarget } from '@attachkit/core';
import '@attachkit/lxc-plugin'; // the target kinds { name } and { oci }
import '@attachkit/oci-plugin';
import { createDefaultPipeline } from '@attachkit/preset';
import { parseArgs, usage } from './args.js';

const args = (() => {
  if (process.argv[2] === '--help' || process.argv[2] === '-h') {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`web-terminal: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
})();

// An unknown or stopped container is one line now, not an error in every tab later.
try {
  await createDefaultPipeline().inspectTarget({ target: args.target as AttachTarget, command: ['true'] }, () => undefined);
} catch (err) {
  console.error(`web-terminal: ${isAttachError(err) ? err.message : String(err)}`);
  process.exit(1);
}

const token = randomBytes(24).toString('base64url');
const assets = assetFiles();
const sessions = new Set<Session>();

const server = createServer((req, res) => serve(req, res));
// The WebSocket is accepted by hand (handleUpgrade) once the token and origin are checked.
const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });

server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  // The token proves the URL's holder; the origin check keeps another page
  // open in the same browser from using a tab's token (cross-site WebSocket).
  if (url.pathname !== '/tty' || !tokenOk(url) || req.headers.origin !== origin()) {
    socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
    return;
  }
  const size = { cols: Number(url.searchParams.get('cols') ?? 80), rows: Number(url.searchParams.get('rows') ?? 24) };
  wss.handleUpgrade(req, socket, head, (ws) => { void startSession(ws, size); });
});

server.listen(args.port, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}/?token=${token}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close();
    const running = [...sessions].map((s) => s.proc?.exited);
    for (const session of [...sessions]) session.close();
    // Each command was hung up; exit once they are all gone.
    void Promise.all(running).then(() => process.exit(0));
  });
}

function origin(): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function tokenOk(url: URL): boolean {
  const given = Buffer.from(url.searchParams.get('token') ?? '');
  const ours = Buffer.from(token);
  return given.length === ours.length && timingSafeEqual(given, ours);
}

function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method !== 'GET') return reply(res, 405, 'text/plain', 'method not allowed\n');
  if (url.pathname === '/') {
    if (!tokenOk(url)) return reply(res, 403, 'text/plain', 'forbidden: open the URL the server printed\n');
    return reply(res, 200, 'text/html; charset=utf-8', assets.get('/index.html')!.body);
  }
  const asset = assets.get(url.pathname);
  if (!asset) return reply(res, 404, 'text/plain', 'not found\n');
  reply(res, 200, asset.type, asset.body);
}

function reply(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

/** The page and the client, and xterm.js and its fit addon served from node_modules. */
function assetFiles(): Map<string, { type: string; body: Buffer }> {
  const require = createRequire(import.meta.url);
  const xterm = dirname(require.resolve('@xterm/xterm/package.json'));
  const fit = dirname(require.resolve('@xterm/addon-fit/package.json'));
  const pub = fileURLToPath(new URL('../../public/', import.meta.url));
  const js = 'text/javascript; charset=utf-8';
  const files: Array<[string, string, string]> = [
    ['/index.html', join(pub, 'index.html'), 'text/html; charset=utf-8'],
    ['/client.js', join(pub, 'client.js'), js],
    ['/assets/xterm.mjs', join(xterm, 'lib', 'xterm.mjs'), js],
    ['/assets/xterm.css', join(xterm, 'css', 'xterm.css'), 'text/css; charset=utf-8'],
    ['/assets/addon-fit.mjs', join(fit, 'lib', 'addon-fit.mjs'), js],
  ];
  return new Map(files.map(([path, file, type]) => [path, { type, body: readFileSync(file) }]));
}

/** One browser tab: one command on its own pty. */
class Session {
  proc: AttachedProcess | undefined;
  /** Frames sent and not yet flushed to the socket: the terminal pauses above a bound. */
  private unsent = 0;
  private closed = false;

  /** Frames that came while the command was starting: keys typed at once are not lost. */
  private early: Array<[RawData, boolean]> | undefined = [];

  constructor(private readonly ws: WebSocket) {
    // Binary frames are keys; text frames are control messages (resize).
    ws.on('message', (data: RawData, binary: boolean) => {
      if (this.early) this.early.push([data, binary]);
      else this.receive(data, binary);
    });
  }

  private receive(data: RawData, binary: boolean): void {
    if (binary) this.proc?.terminal?.write(toBuffer(data));
    else this.control(toBuffer(data).toString('utf8'));
  }

  attach(proc: AttachedProcess): void {
    this.proc = proc;
    const terminal = proc.terminal!;
    terminal.on('data', (chunk: Buffer) => {
      this.unsent++;
      if (this.unsent > 64) terminal.pause(); // a slow browser slows the command, as a slow terminal does
      this.ws.send(chunk, { binary: true }, () => {
        if (--this.unsent <= 16) terminal.resume();
      });
    });
    const early = this.early ?? [];
    this.early = undefined;
    for (const [data, binary] of early) this.receive(data, binary);
    // The end comes after the exit and the drain of the output.
    void Promise.all([proc.exited, new Promise((resolve) => terminal.once('end', resolve))]).then(([result]) => {
      this.send({ type: 'exit', exitCode: result.exitCode, signal: result.signal });
      this.ws.close(1000, 'exited');
    });
  }

  private control(text: string): void {
    let msg: { type?: unknown; cols?: unknown; rows?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return;
    }
    if (msg.type !== 'resize') return;
    try {
      this.proc?.resize(Number(msg.cols), Number(msg.rows));
    } catch (err) {
      this.send({ type: 'error', message: (err as Error).message }); // a bad size: refused, the session goes on
    }
  }

  send(msg: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The tab went away (or the server stops): hang the command's terminal up, as closing a terminal window does. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    sessions.delete(this);
    if (this.proc) hangUp(this.proc);
  }
}

function hangUp(proc: AttachedProcess): void {
  proc.terminal!.destroy();
  // A command that ignores SIGHUP does not outlive its tab for long.
  const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
  void proc.exited.finally(() => clearTimeout(timer));
}

async function startSession(ws: WebSocket, size: { cols: number; rows: number }): Promise<void> {
  const session = new Session(ws);
  sessions.add(session);
  ws.on('close', () => session.close());
  ws.on('error', () => session.close());
  try {
    const proc = await createDefaultPipeline().spawn({
      target: args.target as AttachTarget,
      ...(args.command.length ? { command: args.command } : {}),
      tty: size,
      // The server's own environment stays out: a login-like one, with the container's PATH.
      env: { policy: 'clear', set: { TERM: 'xterm-256color' } },
    });
    if (session.isClosed) { // the tab closed while it started
      hangUp(proc);
      return;
    }
    session.attach(proc);
  } catch (err) {
    const message = isAttachError(err) ? err.message : String(err);
    console.error(`web-terminal: ${message}`);
    session.send({ type: 'error', message });
    ws.close(1011, 'attach failed');
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
