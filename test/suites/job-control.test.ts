import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../helpers/cli.js';
import { attachkitPid, processWith, q, Tmux, waitFor } from '../helpers/terminal.js';
import { ensureContainer, initPid, stopContainer, targetArgs, type ContainerSpec } from '../lxc/containers.js';

/**
 * Signals and job control as a shell user sees them (docs/terminal.md,
 * "Signals"), through real terminals (tmux, script) and a real LXC
 * container: the command's whole process group is signalled, Ctrl-Z / fg
 * work without a pty, SIGTERM / SIGHUP leave nothing running inside, and no
 * byte the user did not type reaches the command.
 */
const JOBS: ContainerSpec = { name: 'attachkit-jobs' };

/** The attachkit command line for a shell. */
const ak = (...args: string[]) => [CLI, ...targetArgs(JOBS), ...args].map(q).join(' ');

/** The pids of processes inside the container (its pid namespace) whose argv is exactly `argv`. */
function inside(...argv: string[]): number[] {
  const pidns = readlinkSync(`/proc/${initPid(JOBS)}/ns/pid`);
  const found: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8') === `${argv.join('\0')}\0` && readlinkSync(`/proc/${p}/ns/pid`) === pidns) found.push(Number(p));
    } catch {
      // gone
    }
  }
  return found;
}

/** The state letter of /proc/PID/stat (R, S, T, ...). */
function state(pid: number): string | undefined {
  try {
    return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

describe('job control and signals through a real terminal', () => {
  before(() => ensureContainer(JOBS));
  after(() => stopContainer(JOBS));

  /** The pane runs this line, then shows attachkit's status and waits. */
  const session = (line: string) => `${line}; echo "status=$?"; exec sleep 600`;

  it('should end at once with 130 on Ctrl-C without a pty, leaving no process of the command inside', async () => {
    const tmux = new Tmux();
    try {
      // An interactive shell, as a user's: the terminal's Ctrl-C signals its foreground job alone.
      tmux.start('exec bash --norc --noprofile -i');
      tmux.type(`${ak('--', 'sh', '-c', 'echo started; sleep 61; echo done')} </dev/null; echo "status=$?"`);
      await tmux.expect(/^started$/m);
      await waitFor(() => inside('sleep', '61').length > 0, 'sleep 61 inside');
      tmux.keys(['C-c']);
      // Long before the 61 s of sleep: the whole group got SIGINT.
      await tmux.expect(/status=130$/m);
      assert.doesNotMatch(tmux.screen(), /^done$/m);
      assert.deepEqual(inside('sleep', '61'), []);
    } finally {
      tmux.kill();
    }
  });

  it('should give up the start on Ctrl-C at a terminal with 130 and no word, as Ctrl-C a moment later', async () => {
    const cgroup = /^0::(.*)$/m.exec(readFileSync(`/proc/${initPid(JOBS)}/cgroup`, 'utf8'))![1]!;
    const freeze = `${existsSync('/sys/fs/cgroup/unified') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup'}${cgroup}/cgroup.freeze`;
    const tmux = new Tmux();
    writeFileSync(freeze, '1'); // the start stalls
    try {
      tmux.start('exec bash --norc --noprofile -i');
      tmux.type(`${ak('--', 'echo', 'never')}; echo "status=$?"`);
      await waitFor(() => attachkitPid('never'), 'attachkit');
      await new Promise((r) => setTimeout(r, 500));
      tmux.keys(['C-c']);
      await tmux.expect(/status=130$/m);
      assert.doesNotMatch(tmux.screen(), /attachkit:|never$/m);
    } finally {
      writeFileSync(freeze, '0');
      tmux.kill();
    }
  });

  it('should stop the command and attachkit on Ctrl-Z without a pty, and continue both on fg', async () => {
    const tmux = new Tmux();
    try {
      tmux.start('exec bash --norc --noprofile -i');
      const count = 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo "tick $i"; sleep 0.05; done';
      tmux.type(`${ak('--', 'sh', '-c', count)} </dev/null; echo "status=$?"`);
      await tmux.expect(/^tick 5$/m);
      tmux.keys(['C-z']);
      await tmux.expect(/Stopped/);
      const ticks = () => Math.max(0, ...[...tmux.screen().matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1])));
      const stoppedAt = ticks();
      const loop = await waitFor(() => processWith((a) => a[0] === 'sh' && a[2] === count), 'the command');
      assert.equal(await waitFor(() => state(loop) === 'T' && 'T', 'the command stopped'), 'T');
      const attachkit = attachkitPid(count)!;
      assert.equal(state(attachkit), 'T', 'attachkit is stopped too');
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(ticks(), stoppedAt, 'no output while stopped');
      tmux.type('jobs');
      await tmux.expect(/^\[1\]\+\s+Stopped\s/m);
      tmux.type('fg');
      await waitFor(() => ticks() > stoppedAt + 3 && true, 'ticks after fg');
      assert.notEqual(state(loop), 'T');
      tmux.keys(['C-c']);
      tmux.type('echo "after fg: $?"');
      await tmux.expect(/^after fg: 130$/m);
      assert.equal(processWith((a) => a[0] === 'sh' && a[2] === count), undefined);
    } finally {
      tmux.kill();
    }
  });

  for (const [signal, status] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`should leave no child of the command inside on ${signal} without a pty (${status})`, async () => {
      const marker = signal === 'SIGTERM' ? '1021' : '1022';
      const child = spawn(CLI, [...targetArgs(JOBS), '--', 'sh', '-c', `: ; sleep ${marker}; echo done`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      const done = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      await waitFor(() => inside('sleep', marker).length > 0, `sleep ${marker} inside`);
      child.kill(signal);
      assert.equal(await done, status, out);
      assert.equal(out, '');
      assert.deepEqual(inside('sleep', marker), []);
    });

    it(`should hang up the session on ${signal} with a pty: the shell gets SIGHUP (129), nothing is left inside`, async () => {
      const tmux = new Tmux();
      const marker = signal === 'SIGTERM' ? '1031' : '1032';
      try {
        // A shell's child in its group (no job control).
        tmux.start(session(ak('--', 'sh', '-c', `echo started; sleep ${marker}; echo done`)));
        await tmux.expect(/^started/m);
        await waitFor(() => inside('sleep', marker).length > 0, `sleep ${marker} inside`);
        process.kill(attachkitPid(`sleep ${marker}`)!, signal);
        await tmux.expect(/status=129$/m);
        assert.deepEqual(inside('sleep', marker), []);
        tmux.kill();
        // An interactive shell and its foreground job.
        const interactive = new Tmux();
        try {
          // Then the terminal is the caller's again: canonical, with echo.
          const modes = "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo | tr '\\n' ' '; echo";
          interactive.start(`${ak('-v', `PS1=jobs-${marker}$ `, '--', 'sh', '-i')}; echo "status=$?"; ${modes}; exec sleep 600`);
          await interactive.expect(new RegExp(`^jobs-${marker}\\$`, 'm'));
          interactive.type(`sleep ${marker}0`);
          await waitFor(() => inside('sleep', `${marker}0`).length > 0, `sleep ${marker}0 inside`);
          process.kill(attachkitPid(`PS1=jobs-${marker}$ `)!, signal);
          await interactive.expect(/status=129$/m);
          assert.deepEqual(inside('sleep', `${marker}0`), []);
          await interactive.expect(/^icanon echo *$/m);
        } finally {
          interactive.kill();
        }
      } finally {
        tmux.kill();
      }
    });
  }

  it('should pass no byte the user did not type: no NUL from a pending end-of-file under script(1)', () => {
    const runs: string[] = [];
    const line = (cmd: string[]) => spawnSync('script', ['-qc', ak('--', ...cmd), '/dev/null'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SHELL: '/bin/sh' } });
    for (let i = 0; i < 20; i++) {
      const r = line(['echo', 'hi']);
      assert.equal(r.status, 0);
      runs.push(r.stdout.toString('latin1'));
    }
    // A command that still runs when the EOF would arrive: its terminal would echo a NUL as ^@.
    for (let i = 0; i < 3; i++) runs.push(line(['sh', '-c', 'sleep 0.3; echo hi']).stdout.toString('latin1'));
    for (const out of runs) {
      assert.equal(out, 'hi\r\n', JSON.stringify(out));
    }
  });
});
