import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { children, pidNamespaceMembers, stateOf } from '../helpers/process.js';
import { ensureRuncContainer, removeRuncContainer, type OciContainer } from '../oci/containers.js';

/**
 * `attachkit --oci` on bad input: one line on stderr naming what is wrong,
 * status 1, nothing on stdout, and nothing left behind: no process of the
 * CLI's (none carries the mark put in its environment), no new descendant
 * of this test, nothing new in the target's pid namespace or under it.
 *
 * Most targets are fabricated: a runc-format state (state.json) in a
 * temporary --oci-root naming processes this test spawns; one is a real
 * runc container whose init was SIGKILLed.
 */

const MARK = `attachkit-ocit-${process.pid}-${Date.now()}`;
const STOPPED = 'attachkit-ocit-stopped';
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** Field 22 of /proc/PID/stat, whatever the state (a zombie's too); undefined when gone. */
function rawStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

/** This test's descendants, recursively. */
function descendants(pid: number = process.pid): number[] {
  return children(pid).flatMap((c) => [c.pid, ...descendants(c.pid)]).sort((a, b) => a - b);
}

/** Every process whose environment holds MARK: the CLI and anything it left. */
function marked(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`ATTACHKIT_OCIT_MARK=${MARK}`);
    } catch {
      return false;
    }
  });
}

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (ok()) return true;
  return ok();
}

/** A process of ours to point a state at: its pid (the innermost `sleep` for a wrapper) and start time. */
interface Target { readonly child: ChildProcess; readonly pid: number; readonly start: number }

async function spawnTarget(argv: readonly string[], inner: (child: number) => number | undefined = (p) => p): Promise<Target> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  let pid: number | undefined;
  assert.ok(await until(() => (pid = inner(child.pid!)) !== undefined && rawStartTime(pid) !== undefined, 5000), `${argv.join(' ')} did not start`);
  return { child, pid: pid!, start: rawStartTime(pid!)! };
}

/** The target, then its wrapper (unshare --fork does not pass on its death to the sleep it forked). */
function kill(t: Target | undefined): void {
  if (!t) return;
  if (t.pid !== t.child.pid && rawStartTime(t.pid) === t.start && stateOf(t.pid) !== 'Z') process.kill(t.pid, 'SIGKILL');
  if (t.child.exitCode === null && t.child.signalCode === null) t.child.kill('SIGKILL');
}

/**
 * Run the CLI and check the refusal: status 1, one line matching `re`, and
 * nothing left (no marked process, the same descendants of this test, the
 * target's pid namespace and children as they were).
 */
async function refused(args: readonly string[], re: RegExp, opts: { target?: Target; prefix?: readonly string[] } = {}): Promise<string> {
  const before = descendants();
  // The target's own pid namespace, when it has one (the host's changes under us), and what is under it.
  const ownNs = opts.target && readlinkSync(`/proc/${opts.target.pid}/ns/pid`) !== readlinkSync('/proc/self/ns/pid');
  const ns = ownNs ? pidNamespaceMembers(opts.target!.pid) : undefined;
  const under = opts.target && descendants(opts.target.pid);
  const r = await runCli(args, { env: { ...process.env, ATTACHKIT_OCIT_MARK: MARK }, cwd: '/', ...(opts.prefix ? { prefix: opts.prefix } : {}) });
  assert.deepEqual(marked(), [], 'a process of the CLI is left');
  assert.deepEqual(descendants(), before, 'descendants of the test changed');
  if (opts.target) {
    assert.deepEqual(descendants(opts.target.pid), under, 'the target got a child');
    if (ownNs) assert.deepEqual(pidNamespaceMembers(opts.target.pid), ns, "the target's pid namespace changed");
  }
  assert.deepEqual({ code: r.code, signal: r.signal, stdout: r.stdout }, { code: 1, signal: null, stdout: '' }, r.stderr);
  assert.match(r.stderr, /^attachkit: [^\n]+\n$/, 'one line');
  assert.match(r.stderr, re);
  return r.stderr;
}

describe('attachkit --oci: refusals (one line, status 1, nothing left behind)', () => {
  let root: string;
  const targets: Target[] = [];
  let sleeper: Target;
  let isolated: Target;
  let stopped: OciContainer | undefined;

  /** A runc-format state <root>/<id>/state.json (0600, root's) naming `pid`, started at `start`, its bundle `bundle`. */
  const state = (id: string, fields: { pid: number; start: number; bundle?: string }): string => {
    const dir = join(root, id);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'state.json');
    writeFileSync(file, JSON.stringify({
      id, init_process_pid: fields.pid, init_process_start: fields.start, created: new Date().toISOString(),
      config: { labels: [`bundle=${fields.bundle ?? join(root, `${id}.bundle`)}`] },
    }), { mode: 0o600 });
    return file;
  };
  /** A bundle whose config.json has `process` (0600, root's). */
  const bundle = (id: string, process: Record<string, unknown>): string => {
    const dir = join(root, `${id}.bundle`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: { args: ['sh'], cwd: '/', ...process }, root: { path: 'rootfs' }, linux: {} }), { mode: 0o600 });
    return dir;
  };
  const oci = (id: string, ...rest: string[]) => ['--oci', id, '--oci-root', root, ...rest, '--', 'true'];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'attachkit-ocit-refusals-'));
    sleeper = await spawnTarget(['sleep', '60']);
    // In its own pid and mount namespaces, as a container's init: the sleep under unshare.
    isolated = await spawnTarget(['unshare', '--fork', '--pid', '--mount-proc', 'sleep', '60'], (p) => children(p)[0]?.pid);
    targets.push(sleeper, isolated);
    assert.notEqual(readlinkSync(`/proc/${isolated.pid}/ns/pid`), readlinkSync('/proc/self/ns/pid'));
  });

  after(() => {
    for (const t of targets) kill(t);
    removeRuncContainer(STOPPED);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('(a) should refuse an unknown id, saying where it looked', async () => {
    await refused(['--oci', 'attachkit-ocit-no-such', '--', 'true'],
      /^attachkit: resolve-target: no OCI container 'attachkit-ocit-no-such' \(looked in \/run\/runc, \/run\/crun, [^)]*\)\n$/);
    await refused(oci('attachkit-ocit-no-such'), new RegExp(`^attachkit: resolve-target: no OCI container 'attachkit-ocit-no-such' \\(looked in ${root}\\)\n$`));
  });

  it('(b) should refuse a runc container whose init was SIGKILLed as not running, before and after the init is reaped', async (t) => {
    stopped = ensureRuncContainer({ id: STOPPED });
    const init = stopped.initPid;
    process.kill(init, 'SIGKILL');
    assert.ok(await until(() => stateOf(init) === 'Z' || stateOf(init) === 'gone', 5000));
    const notRunning = new RegExp(`^attachkit: resolve-target: OCI container ${STOPPED} \\(runc .*\\) is not running \\(its init, pid ${init}, (is gone|has exited)\\)\n$`);
    // Nobody reaps a runc init but the host's pid 1, which may take its time:
    // a zombie init is a stopped container too (runc state says "stopped").
    if (stateOf(init) === 'Z') await refused(['--oci', STOPPED, '--', 'true'], notRunning);
    if (!await until(() => stateOf(init) === 'gone', 15_000)) return t.skip(`the host's pid 1 did not reap the init (pid ${init}) within 15 s`);
    await refused(['--oci', STOPPED, '--', 'true'], notRunning);
  });

  it('(b) should refuse a state whose init is a zombie as not running (a container without its own pid namespace: nothing else would stop the attach)', async (t) => {
    // In its own mount, network and UTS namespaces (not pid), sh forks a
    // sleep that exits at once, then becomes `sleep 60`, which never reaps it.
    const zombie = await spawnTarget(['unshare', '--mount', '--net', '--uts', 'sh', '-c', 'sleep 0 & exec sleep 60'],
      (p) => children(p).find((c) => c.state === 'Z')?.pid);
    targets.push(zombie);
    state('zombie', { pid: zombie.pid, start: zombie.start, bundle: bundle('zombie', {}) });
    await refused(oci('zombie'), new RegExp(`^attachkit: resolve-target: OCI container zombie \\(the root given\\) is not running \\(its init, pid ${zombie.pid}, has exited\\)\n$`));
  });

  it('(c) should refuse a recycled pid: a live process whose start time is not the init\'s', async () => {
    state('recycled', { pid: sleeper.pid, start: sleeper.start + 1 });
    await refused(oci('recycled'), new RegExp(`^attachkit: resolve-target: OCI container recycled \\(the root given\\) is not running \\(pid ${sleeper.pid} started at ${sleeper.start}, its init at ${sleeper.start + 1}: a recycled pid\\)\n$`), { target: sleeper });
    assert.equal(children(sleeper.pid).length, 0);
  });

  it('(d) should refuse a state.json that does not parse, naming it', async () => {
    const file = state('garbled', { pid: sleeper.pid, start: sleeper.start });
    writeFileSync(file, '{"init_process_pid": 12,', { mode: 0o600 });
    await refused(oci('garbled'), new RegExp(`^attachkit: resolve-target: the state of container 'garbled' \\(${file}\\): JSON: .+\n$`));
  });

  it('(e) should refuse a config.json field attachkit cannot apply, naming it (process.ioPriority, an unknown process field)', async () => {
    for (const [id, field, value] of [['iopriority', 'ioPriority', { class: 'IOPRIO_CLASS_IDLE', priority: 0 }], ['unknown-field', 'fooBar', true]] as const) {
      state(id, { pid: isolated.pid, start: isolated.start, bundle: bundle(id, { [field]: value }) });
      await refused(oci(id), new RegExp(`^attachkit: resolve-target: OCI container ${id} \\(the root given\\): process\\.${field} cannot be applied by attachkit: refused rather than dropped\n$`), { target: isolated });
      assert.deepEqual(children(isolated.pid), [], 'the target got a child');
    }
  });

  it('(f) should say that it cannot read a state root the caller may not read (as nobody, a 0700 root-owned --oci-root)', async () => {
    const locked = join(root, 'locked');
    mkdirSync(join(locked, 'c1'), { recursive: true, mode: 0o700 });
    chmodSync(locked, 0o700);
    chmodSync(root, 0o711); // nobody may pass through to it, not read it
    try {
      await refused(['--oci', 'c1', '--oci-root', locked, '--', 'true'],
        new RegExp(`^attachkit: resolve-target: cannot read the state root ${locked}: EACCES: it is not readable by this user \\(the runtime runs as root: run attachkit as root\\)\n$`), { prefix: NOBODY });
    } finally {
      chmodSync(root, 0o700);
    }
  });

  it('(g) should refuse state and config files others may write, or another user owns, as not trusted', async () => {
    const file = state('open-state', { pid: isolated.pid, start: isolated.start, bundle: bundle('open-state', {}) });
    chmodSync(file, 0o666);
    await refused(oci('open-state'), new RegExp(`^attachkit: resolve-target: the state of container 'open-state' \\(${file}\\): ${file} is writable by group or others \\(mode 666\\): not trusted\n$`), { target: isolated });

    const owned = state('owned-state', { pid: isolated.pid, start: isolated.start, bundle: bundle('owned-state', {}) });
    chownSync(owned, 65534, 65534);
    await refused(oci('owned-state'), new RegExp(`^attachkit: resolve-target: the state of container 'owned-state' \\(${owned}\\): ${owned} is owned by uid 65534, neither root nor the caller: not trusted\n$`), { target: isolated });

    const dir = bundle('open-config', {});
    state('open-config', { pid: isolated.pid, start: isolated.start, bundle: dir });
    chmodSync(join(dir, 'config.json'), 0o620);
    await refused(oci('open-config'), new RegExp(`^attachkit: resolve-target: OCI container open-config \\(the root given\\): ${dir}/config\\.json cannot be read: ${dir}/config\\.json is writable by group or others \\(mode 620\\): not trusted\n$`), { target: isolated });
    assert.deepEqual(children(isolated.pid), []);
  });
});
