import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  AttachError, CONTAINER_MODEL, createPipeline, ErrorCodes, type AttachRequest, type ContainerModel, type StageContext,
} from '@attachkit/core';
import { nsPlugin, parsePasswd } from '../src/index.js';

/** What the command sees: `id -u`, `id -g`, `id -G`, its cwd and its own initial environment. */
const PROBE = ['sh', '-c', 'id -u; id -g; id -G; pwd -P; tr "\\0" "\\n" < /proc/$$/environ'];

/** The model of issue 12's tests, with `extra` over it (undefined members removed). */
function model(extra: Partial<ContainerModel> = {}): ContainerModel {
  return {
    runtime: 'test',
    user: () => ({ uid: 1000, gid: 1000, additionalGids: [10, 20] }),
    cwd: () => '/tmp',
    environment: () => [['PATH', '/bin'], ['FOO', 'bar']],
    environmentReplaces: true,
    ...extra,
  };
}

/** A pipeline of the core and ns-plugin, with a stage publishing `m` right after resolve-target. */
function pipeline(m: ContainerModel | undefined) {
  return createPipeline({ plugins: [nsPlugin()] }).add({
    id: 'test-model', description: 'publish a container model', after: ['resolve-target'], before: ['build-env', 'set-identity', 'exec'],
    plan: (ctx: StageContext) => { if (m) ctx.set(CONTAINER_MODEL, m); },
  });
}

interface Seen { uid: string; gid: string; groups: string; cwd: string; env: string[] }

async function probe(pid: number, m: ContainerModel | undefined, request: Partial<AttachRequest> = {}): Promise<Seen> {
  const proc = await pipeline(m).spawn({ target: { pid }, command: PROBE, stdio: ['ignore', 'pipe', 'pipe'], ...request });
  const { exitCode, stdout, stderr } = await proc.output();
  assert.equal(exitCode, 0, stderr);
  const [uid, gid, groups, cwd, ...env] = stdout.replace(/\n$/, '').split('\n');
  return { uid: uid!, gid: gid!, groups: groups!, cwd: cwd!, env };
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nmodel:x:1000:1000:model:/home/model:/bin/sh\n';

/** A target with its own mount namespace, where /etc/passwd is ours to say. */
async function startTarget(dir: string): Promise<ChildProcess> {
  const script = `mount --bind ${join(dir, 'passwd')} /etc/passwd && echo ready && exec sleep infinity`;
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (String(d).includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`target exited (${code}) before it was ready: ${err}`)));
  });
  return child;
}

/**
 * A target with its own user namespace (ids 0-65535 inside at 100000-165535
 * outside) and our other namespaces: unshare(1) execs sleep in place, and
 * once it is in its user namespace we, root outside, write its id maps.
 */
async function startUsernsTarget(): Promise<ChildProcess> {
  const child = spawn('unshare', ['--user', '--', 'sleep', 'infinity'], { stdio: 'ignore' });
  const ours = readlinkSync('/proc/self/ns/user');
  for (let i = 0; ; i++) {
    let theirs: string | undefined;
    try { theirs = readlinkSync(`/proc/${child.pid}/ns/user`); } catch { /* not yet */ }
    if (theirs !== undefined && theirs !== ours) break;
    if (i > 500) throw new Error('the target never entered its user namespace');
    await sleep(10);
  }
  writeFileSync(`/proc/${child.pid}/uid_map`, '0 100000 65536\n');
  writeFileSync(`/proc/${child.pid}/gid_map`, '0 100000 65536\n');
  return child;
}

describe("the container model's user, cwd and environment (set-identity, exec, build-env)", () => {
  let dir: string;
  let target: ChildProcess;
  let unpriv: ChildProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'attachkit-model-'));
    writeFileSync(join(dir, 'passwd'), PASSWD, { mode: 0o644 });
    [target, unpriv] = await Promise.all([startTarget(dir), startUsernsTarget()]);
  });
  after(() => {
    for (const t of [target, unpriv]) t?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => { delete process.env.AK_CALLER_ONLY; });

  it("should run as the model's user with its additionalGids, in its cwd, with exactly its environment and HOME from passwd", async () => {
    process.env.AK_CALLER_ONLY = 'caller';
    const seen = await probe(target.pid!, model());
    assert.deepEqual(seen, { uid: '1000', gid: '1000', groups: '1000 10 20', cwd: '/tmp', env: ['PATH=/bin', 'FOO=bar', 'HOME=/home/model'] });
  });

  it('should let -u/-g/--groups replace the model\'s user, and take HOME for the user the command runs as', async () => {
    assert.deepEqual(await probe(target.pid!, model(), { uid: 0 }),
      { uid: '0', gid: '0', groups: '0', cwd: '/tmp', env: ['PATH=/bin', 'FOO=bar', 'HOME=/root'] });
    const named = await probe(target.pid!, model(), { uid: 'model', groups: [30] });
    assert.deepEqual([named.uid, named.gid, named.groups], ['1000', '1000', '1000 30']);
    const groups = await probe(target.pid!, model(), { groups: [30] });
    assert.deepEqual([groups.uid, groups.gid, groups.groups], ['0', '0', '0 30']);
    // A uid without a passwd entry: runc's default home.
    assert.deepEqual((await probe(target.pid!, model(), { uid: 4242 })).env.at(-1), 'HOME=/');
  });

  it('should apply a model user without additionalGids as no supplementary group', async () => {
    const seen = await probe(target.pid!, model({ user: () => ({ uid: 1000, gid: 50, additionalGids: [] }) }));
    assert.deepEqual([seen.uid, seen.gid, seen.groups], ['1000', '50', '50']);
  });

  it("should let --cwd replace the model's cwd, and refuse a model cwd that is missing, a magic link or relative", async () => {
    assert.equal((await probe(target.pid!, model(), { cwd: '/etc' })).cwd, '/etc');
    await assert.rejects(probe(target.pid!, model({ cwd: () => '/no/such/dir' })), (err: AttachError) => err instanceof AttachError
      && err.stage === 'exec' && err.message === 'exec: openat2("/no/such/dir", RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) of test\'s working directory failed: ENOENT (No such file or directory)');
    await assert.rejects(probe(target.pid!, model({ cwd: () => '/proc/self/cwd' })),
      (err: AttachError) => err.stage === 'exec' && /of test's working directory failed: ELOOP/.test(err.message));
    await assert.rejects(probe(target.pid!, model({ cwd: () => 'tmp' })),
      { message: 'exec: the working directory "tmp" is not absolute (from test)', code: ErrorCodes.BAD_REQUEST });
  });

  it('should resolve a --cwd or the model\'s cwd in the root, not under the caller\'s cwd, when the mount namespace is not joined', async () => {
    assert.notEqual(process.cwd(), '/');
    assert.equal((await probe(process.pid, undefined, { cwd: '/etc' })).cwd, '/etc');
    assert.equal((await probe(process.pid, model())).cwd, '/tmp');
    assert.equal((await probe(process.pid, undefined)).cwd, process.cwd());
  });

  it("should put -v over the model's environment and keep a HOME it or -v gives", async () => {
    process.env.AK_CALLER_ONLY = 'caller';
    const set = await probe(target.pid!, model(), { env: { set: { FOO: 'flag', NEW: '1' } } });
    assert.deepEqual(set.env, ['PATH=/bin', 'FOO=flag', 'NEW=1', 'HOME=/home/model']);
    const flagHome = await probe(target.pid!, model(), { env: { set: { HOME: '/from-flag' } } });
    assert.deepEqual(flagHome.env, ['PATH=/bin', 'FOO=bar', 'HOME=/from-flag']);
    const modelHome = await probe(target.pid!, model({ environment: () => [['HOME', '/from-model'], ['PATH', '/bin']] }));
    assert.deepEqual(modelHome.env, ['HOME=/from-model', 'PATH=/bin']);
  });

  it('should take only --keep-var names from the caller with --clear-env, under the model\'s entries, and no LXC PATH', async () => {
    process.env.AK_CALLER_ONLY = 'caller';
    const seen = await probe(target.pid!, model({ environment: () => [['FOO', 'bar']] }),
      { env: { policy: 'clear', keep: ['AK_CALLER_ONLY'] } });
    assert.deepEqual(seen.env, ['AK_CALLER_ONLY=caller', 'FOO=bar', 'HOME=/home/model']);
  });

  it("should change nothing for a model without these members (lxc-attach's rules)", async () => {
    process.env.AK_CALLER_ONLY = 'caller';
    const bare = await probe(target.pid!, { runtime: 'test' });
    assert.deepEqual(await probe(target.pid!, undefined), bare);
    assert.deepEqual([bare.uid, bare.gid, bare.groups, bare.cwd], ['0', '0', '0', process.cwd()]);
    assert.ok(bare.env.includes('AK_CALLER_ONLY=caller') && bare.env.includes('container=lxc'), bare.env.join(' '));
    assert.equal(bare.env.find((e) => e.startsWith('HOME=')), process.env.HOME === undefined ? undefined : `HOME=${process.env.HOME}`);
    // A model that adds to the caller's environment (LXC's) gets no HOME from passwd either.
    const adds = await probe(target.pid!, model({ environmentReplaces: undefined, user: undefined, cwd: undefined }));
    assert.ok(adds.env.includes('AK_CALLER_ONLY=caller') && adds.env.includes('FOO=bar') && !adds.env.includes('container=lxc'));
    assert.equal(adds.env.find((e) => e.startsWith('HOME=')), process.env.HOME === undefined ? undefined : `HOME=${process.env.HOME}`);
  });

  describe('a target with its own user namespace', () => {
    it("should run as the model's user inside it, with HOME from the passwd of the root it sees (ours: no mount namespace)", async () => {
      const home = parsePasswd(readFileSync('/etc/passwd', 'utf8')).find((u) => u.uid === 1000)?.home ?? '/';
      const seen = await probe(unpriv.pid!, model(), { command: [...PROBE.slice(0, 2), `${PROBE[2]}; cat /proc/self/uid_map`] });
      assert.deepEqual({ ...seen, env: seen.env.slice(0, 3) }, { uid: '1000', gid: '1000', groups: '1000 10 20', cwd: '/tmp', env: ['PATH=/bin', 'FOO=bar', `HOME=${home}`] });
      assert.deepEqual(seen.env[3]!.trim().split(/\s+/), ['0', '100000', '65536']);
    });

    it("should refuse a model's uid, gid or group that is not mapped, as -u's is", async () => {
      const refused = (what: string, id: number) => (err: AttachError) => err instanceof AttachError && err.code === ErrorCodes.BAD_REQUEST
        && err.message === `set-identity: ${what} ${id} (test's user) is not mapped in the user namespace of pid ${unpriv.pid!} (${what === 'uid' ? 'uid' : 'gid'}_map: 0 100000 65536)`;
      await assert.rejects(probe(unpriv.pid!, model({ user: () => ({ uid: 70000, gid: 0, additionalGids: [] }) })), refused('uid', 70000));
      await assert.rejects(probe(unpriv.pid!, model({ user: () => ({ uid: 0, gid: 70001, additionalGids: [] }) })), refused('gid', 70001));
      await assert.rejects(probe(unpriv.pid!, model({ user: () => ({ uid: 0, gid: 0, additionalGids: [10, 70002] }) })), refused('group', 70002));
      // -u replaces the model's user: its unmapped ids do not matter then.
      assert.equal((await probe(unpriv.pid!, model({ user: () => ({ uid: 70000, gid: 0, additionalGids: [] }) }), { uid: 1000 })).uid, '1000');
    });
  });

  it("should refuse a model's user it cannot read or cannot run as, naming the stage", async () => {
    const broken = model({ user: () => { throw new Error('process.user.uid is not an integer'); } });
    await assert.rejects(probe(target.pid!, broken), { message: 'set-identity: process.user.uid is not an integer', code: ErrorCodes.BAD_REQUEST });
    await assert.rejects(probe(target.pid!, model({ user: () => ({ uid: 0xffffffff, gid: 0, additionalGids: [] }) })),
      { message: "set-identity: the user's uid 4294967295 is not a valid id (from test)" });
  });
});
