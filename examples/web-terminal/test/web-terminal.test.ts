import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * The example end to end: the server attaches to a real LXC container with
 * the tty API, and a headless Chromium (Debian's) runs xterm.js against it.
 * Type a command, read it back from xterm's buffer, resize the window and
 * see `stty size` follow.
 */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SERVER = fileURLToPath(new URL('../src/server.js', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const NAME = 'attachkit-web-terminal';

/** xterm's active buffer as text, one line per row, trailing blanks trimmed. */
const SCREEN = `(() => {
  const b = globalThis.term.buffer.active;
  const lines = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
  return lines.join('\\n');
})()`;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 10000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('examples/web-terminal: a container shell in headless Chromium', () => {
  let server: ChildProcess;
  let url: string;
  let browser: Browser;
  let page: Page;

  const screen = () => page.evaluate<string>(SCREEN);
  const size = () => page.evaluate<{ cols: number; rows: number }>('({ cols: globalThis.term.cols, rows: globalThis.term.rows })');
  /** Type a line at the shell and wait for a new line of output that matches (`output` has the g flag): that last match. */
  async function run(line: string, output: RegExp): Promise<RegExpMatchArray> {
    const seen = [...(await screen()).matchAll(output)].length;
    await page.keyboard.type(line);
    await page.keyboard.press('Enter');
    try {
      return await until(`${output} after ${line}`, async () => {
        const matches = [...(await screen()).matchAll(output)];
        return matches.length > seen ? matches[matches.length - 1] : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}; the screen:\n${(await screen()).trimEnd()}`);
    }
  }

  before(async () => {
    const made = spawnSync('bash', [`${ROOT}test/lxc/make-container.sh`, NAME], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    server = spawn(process.execPath, [SERVER, '--name', NAME], { stdio: ['ignore', 'pipe', 'inherit'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      server.on('exit', (code) => reject(new Error(`the server exited: ${code}`)));
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }); // root: Chromium's sandbox needs a user
    page = await browser.newPage({ viewport: { width: 800, height: 480 } });
  });

  after(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    spawnSync('lxc-stop', ['-n', NAME, '-k'], { stdio: 'ignore' });
  });

  it('should listen on 127.0.0.1 and serve nothing without the token', async () => {
    const { hostname, port } = new URL(url);
    assert.equal(hostname, '127.0.0.1');
    assert.match(new URL(url).searchParams.get('token') ?? '', /^[\w-]{32}$/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 403);
    assert.equal((await fetch(`http://127.0.0.1:${port}/?token=${'x'.repeat(32)}`)).status, 403);
    assert.equal((await fetch(url)).status, 200);
  });

  it('should run what is typed in the container and show its output', async () => {
    await page.goto(url);
    await until('the WebSocket', () => page.evaluate<boolean>("globalThis.session?.state === 'open'"));
    await run('hostname', new RegExp(`^${NAME}$`, 'gm'));
    const marker = await run('echo hello-$((6*7))-$$-marker', /^hello-42-(\d+)-marker$/gm);
    assert.ok(Number(marker[1]) > 1, 'a process of the container');
    await run('tty', /^\/dev\/pts\/\d+$/gm);
  });

  it("should follow the window's size: stty size changes when the viewport does", async () => {
    const first = await size();
    const [, rows1, cols1] = await run('echo size-$(stty size)-end', /^size-(\d+) (\d+)-end$/gm);
    assert.deepEqual({ rows: Number(rows1), cols: Number(cols1) }, first);

    await page.setViewportSize({ width: 1200, height: 720 });
    const second = await until('the terminal to grow', async () => {
      const s = await size();
      return s.cols > first.cols && s.rows > first.rows ? s : undefined;
    });
    const [, rows2, cols2] = await run('echo size-$(stty size)-end', /^size-(\d+) (\d+)-end$/gm);
    assert.deepEqual({ rows: Number(rows2), cols: Number(cols2) }, second);
  });

  it("should end the session when the shell exits, with its status", async () => {
    await page.keyboard.type('exit 3');
    await page.keyboard.press('Enter');
    await until('the session to close', () => page.evaluate<boolean>("globalThis.session.state === 'closed'"));
    assert.equal(await page.evaluate<number>('globalThis.session.exitCode'), 3);
    assert.match(await screen(), /\[exited: 3\]/);
  });

  it('should refuse an unknown container at its start, with one line and status 1', () => {
    const r = spawnSync(process.execPath, [SERVER, '--name', 'attachkit-no-such-container'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^web-terminal: resolve-target: container 'attachkit-no-such-container' is not defined in \S+ \(no \S+\)\n$/);
  });
});
