import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../helpers/cli.js';

// An unprivileged caller (issue 14, item 6): it may attach to its own
// process in a user namespace it made, as lxc-attach lets a user attach to
// the unprivileged containers it runs; everything else is refused with one
// line that says root (or which capability) is needed.
const UID = 64123;
const USER = 'attachkit-nr';
const AS_USER = ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups'];

const capBnd = (pid: number | 'self', status = readFileSync(`/proc/${pid}/status`, 'utf8')) => /^CapBnd:\s*(\w+)$/m.exec(status)?.[1];

/** The first child of `pid` (the process `unshare --fork` runs), once it exists. */
async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (children) return Number(children.split(' ')[0]);
    await sleep(10);
  }
  throw new Error(`no child of ${pid}`);
}

describe('a non-root caller', () => {
  let created = false;
  const started: ChildProcess[] = [];
  let target = 0;

  const start = (argv: readonly string[]): ChildProcess => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    started.push(child);
    return child;
  };

  before(async () => {
    if (spawnSync('getent', ['passwd', String(UID)]).status !== 0) {
      const add = spawnSync('useradd', ['-u', String(UID), '-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', USER], { encoding: 'utf8' });
      assert.equal(add.status, 0, add.stderr);
      created = true;
    }
    const unshare = start([...AS_USER, 'unshare', '--user', '--map-root-user', '--fork', '--pid', '--mount-proc', 'sleep', '120']);
    target = await childOf(unshare.pid!);
  });

  after(() => {
    if (target) process.kill(target, 'SIGKILL');
    for (const child of started) child.kill('SIGKILL');
    if (created) spawnSync('userdel', [USER]);
  });

  it('should attach to its own process in a user namespace it made: the command runs as its root, no EPERM', async () => {
    const r = await runCli(['--pid', String(target), '--', 'sh', '-c', 'id; cat /proc/self/uid_map'], { prefix: AS_USER });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    const [id, map] = r.stdout.split('\n');
    assert.match(id!, /^uid=0\(root\) gid=0\(root\)/);
    assert.deepEqual(map!.trim().split(/\s+/), ['0', String(UID), '1']);
  });

  it("should give the command the target's bounding set", async () => {
    const r = await runCli(['--pid', String(target), '--', 'cat', '/proc/self/status'], { prefix: AS_USER });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(capBnd('self', r.stdout), capBnd(target));
  });

  it('should refuse a root process with one line that says root is needed', async () => {
    const root = start(['sleep', '120']);
    await sleep(50);
    for (const pid of [1, root.pid!]) {
      const r = await runCli(['--pid', String(pid), '--', 'id'], { prefix: AS_USER });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^attachkit: [\w-]+: cannot read \/proc\/\d+\/\S+: permission denied \(attaching to another user's process needs root\)\n$/);
    }
  });

  it('should refuse its own process whose bounding set it cannot drop to, naming CAP_SETPCAP', async () => {
    const narrowed = start(['setpriv', '--bounding-set', '-net_raw', ...AS_USER.slice(1), 'sleep', '120']);
    for (let i = 0; i < 100 && !/\bsleep\b/.test(readFileSync(`/proc/${narrowed.pid}/comm`, 'utf8')); i++) await sleep(10);
    const r = await runCli(['--pid', String(narrowed.pid), '--', 'id'], { prefix: AS_USER });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^attachkit: drop-caps: the target's bounding set lacks CAP_NET_RAW, .*needs CAP_SETPCAP \(run as root.*\n$/);
  });

  it('should have doctor say root is needed, not FAIL', async () => {
    const r = await runCli(['doctor'], { prefix: AS_USER });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /^FAIL/m);
    assert.match(r.stdout, /^warn\s+privileges\s+not root \(uid 64123\): attaching needs root/m);
    assert.match(r.stdout, /^ok\s+executor\s+.*needs root/m);
  });
});
