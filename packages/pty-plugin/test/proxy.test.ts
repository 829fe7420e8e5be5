import assert from 'node:assert/strict';
import { closeSync, readdirSync, readSync, writeSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createPipeline, realLibc, type AttachRequest } from '@attachkit/core';
import { openPtyPair } from '../src/node-pty.js';
import { proxyTerminal, ptyPlugin, PTY } from '../src/index.js';
import { getTermios } from '../src/termios.js';

const openFds = () => readdirSync('/proc/self/fd').length;

/** Everything the terminal's screen received so far (the master is non-blocking). */
function screen(master: number): string {
  const buf = Buffer.alloc(65536);
  let out = '';
  for (;;) {
    try {
      const n = readSync(master, buf);
      if (n === 0) return out;
      out += buf.toString('latin1', 0, n);
    } catch {
      return out;
    }
  }
}

// The caller's "terminal" is a pty the test owns: the test types into its
// master and reads the screen from it. The target is this very process.
describe('the pty stage and the terminal proxy, as a library uses them (real ptys)', () => {
  const attach = (terminal: number, command: string[], stdio: AttachRequest['stdio'] = [terminal, terminal, terminal]): AttachRequest =>
    ({ target: { pid: process.pid }, command, stdio });

  it('should proxy keys and output, size the pty, and restore the terminal afterwards', async () => {
    const outer = openPtyPair(80, 24);
    try {
      const before = getTermios(realLibc(), outer.slave);
      const proc = await createPipeline({ plugins: [ptyPlugin()] })
        .spawn(attach(outer.slave, ['sh', '-c', 'read x; echo "got $x"; stty size; tty; exit 6']));
      const pty = proc.get(PTY)!;
      assert.deepEqual(pty.terminals, [outer.slave, outer.slave, outer.slave]);
      const proxied = proxyTerminal(proc, pty);
      writeSync(outer.master, 'hello\r'); // Enter sends CR; the command's terminal maps it to NL and echoes
      const result = await proxied;
      assert.equal(result.exitCode, 6);
      assert.match(screen(outer.master), new RegExp(`^hello\\r\\ngot hello\\r\\n24 80\\r\\n${pty.path}\\r\\n$`));
      assert.deepEqual(getTermios(realLibc(), outer.slave), before);
    } finally {
      closeSync(outer.master);
      closeSync(outer.slave);
    }
  });

  it('should stand in only for the std fds that are terminals', async () => {
    const outer = openPtyPair(80, 24);
    try {
      const proc = await createPipeline({ plugins: [ptyPlugin()] })
        .spawn(attach(outer.slave, ['sh', '-c', '[ -t 0 ] && [ ! -t 1 ] && echo piped'], [outer.slave, 'pipe', 'ignore']));
      const out = new Promise<string>((resolve) => {
        let text = '';
        proc.stdout!.on('data', (d) => { text += d; }).on('end', () => resolve(text));
      });
      const pty = proc.get(PTY)!;
      assert.deepEqual(pty.terminals, [outer.slave, null, null]);
      assert.equal((await proxyTerminal(proc, pty)).exitCode, 0);
      assert.equal(await out, 'piped\n');
    } finally {
      closeSync(outer.master);
      closeSync(outer.slave);
    }
  });

  it('should leave no fd behind, whether the attach starts or fails', async () => {
    const outer = openPtyPair(80, 24);
    const pipeline = createPipeline({ plugins: [ptyPlugin()] });
    try {
      const warm = await pipeline.spawn(attach(outer.slave, ['true']));
      await proxyTerminal(warm, warm.get(PTY)!);
      const fds = openFds();
      const proc = await pipeline.spawn(attach(outer.slave, ['true']));
      await proxyTerminal(proc, proc.get(PTY)!);
      assert.equal(openFds(), fds);
      await assert.rejects(pipeline.spawn(attach(outer.slave, ['/no/such'])), /ENOENT/);
      assert.equal(openFds(), fds, 'the master was discarded');
    } finally {
      closeSync(outer.master);
      closeSync(outer.slave);
    }
  });

  it('should not open a pty when no std fd is a terminal', async () => {
    const proc = await createPipeline({ plugins: [ptyPlugin()] }).spawn(attach(0, ['true'], ['ignore', 'pipe', 'pipe']));
    assert.equal(proc.get(PTY), undefined);
    proc.stdout!.resume();
    proc.stderr!.resume();
    assert.equal((await proc.exited).exitCode, 0);
  });
});
