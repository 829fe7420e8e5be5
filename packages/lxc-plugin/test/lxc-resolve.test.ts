import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AttachError, CONTAINER_CONFIG, createPipeline, ErrorCodes, realLibc, type AttachRequest, type ContainerConfig, type ResolvedTarget,
} from '@attachkit/core';
import { LXC_CONTAINER, LxcMonitor, lxcPlugin, type LxcContainer } from '../src/index.js';
import { collect, stage } from './helpers.js';

const FAKE_MONITOR = fileURLToPath(new URL('./fake-monitor.js', import.meta.url));

/** Start a fake monitor; resolves once it listens. */
function fakeMonitor(lxcpath: string, name: string, mode: string, extra: string[] = [], uid?: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FAKE_MONITOR, lxcpath, name, mode, ...extra], { stdio: ['ignore', 'pipe', 'inherit'], ...(uid === undefined ? {} : { uid, gid: uid }) });
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`fake monitor exited (${code})`)));
  });
}

/** Resolve a request's target, run `true`, and return what resolve-target published. */
async function resolveOnly(request: AttachRequest) {
  let seen: { target: ResolvedTarget; config: ContainerConfig | undefined; container: LxcContainer | undefined } | undefined;
  const pipeline = createPipeline({ plugins: [lxcPlugin()] }).add(stage('record', (ctx) => {
    seen = { target: ctx.target, config: ctx.get(CONTAINER_CONFIG), container: ctx.get(LXC_CONTAINER) };
  }, { after: ['resolve-target'], before: ['exec'] }));
  await collect(await pipeline.spawn({ ...request, command: ['true'], stdio: ['ignore', 'pipe', 'pipe'] }));
  return seen!;
}

describe('resolve-target by container name (no LXC needed)', () => {
  let lxcpath: string;
  const children: ChildProcess[] = [];
  before(() => { lxcpath = mkdtempSync(join(tmpdir(), 'attachkit-lxcpath-')); });
  after(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(lxcpath, { recursive: true, force: true });
  });

  const define = (name: string, config: string) => {
    mkdirSync(join(lxcpath, name), { recursive: true });
    writeFileSync(join(lxcpath, name, 'config'), config);
  };
  const rejects = (request: AttachRequest, message: string | RegExp, code: string = ErrorCodes.TARGET) =>
    assert.rejects(createPipeline({ plugins: [lxcPlugin()] }).spawn({ ...request, command: ['true'] }), (err: AttachError) => {
      assert.ok(err instanceof AttachError, String(err));
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      assert.equal(err.code, code);
      assert.equal(err.stage, 'resolve-target');
      return true;
    });

  it("should refuse a name that is a path ('/', '.', '..') before touching anything", async () => {
    for (const name of ['..', '.', 'a/b', '../c1', '']) {
      await rejects({ target: { name, lxcpath } }, /^resolve-target: invalid container name: /, ErrorCodes.BAD_REQUEST);
    }
  });

  it('should say a container is not defined when it has no config and no monitor', async () => {
    await rejects({ target: { name: 'c1', lxcpath } }, `resolve-target: container 'c1' is not defined in ${lxcpath} (no ${lxcpath}/c1/config)`);
  });

  it('should say a defined container is not running when no monitor listens, naming the socket and errno', async () => {
    define('c2', 'lxc.uts.name = c2\n');
    await rejects({ target: { name: 'c2', lxcpath } },
      `resolve-target: container 'c2' is not running (no monitor at @${lxcpath}/c2/command: ECONNREFUSED (Connection refused))`);
  });

  it('should read the -f rcfile instead of the config, and name its file and line when it is broken', async () => {
    define('c3', 'lxc.uts.name = c3\n');
    const rcfile = join(lxcpath, 'rc.conf');
    writeFileSync(rcfile, 'lxc.uts.name = c3\nlxc.include = /no/such/file.conf\n');
    await rejects({ target: { name: 'c3', lxcpath, rcfile } },
      `resolve-target: the config of container 'c3': ${rcfile}:2: lxc.include = /no/such/file.conf: cannot read the included file: ENOENT (No such file or directory)`);
    // An rcfile makes a container without a config of its own defined: the monitor is asked.
    writeFileSync(rcfile, 'lxc.uts.name = c4\n');
    await rejects({ target: { name: 'c4', lxcpath, rcfile } }, /^resolve-target: container 'c4' is not running /);
  });

  it('should fall back to GET_INIT_PID and pidfd_open when the monitor has no GET_INIT_PIDFD (older LXC)', async () => {
    define('old', 'lxc.environment = A=1\nlxc.environment = B=2\n');
    const init = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(init, await fakeMonitor(lxcpath, 'old', 'old', [String(init.pid)]));
    const seen = await resolveOnly({ target: { name: 'old', lxcpath } });
    assert.equal(seen.target.pid, init.pid);
    assert.equal(seen.target.description, `container old (init pid ${init.pid})`);
    assert.deepEqual(seen.config?.getAll('lxc.environment'), ['A=1', 'B=2']);
    assert.equal(seen.container?.name, 'old');
    assert.equal(seen.container?.configFile, join(lxcpath, 'old', 'config'));
    assert.equal(seen.container?.socket, `@${lxcpath}/old/command`);
    assert.equal(seen.container?.cloneFlags, 0);
  });

  it("should give up on a monitor that does not answer, after the socket's timeout", async () => {
    children.push(await fakeMonitor(lxcpath, 'hung', 'hang'));
    assert.throws(() => new LxcMonitor(realLibc(), lxcpath, 'hung', 200).state(),
      { name: 'LxcCommandError', failure: 'timeout', message: `GET_STATE: the monitor at @${lxcpath}/hung/command did not answer within 200 ms` });
  });

  it('should not trust a socket served by a user other than root or us (anyone can bind an abstract name)', async () => {
    children.push(await fakeMonitor(lxcpath, 'squatted', 'accept', [], 65534));
    define('squatted', '');
    await rejects({ target: { name: 'squatted', lxcpath } },
      new RegExp(`^resolve-target: container 'squatted': @${lxcpath}/squatted/command is served by pid \\d+ running as uid 65534, neither root nor us`));
  });
});
