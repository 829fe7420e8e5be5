import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import { createPipeline, ErrorCodes, type AttachError, type AttachRequest, type Stage } from '@attachkit/core';
import { nsPlugin } from '@attachkit/ns-plugin';
import { children, collect, openFdCount, pidNamespaceMembers, refusal, stateOf, stoppedChild, zombies } from '../helpers/process.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

/**
 * Faults and load, through the library in one process, against sandbox
 * containers: many attaches leave nothing behind, and an attach whose
 * container or target goes away, or whose caller is killed, fails cleanly
 * and leaves no process in the container. No timing is asserted.
 */

const ATTACH_CHILD = fileURLToPath(new URL('../helpers/attach-child.js', import.meta.url));
const piped = ['ignore', 'pipe', 'pipe'] as const;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const memory = () => {
  gc();
  return { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
};
const MB = 1024 * 1024;

/** Poll until `done()` holds, for up to `ms`; its last value. */
async function eventually<T>(probe: () => T, done: (value: T) => boolean, ms = 3000): Promise<T> {
  let value = probe();
  for (const end = Date.now() + ms; !done(value) && Date.now() < end; value = probe()) await sleep(20);
  return value;
}

describe('load and faults (sandbox containers, the library in one process)', () => {
  let box: Sandbox;
  let scratch: string;
  before(async () => {
    box = await startSandbox();
    scratch = mkdtempSync(join(tmpdir(), 'attachkit-load-'));
  });
  after(async () => {
    await box.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('should run 1000 sequential and 100 concurrent attaches, all succeeding, with no zombie and flat fds and memory', async () => {
    const pipeline = defaultPipeline();
    const request = (i: number): AttachRequest => ({ target: { pid: box.pid }, command: ['sh', '-c', `exit ${i % 4}`], stdio: [...piped] });
    for (let i = 0; i < 50; i++) await collect(await pipeline.spawn(request(i))); // warm: caches, the executor image
    const fds = openFdCount();
    const before = children(); // the sandbox's own
    let start = memory();
    for (let i = 0; i < 1000; i++) {
      assert.equal((await collect(await pipeline.spawn(request(i)))).exitCode, i % 4);
      // Measured from here: the first few hundred attaches settle the allocator and the JIT (a plateau, not a leak).
      if (i === 299) start = memory();
    }
    const results = await Promise.all(Array.from({ length: 100 }, async (_, i) => (await collect(await pipeline.spawn(request(i)))).exitCode));
    assert.deepEqual(results, Array.from({ length: 100 }, (_, i) => i % 4));
    assert.deepEqual(zombies(), []);
    assert.deepEqual(children(), before, 'no process of ours is left');
    assert.equal(openFdCount(), fds);
    const end = memory();
    // Generous bounds: they catch a leak per attach (800 attaches: 5 KB each is 4 MB), not GC noise.
    assert.ok(end.heap - start.heap < 5 * MB, `heap grew by ${((end.heap - start.heap) / MB).toFixed(1)} MB`);
    assert.ok(end.rss - start.rss < 40 * MB, `RSS grew by ${((end.rss - start.rss) / MB).toFixed(1)} MB`);
  });

  // The container dies while the intermediate waits at the sync point: the
  // join fails (the namespaces are gone with their last process), the
  // attach says so, and nothing of it is left.
  it('should fail clearly and leak nothing when the container stops mid-attach', async () => {
    const pipeline = defaultPipeline();
    await collect(await pipeline.spawn({ target: { pid: box.pid }, command: ['true'], stdio: [...piped] }));
    const fds = openFdCount();
    const before = children().map((c) => c.pid); // the sandbox's own
    const doomed = await startSandbox();
    const marker = join(scratch, 'stopped-ran');
    const stopAtSync: Stage = {
      id: 'stop-container', description: 'the container stops at the sync point', after: ['resolve-target'], before: ['exec'],
      plan: () => {},
      atSyncPoint: async () => {
        process.kill(doomed.pid, 'SIGKILL');
        await eventually(() => existsSync(`/proc/${doomed.pid}`), (alive) => !alive);
      },
    };
    try {
      await assert.rejects(pipeline.clone().add(stopAtSync).spawn({ target: { pid: doomed.pid }, command: ['touch', marker], stdio: [...piped] }),
        (err: AttachError) => {
          assert.match(err.message, new RegExp(`^join-namespaces: setns\\(pidfd, CLONE_NEW\\S+\\) on pid ${doomed.pid} failed: ESRCH \\(No such process\\)$`));
          return true;
        });
      assert.equal(existsSync(marker), false, 'the command never ran');
    } finally {
      await doomed.stop();
    }
    const ours = () => children().map((c) => c.pid).filter((pid) => !before.includes(pid));
    assert.deepEqual(await eventually(ours, (pids) => pids.length === 0), []);
    assert.equal(openFdCount(), fds);
  });

  // The target exits during planning and its pid is given to another
  // process at once (ns_last_pid), one with a hostname of its own: the
  // attach holds the target by a pidfd, so it fails rather than join the
  // newcomer's namespaces.
  it('should never attach to a process that took the pid of an exited target', async () => {
    const ready = (child: ChildProcess) => new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    const uts = (hostname: string) => spawn('unshare', ['--uts', 'sh', '-c', `hostname ${hostname} && echo ready && exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const target = uts('attachkit-original');
    await ready(target);
    const pid = target.pid!;
    let newcomer: ChildProcess | undefined;
    const recycle: Stage = {
      id: 'recycle-pid', description: 'the target exits; another process gets its pid', after: ['resolve-target'], before: ['join-namespaces'],
      plan: async () => {
        const exited = new Promise((resolve) => target.once('exit', resolve));
        target.kill('SIGKILL');
        await exited;
        for (let i = 0; i < 200 && newcomer?.pid !== pid; i++) {
          newcomer?.kill('SIGKILL');
          writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
          newcomer = uts('attachkit-recycled');
        }
        await ready(newcomer!);
      },
    };
    const marker = join(scratch, 'recycled-ran');
    try {
      // Only the namespace join: the other stages re-check the pidfd after their own reads too.
      const err = await refusal(createPipeline({ plugins: [nsPlugin()] }).add(recycle).spawn({ target: { pid }, command: ['touch', marker], stdio: [...piped] }));
      assert.equal(newcomer!.pid, pid, 'the pid was recycled');
      assert.equal(err.code, ErrorCodes.TARGET);
      assert.equal(err.message, `join-namespaces: the target pid ${pid} exited during the attach`);
      assert.equal(existsSync(marker), false, 'the command never ran');
    } finally {
      target.kill('SIGKILL');
      newcomer?.kill('SIGKILL');
    }
  });

  // kill -9 of attachkit mid-attach (docs/architecture.md, "When attachkit
  // is killed"): at the sync point the intermediate reads end-of-file and
  // exits; an attached process not yet exec'd dies of PR_SET_PDEATHSIG; one
  // forked after attachkit died finds the lifeline pipe without a reader and
  // dies before exec. No process is left in the container, and the command
  // never ran.
  describe('kill -9 of the attaching process', () => {
    const run = (where: string, command: string[]) => {
      const child = spawn(process.execPath, [ATTACH_CHILD, String(box.pid), where, ...command], { stdio: ['ignore', 'pipe', 'inherit'] });
      const lines: string[] = [];
      child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      return { child, lines, kill: async () => { child.kill('SIGKILL'); await exited; } };
    };
    const inContainer = () => pidNamespaceMembers(box.pid);

    for (const where of ['sync', 'intermediate', 'attached']) {
      it(`should leave no process in the container when killed with the ${where === 'sync' ? 'intermediate at the sync point' : `${where} process stopped before exec`}`, async () => {
        const marker = join(scratch, `killed-${where}`);
        const attach = run(where, ['touch', marker]);
        let paused: number;
        if (where === 'sync') {
          await eventually(() => attach.lines, (l) => l.length > 0, 10000);
          paused = Number(attach.lines[0]!.split(' ')[1]);
        } else {
          paused = await stoppedChild(attach.child.pid!, 10000);
        }
        await attach.kill();
        const gone = () => eventually(() => existsSync(`/proc/${paused}`), (alive) => !alive);
        // Stopped as it is, the attached process dies of its parent-death signal;
        // the intermediate (not in the container's pid namespace) goes on when continued.
        if (where === 'attached') assert.equal(await gone(), false, `the stopped attached process ${paused} died with its parent`);
        try { process.kill(paused, 'SIGCONT'); } catch { /* already gone */ }
        assert.equal(await gone(), false, `process ${paused} is gone`);
        assert.deepEqual(await eventually(inContainer, (pids) => pids.length === 0), []);
        assert.equal(existsSync(marker), false, 'the command never ran');
      });
    }

    // The executor is started before the stages plan; killed then, attachkit
    // leaves it reading end-of-file where its program would come: it exits.
    it('should leave no executor behind when killed while the stages plan', async () => {
      const attach = run('plan', ['true']);
      await eventually(() => attach.lines, (l) => l.length > 0, 10000);
      const executors = children(attach.child.pid!).map((c) => c.pid)
        .filter((pid) => readlinkSync(`/proc/${pid}/exe`).startsWith('/memfd:attachkit-executor'));
      assert.equal(executors.length, 1, 'the executor waits for its program');
      await attach.kill();
      // Exited: gone, or a zombie until the init it was left to reaps it.
      assert.match(await eventually(() => stateOf(executors[0]!), (state) => state === 'Z' || state === 'gone'), /^(Z|gone)$/);
      assert.deepEqual(inContainer(), []);
    });

    it('should leave a command that has started running, as lxc-attach does', async () => {
      const attach = run('exec', ['sleep', '30']);
      await eventually(() => attach.lines, (l) => l.length > 0, 10000);
      const pid = Number(attach.lines[0]!.split(' ')[1]);
      await attach.kill();
      try {
        assert.ok(inContainer().includes(pid), 'the command still runs in the container');
        assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\0/);
      } finally {
        process.kill(pid, 'SIGKILL');
      }
    });
  });
});
