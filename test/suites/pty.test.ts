import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, runCli } from '../helpers/cli.js';
import { attachkitLine, attachkitPid, processWith, q, text, underScript, waitFor } from '../helpers/terminal.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the terminal: a pty for the std fds that are terminals, proxied (under script, real ptys)', () => {
  let sandbox: Sandbox;
  let dir: string;
  const ak = (...args: string[]) => attachkitLine(sandbox.pid, args);
  before(async () => {
    sandbox = await startSandbox();
    dir = mkdtempSync(join(tmpdir(), 'attachkit-pty-')); // the sandbox shares the host's filesystems
  });
  after(async () => {
    await sandbox.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should give the command a new pty, sized as the caller's terminal", async () => {
    const r = await underScript(`tty; stty rows 37 cols 91; ${ak('--', 'sh', '-c', 'tty; stty size')}`);
    assert.equal(r.code, 0);
    const [outer, inner, size] = text(r).trim().split('\n');
    assert.match(inner!, /^\/dev\/pts\/\d+$/);
    assert.notEqual(inner, outer, 'not the caller\'s terminal');
    assert.equal(size, '37 91');
  });

  it('should put the pty on exactly the std fds that are terminals, for every redirection', async () => {
    const probe = `: > ${dir}/fds; for n in 0 1 2; do if [ -t $n ]; then r=tty; else r=$(readlink /proc/$$/fd/$n); fi; echo "$n:$r" >> ${dir}/fds; done`
      + `; (exec 3</dev/tty) 2>/dev/null && echo ctty >> ${dir}/fds || echo no-ctty >> ${dir}/fds`;
    for (let mask = 0; mask < 8; mask++) {
      const redirected = [0, 1, 2].map((n) => (mask & (1 << n)) !== 0);
      const files = [`${dir}/in`, `${dir}/out`, `${dir}/err`];
      writeFileSync(files[0]!, '');
      const redirections = [`<${files[0]}`, `>${files[1]}`, `2>${files[2]}`].filter((_, n) => redirected[n]).join(' ');
      const r = await underScript(`${ak('--', 'sh', '-c', probe)} ${redirections}`);
      assert.equal(r.code, 0, `mask ${mask}: ${text(r)}`);
      const expected = [0, 1, 2].map((n) => (redirected[n] ? `${n}:${files[n]}` : `${n}:tty`));
      expected.push(redirected.every(Boolean) ? 'no-ctty' : 'ctty');
      assert.deepEqual(readFileSync(`${dir}/fds`, 'utf8').trim().split('\n'), expected, `stdin/stdout/stderr redirected: ${redirected}`);
    }
  });

  it('should deliver 1 MB of random data through the pty byte for byte (hexdump, and raw)', async () => {
    const data = randomBytes(1_000_000);
    writeFileSync(`${dir}/random`, data);
    const hexdump = await underScript(`${ak('--', 'hexdump', `${dir}/random`)}`);
    const local = await underScript(`hexdump ${q(`${dir}/random`)}`);
    assert.equal(hexdump.code, 0);
    assert.equal(hexdump.output.length, local.output.length);
    assert.equal(sha256(hexdump.output), sha256(local.output));
    // Every byte value, with the command's terminal not translating NL: only the pty in between.
    const raw = await underScript(`${ak('--', 'sh', '-c', `stty -opost; cat ${dir}/random`)}`);
    assert.equal(raw.code, 0);
    assert.equal(raw.output.length, data.length);
    assert.equal(sha256(raw.output), sha256(data));
  });

  it('should deliver the last output of a command that exits at once, and its exit status', async () => {
    const r = await underScript(ak('--', 'sh', '-c', 'head -c 200000 /dev/zero | tr "\\0" x; printf tail-without-newline; exit 9'));
    assert.equal(r.code, 9);
    const out = text(r);
    assert.equal(out.length, 200000 + 'tail-without-newline'.length);
    assert.ok(out.endsWith('xtail-without-newline'));
  });

  it('should record the output with -L, appending, mode 0600, and refuse a log it cannot open in one line', async () => {
    const log = `${dir}/pty.log`;
    rmSync(log, { force: true });
    for (const word of ['one', 'two']) assert.equal((await underScript(ak('-L', log, '--', 'echo', word))).code, 0);
    assert.equal(readFileSync(log, 'utf8'), 'one\r\ntwo\r\n');
    assert.equal(statSync(log).mode & 0o777, 0o600);
    const bad = await underScript(ak('-L', '/no/such/dir/log', '--', 'true'));
    assert.equal(bad.code, 1);
    assert.equal(text(bad), 'attachkit: open-pty: open("/no/such/dir/log") of the pty log failed: ENOENT (No such file or directory)\n');
  });

  it('should confine TIOCSTI to the pty: what the command pushes never reaches the caller\'s terminal', async () => {
    const inject = 'perl -e \'ioctl(STDIN, 0x5412, $_) or die "TIOCSTI: $!" for split //, "echo INJECTED\\n"\'';
    const r = await underScript(`${ak('--', 'sh', '-c', `${inject}; read x; echo "inside: $x"`)}; `
      + 'timeout --foreground 1 sh -c \'read y; echo "outside: $y"\'; echo done');
    assert.equal(text(r).trim(), 'echo INJECTED\ninside: echo INJECTED\ndone');
  });

  it('should leave the command without a terminal when no std fd is one, even when attachkit has one', async () => {
    const r = await underScript(`${ak('--', 'sh', '-c', 'exec 3</dev/tty')} </dev/null >${dir}/out 2>&1; echo "rc=$?"`);
    assert.equal(text(r).trim(), 'rc=2');
    assert.match(readFileSync(`${dir}/out`, 'utf8'), /\/dev\/tty: No such device or address/);
  });

  it('should end without a hang on closed stdin, /dev/null stdin and a closed output pipe', async () => {
    const r = await underScript([
      `${ak('--', 'cat')} <&-; echo "closed:$?"`,
      `${ak('--', 'cat')} </dev/null; echo "null:$?"`,
      `{ ${ak('--', 'yes')}; echo "attachkit:$?" >&2; } | head -n 1`,
    ].join('; '));
    assert.equal(text(r).trim(), 'closed:0\nnull:0\ny\nattachkit:141', 'yes died of SIGPIPE');
  });

  it('should not wait for a background process the command leaves holding the pty', async () => {
    const marker = `${dir}/background-sleep`; // a copy of sleep, to find it by its path
    copyFileSync('/bin/sleep', marker);
    chmodSync(marker, 0o755);
    // Immune to the SIGHUP the kernel sends the terminal's foreground group when the command, its session leader, exits.
    const r = await underScript(ak('--', 'sh', '-c', `trap "" HUP; ${marker} 600 & echo started`));
    assert.equal(r.code, 0);
    assert.equal(text(r), 'started\n');
    const sleeper = processWith((argv) => argv[0] === marker);
    assert.ok(sleeper, 'the background sleep still runs');
    process.kill(sleeper, 'SIGKILL');
  });

  it('should ignore SIGINT and SIGQUIT sent to attachkit while the pty carries the keys, and forward SIGUSR1', async () => {
    const marker = `ak-int-${process.pid}`;
    const cmd = `trap "echo int" INT; trap "echo quit" QUIT; trap "echo usr1; exit 3" USR1; echo ${marker}; while :; do sleep 0.05; done`;
    let sent = false;
    const r = await underScript(ak('--', 'sh', '-c', cmd), (soFar) => {
      if (sent || !soFar.includes(`${marker}\r\n`)) return;
      sent = true;
      const pid = attachkitPid(marker)!;
      // Lower signal numbers are delivered first: had SIGINT or SIGQUIT been
      // forwarded, the command would run their traps before SIGUSR1's.
      for (const signal of ['SIGINT', 'SIGQUIT', 'SIGUSR1'] as const) process.kill(pid, signal);
    });
    assert.equal(r.code, 3);
    assert.equal(text(r).trim(), `${marker}\nusr1`);
  });

  // With a pty, SIGTERM to attachkit hangs the session up, as a closed terminal
  // would: the command gets SIGHUP (129), as lxc-attach's users see (docs/terminal.md).
  it("should hang up a pty session on SIGTERM, and exit 129 with the terminal restored", async () => {
    const marker = `ak-term-${process.pid}`;
    let sent = false;
    const r = await underScript(`stty -a > ${dir}/before; ${ak('--', 'sh', '-c', `echo ${marker}; exec sleep 600`)}; echo "status=$?"; stty -a > ${dir}/after`, (soFar) => {
      if (sent || !soFar.includes(`${marker}\r\n`)) return;
      sent = true;
      process.kill(attachkitPid(marker)!, 'SIGTERM');
    });
    assert.equal(text(r).trim(), `${marker}\nstatus=129`);
    assert.equal(readFileSync(`${dir}/after`, 'utf8'), readFileSync(`${dir}/before`, 'utf8'));
  });

  it("should forward SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH without a pty, and exit with the command's status", async () => {
    for (const sig of ['TERM', 'HUP', 'INT', 'QUIT', 'USR1', 'USR2', 'WINCH'] as const) {
      const child = spawn(CLI, ['--pid', String(sandbox.pid), '--', 'sh', '-c',
        `trap "echo ${sig}; exit 7" ${sig}; echo ready; while :; do sleep 0.05; done`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      await waitFor(() => out.includes('ready'), 'ready');
      child.kill(`SIG${sig}`);
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.equal(out, `ready\n${sig}\n`, sig);
      assert.equal(code, 7, sig);
    }
    const killed = await runCli(['--pid', String(sandbox.pid), '--', 'sh', '-c', 'kill -TERM $$']);
    assert.equal(killed.code, 143);
  });
});
