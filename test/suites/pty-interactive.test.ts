import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attachkitLine, q, Tmux, waitFor } from '../helpers/terminal.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

describe('an interactive session through attachkit, driven by tmux (real terminal emulator)', () => {
  let sandbox: Sandbox;
  let dir: string;
  let tmux: Tmux;
  const ak = (...args: string[]) => attachkitLine(sandbox.pid, args);
  /** The pane runs this line, then shows attachkit's status and waits. */
  const session = (line: string) => `${line}; echo "status=$?"; exec sleep 600`;
  before(async () => {
    sandbox = await startSandbox({ hostname: 'pty-sandbox' });
    dir = mkdtempSync(join(tmpdir(), 'attachkit-tmux-'));
  });
  after(async () => {
    await sandbox.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should answer typed commands, follow resizes, pass Ctrl-C to the command and exit with its status', async () => {
    tmux = new Tmux();
    try {
      tmux.start(session(ak('-v', 'PS1=ak$ ', '--', 'sh', '-i')), 100, 30);
      await tmux.expect(/^ak\$/m);
      tmux.type('hostname');
      await tmux.expect(/^pty-sandbox$/m);
      tmux.type('stty size');
      await tmux.expect(/^30 100$/m);
      tmux.resize(120, 40);
      tmux.type('stty size');
      await tmux.expect(/^40 120$/m);
      // Ctrl-C reaches the command's foreground job through the pty; attachkit stays.
      tmux.type('sleep 600');
      await tmux.expect(/^ak\$ sleep 600$/m);
      tmux.keys(['C-c']);
      tmux.type('echo "after interrupt"');
      await tmux.expect(/^after interrupt$/m);
      tmux.type('exit 4');
      await tmux.expect(/^status=4$/m);
    } finally {
      tmux.kill();
    }
  });

  it('should keep what was typed before the command started', async () => {
    tmux = new Tmux();
    try {
      // Typed while the pane still runs `sleep`: the keys wait in the terminal.
      tmux.start(session(`sleep 1; ${ak('--', 'sh', '-c', 'read a; read b; echo "got: $a $b"')}`));
      tmux.type('early');
      tmux.type('bird');
      await tmux.expect(/^got: early bird$/m);
      await tmux.expect(/^status=0$/m);
    } finally {
      tmux.kill();
    }
  });

  it('should give EOF to the command on Ctrl-D, as a terminal does', async () => {
    tmux = new Tmux();
    try {
      tmux.start(session(ak('--', 'sh', '-c', 'echo ready; cat; echo "cat ended"')));
      await tmux.expect(/^ready$/m);
      tmux.keys(['partial', 'C-d', 'C-d'], false);
      await tmux.expect(/^partialpartialcat ended$/m);
      await tmux.expect(/^status=0$/m);
    } finally {
      tmux.kill();
    }
  });

  it('should hang up the command when the terminal goes away, and exit with its status', async () => {
    tmux = new Tmux();
    const rc = `${dir}/rc`;
    const hup = `${dir}/hup`;
    // The pane's shell ignores SIGHUP, so only attachkit's own detection is at work.
    const command = `trap "echo hup > ${hup}; exit 5" HUP; while :; do echo tick; sleep 0.05; done`;
    tmux.start(`trap "" HUP; ${ak('--', 'sh', '-c', command)}; echo $? > ${q(rc)}`);
    await tmux.expect(/^tick$/m);
    tmux.kill();
    await waitFor(() => { try { return readFileSync(rc, 'utf8'); } catch { return undefined; } }, 'attachkit to exit');
    assert.equal(readFileSync(rc, 'utf8'), '5\n');
    assert.equal(readFileSync(hup, 'utf8'), 'hup\n');
  });
});
