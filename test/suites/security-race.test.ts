import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import '@attachkit/lxc-plugin'; // its target kind: { name }
import type { AttachedProcess } from '@attachkit/core';
import { CLI } from '../helpers/cli.js';
import { children, openFdCount, pidNamespaceMembers, refusal } from '../helpers/process.js';
import { beyond, parseRacer } from '../helpers/racer.js';
import { q, text, underScript } from '../helpers/terminal.js';
import { DEFAULT_LXCPATH, ensureContainer, initPid, type ContainerSpec } from '../lxc/containers.js';

/**
 * Root in a privileged container keeps CAP_SYS_PTRACE over every process
 * that enters it (LXC's default privileged setup): PR_SET_DUMPABLE cannot
 * stop it. test/security/racer.c stops each new process of the container's
 * pid namespace the moment it appears, takes every fd it holds
 * (pidfd_getfd), climbs every directory it got, and writes forged attachkit
 * messages to everything writable, one naming a host process (the victim).
 *
 * What may cross into the target's pid namespace before exec is what the
 * command needs: its std fds (the caller's redirections, or the container's
 * pty), the lifeline, the zeros the capability stage reads, and the
 * attached process's write-only report pipe. Never the sync socket, a
 * namespace or cgroup fd, the target's pidfd, a host terminal or a host
 * directory; and nothing the racer writes makes attachkit signal anything.
 */

const RACER_C = fileURLToPath(new URL('../../security/racer.c', import.meta.url));
const LIAR_C = fileURLToPath(new URL('../../security/liar.c', import.meta.url));
const SEC: ContainerSpec = { name: 'attachkit-sec' };
const ROOTFS = `${DEFAULT_LXCPATH}/${SEC.name}/rootfs`;
const CAP_SYS_PTRACE = 19n;
/** What the command needs, as the racer sees it from inside: /dev/null, pipes, the sealed zeros, the container's pty. */
const ALLOWED = /^(\/dev\/null|pipe:\[\d+\]|\/memfd:attachkit-zeros \(deleted\)|\/dev\/pts\/\d+)$/;
const FORGED = 'attachkit: the attached process reported a failure of op 0, which it does not run: a forged report (is it traced from inside the container?)';

/** The racer's report: what it caught and took. */
async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
  }
}

/**
 * The CLI, attached again until the racer (in `stop` or `kill` mode) has
 * caught its attached process before exec: a race it can lose.
 */
async function caught(args: readonly string[], seen: () => string, mode: string): Promise<ReturnType<typeof cli>> {
  for (let tries = 0; tries < 20; tries++) {
    const before = seen().split(`\n${mode} `).length;
    const run = cli(args);
    let ended = false;
    void run.done.then(() => { ended = true; });
    await until(() => ended || seen().split(`\n${mode} `).length > before);
    if (seen().split(`\n${mode} `).length > before) return run;
    await run.done;
  }
  throw new Error(`the racer never caught an attached process before its exec (${mode})`);
}

/** The CLI as a child we can signal: its status and stderr once it has ended. */
function cli(args: readonly string[]): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(CLI, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr }))) };
}

/**
 * The CLI with fd 40 on the host's / and not close-on-exec, as a careless
 * caller leaves one: it reaches attachkit's node, but never the executor.
 */
function cliWithHostDir(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const root = openSync('/', 'r');
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, { stdio: ['ignore', 'ignore', 'pipe', ...Array<'ignore'>(37).fill('ignore'), root] });
    closeSync(root);
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('security: a ptrace-capable root inside a privileged container racing the attach', () => {
  let victim: ChildProcess;
  before(() => {
    ensureContainer(SEC);
    const r = spawnSync('cc', ['-static', '-O2', '-Wall', '-Werror', '-o', `${ROOTFS}/racer`, RACER_C], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    victim = spawn('sleep', ['600'], { stdio: 'ignore' });
  });
  after(async () => {
    victim.kill('SIGKILL');
    await new Promise<void>((resolve) => { execFile('lxc-stop', ['-n', SEC.name, '-k'], () => resolve()); });
  });

  /** Run the racer inside for `seconds` while `attach` runs (given what the racer printed so far); its report once it has ended. */
  async function race(seconds: number, attach: (seen: () => string) => Promise<void>, mode = 'steal'): Promise<ReturnType<typeof parseRacer>> {
    const racer: AttachedProcess = await defaultPipeline().spawn({
      target: { name: SEC.name }, command: ['/racer', String(seconds), String(victim.pid), mode], stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    racer.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    racer.stderr!.resume();
    await until(() => out.includes('ready'));
    try {
      await attach(() => out);
    } finally {
      racer.kill('SIGKILL');
      await racer.exited;
    }
    return parseRacer(out);
  }

  /** The processes in the container that were not there before the test: none of an attach may stay. */
  let resident: number[] = [];
  const leftInside = () => pidNamespaceMembers(initPid(SEC)).filter((pid) => !resident.includes(pid))
    .map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
  beforeEach(() => { resident = pidNamespaceMembers(initPid(SEC)); });

  it('holds CAP_SYS_PTRACE as root in the container (the premise)', () => {
    const bounding = BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${initPid(SEC)}/status`, 'utf8'))![1]}`);
    assert.equal((bounding >> CAP_SYS_PTRACE) & 1n, 1n);
  });

  it('should let it take no host fd and make attachkit signal nothing, over 50 attaches', async () => {
    const outcomes: string[] = [];
    const seen = await race(60, async () => {
      for (let i = 0; i < 50; i++) {
        const r = await cliWithHostDir(['-n', SEC.name, '--', 'true']);
        // Forged reports may fail an attach (root inside can always make its
        // own attach fail): then with one line that says so, nothing else.
        // (The racer's own bytes go to the command's stderr, which is the caller's.)
        const ours = r.stderr.split('\n').filter((l) => l.includes('attachkit:')).map((l) => l.slice(l.indexOf('attachkit:')));
        outcomes.push(r.code === 0 && ours.length === 0 ? 'ok' : r.code === 1 && ours.join('\n') === FORGED ? 'forged' : `${r.code}: ${r.stderr}`);
      }
    });
    assert.ok(seen.caught >= 10, `the racer caught ${seen.caught} attached processes: too few to prove anything`);
    assert.deepEqual(outcomes.filter((o) => o !== 'ok' && o !== 'forged'), [], 'every attach ran or failed with one line');
    // 0-2 are the caller's redirections (node's stdio pipes are sockets): the command's own.
    assert.deepEqual(beyond(seen.stolen, ALLOWED, statSync(ROOTFS).ino), [], 'only what the command needs crosses, and no directory of the host');
    assert.equal(victim.exitCode, null, 'the victim lives');
    assert.doesNotThrow(() => process.kill(victim.pid!, 0));
  });

  it("should let it take no host terminal: under a terminal, the command's std fds are the container's pty from the start", async () => {
    const devpts = `${statSync(`/proc/${initPid(SEC)}/root/dev/pts/ptmx`).dev}`;
    const outputs: string[] = [];
    const seen = await race(30, async () => {
      for (let i = 0; i < 10; i++) outputs.push(text(await underScript(`${q(CLI)} -n ${SEC.name} -- true </dev/null`)));
    });
    assert.ok(seen.caught >= 3, `the racer caught ${seen.caught} attached processes`);
    const ttys = seen.stolen.filter((s) => s.what.startsWith('/dev/pts/'));
    assert.ok(ttys.length > 0, 'it saw the std fds');
    // st_dev as major:minor; the container's devpts instance is the only one allowed.
    const ours = `${Math.floor(Number(devpts) / 256) & 0xfff}:${(Number(devpts) & 0xff) | ((Number(devpts) >> 12) & 0xfff00)}`;
    assert.deepEqual(ttys.filter((s) => s.dev !== ours), [], `only the container's devpts (${ours}) crosses`);
    assert.deepEqual(beyond(seen.stolen, ALLOWED, statSync(ROOTFS).ino), [], outputs.join('\n'));
  });

  // Stalled before exec: root inside stops the attached process (it may
  // signal it in any container), or the container's cgroup is frozen. Until
  // the command has been exec'd, SIGTERM, SIGINT and SIGHUP give up the attach.
  for (const [signal, status] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
    it(`should give up a start the container stalls on ${signal}, with ${status} and nothing left inside`, async () => {
      await race(20, async (seen) => {
        const run = await caught(['-n', SEC.name, '--', 'true'], seen, 'stop');
        run.child.kill(signal);
        assert.deepEqual(await run.done, { code: status, stderr: `attachkit: the attach was given up before the command started: ${signal}\n` });
      }, 'stop');
      assert.deepEqual(leftInside(), []);
    });
  }

  it('should give up after --start-timeout, and report an attached process killed before its exec as a failed start', async () => {
    await race(20, async (seen) => {
      const r = await (await caught(['-n', SEC.name, '--start-timeout', '1', '--', 'true'], seen, 'stop')).done;
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^attachkit: the command did not start within 1000 ms \(is the container frozen, or its attached process stopped\?\): gave up\n$/);
    }, 'stop');
    assert.deepEqual(leftInside(), []);
    await race(20, async (seen) => {
      const r = await (await caught(['-n', SEC.name, '--', 'true'], seen, 'kill')).done;
      assert.deepEqual(r, { code: 1, stderr: 'attachkit: the attached process ended (killed by signal 9) before it could exec the command\n' });
    }, 'kill');
  });

  it('should give up on a frozen cgroup (cgroup.freeze), from the CLI and through an AbortSignal, leaving no process', async () => {
    const cgroup = /^0::(.*)$/m.exec(readFileSync(`/proc/${initPid(SEC)}/cgroup`, 'utf8'))![1]!;
    const freeze = `/sys/fs/cgroup/unified${cgroup}/cgroup.freeze`;
    writeFileSync(freeze, '1');
    try {
      const run = cli(['-n', SEC.name, '--', 'true']);
      await new Promise((r) => setTimeout(r, 500));
      run.child.kill('SIGTERM');
      assert.deepEqual(await run.done, { code: 143, stderr: 'attachkit: the attach was given up before the command started: SIGTERM\n' });
      const [fds, kids] = [openFdCount(), children().length];
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 300);
      const err = await refusal(defaultPipeline().spawn({ target: { name: SEC.name }, command: ['true'], stdio: ['ignore', 'ignore', 'ignore'], signal: abort.signal }));
      assert.equal(err.code, 'AK_ABORTED');
      assert.equal(err.message, 'the attach was aborted before the command started: This operation was aborted');
      assert.deepEqual([openFdCount(), children().length], [fds, kids]);
    } finally {
      writeFileSync(freeze, '0');
    }
    assert.deepEqual(leftInside(), []);
  });
});

describe('security: a lying executor (what a stolen sync socket could say)', () => {
  // The sync socket never reaches the target now; should anything ever speak
  // on it but the executor, a pid it reports is held only once proven to be
  // attachkit's own child, so nothing else is ever signalled.
  it('should refuse a reported pid that is not its child, kill nothing else, and fail with one error', async () => {
    const victim = spawn('sleep', ['600'], { stdio: 'ignore' });
    const dir = mkdtempSync(join(tmpdir(), 'attachkit-liar-'));
    try {
      const liar = join(dir, 'liar');
      const cc = spawnSync('cc', ['-static', '-O2', '-Wall', '-Werror', `-DVICTIM=${victim.pid}`, '-o', liar, LIAR_C], { encoding: 'utf8' });
      assert.equal(cc.status, 0, cc.stderr);
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(CLI, ['--executor', liar, '--pid', String(process.pid), '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (d) => { stderr += d; });
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^attachkit: the executor reported pid \d+, which is not a process of this attach: refused\n$/);
      assert.equal(victim.exitCode, null);
      assert.doesNotThrow(() => process.kill(victim.pid!, 0), 'the victim lives');
    } finally {
      victim.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
