import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  CGROUP_PARENT, CRUN_ROOT, DEFAULT_PATH, DOCKER_RUNC_ROOT, RUNC_ROOT, cgroupHierarchies, dockerDaemonPids,
  ensureCrunContainer, ensureDockerContainer, ensurePodmanContainer, ensureRuncContainer,
  removeCrunContainer, removeDockerContainer, removePodmanContainer, removeRuncContainer, runtimeExec,
  startDocker, startTime, stopDocker, type OciContainer, type OciSpec,
} from '../oci/containers.js';
import { richSpec } from '../oci/specs.js';

/**
 * The OCI fixture (test/oci/) on this machine: real runc, crun, Podman and
 * Docker containers, and the reference exec of each showing what the spec
 * says. The differential suites build on it; this suite only proves it.
 */

const CAP = { CHOWN: 1n << 0n, KILL: 1n << 5n, NET_BIND_SERVICE: 1n << 10n, AUDIT_WRITE: 1n << 29n };
const hex = (mask: bigint): string => mask.toString(16).padStart(16, '0');

const RICH: OciSpec = richSpec('attachkit-oci-rich');
const USERNS: OciSpec = { id: 'attachkit-oci-userns', userns: true, cgroupns: true };
const CRUN: OciSpec = {
  id: 'attachkit-oci-crun',
  seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 99 }] },
};

/** A runc-format state.json (runc, Podman, Docker). */
function runcState(root: string, id: string): { init_process_pid: number; init_process_start: number; config: { labels: string[] } } {
  const file = `${root}/${id}/state.json`;
  assert.equal(statSync(file).mode & 0o777, 0o600, `${file} is 0600`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

function assertRuncState(c: OciContainer): void {
  const state = runcState(c.root, c.id);
  assert.equal(state.init_process_pid, c.initPid);
  assert.equal(Number(state.init_process_start), startTime(c.initPid), 'init_process_start is field 22 of /proc/PID/stat');
  assert.ok(existsSync(`${c.bundle}/config.json`), `${c.bundle}/config.json`);
}

async function ok(c: OciContainer, args: string[]): Promise<string> {
  const r = await runtimeExec(c, args);
  assert.equal(r.code, 0, `${c.runtime} exec ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function cgroupOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
}

describe('OCI fixture: runc with a rich spec', () => {
  let c: OciContainer;
  before(() => { c = ensureRuncContainer(RICH); });
  after(() => { removeRuncContainer(RICH.id); });

  it("should keep runc's state.json under /run/runc with the init's pid and start time", () => {
    assert.equal(c.root, RUNC_ROOT);
    assertRuncState(c);
    assert.ok(runcState(c.root, c.id).config.labels.includes(`bundle=${c.bundle}`));
    for (const line of cgroupOf(c.initPid)) assert.ok(line.endsWith(`:${CGROUP_PARENT}/${RICH.id}`), line);
  });

  it('should be idempotent: a second ensure is fast and keeps the container', () => {
    const t = performance.now();
    const again = ensureRuncContainer(RICH);
    const ms = performance.now() - t;
    assert.deepEqual(again, c);
    assert.ok(ms < 500, `second ensure took ${ms.toFixed(0)} ms`);
  });

  it('should give `runc exec` the user, groups, cwd and exactly the environment of the spec', async () => {
    assert.equal((await ok(c, ['id'])).trim(), 'uid=1000(u1000) gid=1000(g1000) groups=10(g10),20(g20)');
    assert.equal((await ok(c, ['pwd'])).trim(), '/tmp');
    assert.deepEqual((await ok(c, ['env'])).trim().split('\n').sort(), [DEFAULT_PATH, 'FOO=bar', 'HOME=/home/u1000'].sort());
  });

  it('should give it the capability sets, no_new_privs and the seccomp filter', async () => {
    const status = Object.fromEntries((await ok(c, ['cat', '/proc/self/status'])).split('\n').map((l) => l.split(/:\s*/, 2)));
    assert.equal(status.CapInh, hex(CAP.NET_BIND_SERVICE));
    assert.equal(status.CapPrm, hex(CAP.NET_BIND_SERVICE));
    assert.equal(status.CapEff, hex(CAP.NET_BIND_SERVICE));
    assert.equal(status.CapAmb, hex(CAP.NET_BIND_SERVICE));
    assert.equal(status.CapBnd, hex(CAP.CHOWN | CAP.KILL | CAP.NET_BIND_SERVICE | CAP.AUDIT_WRITE));
    assert.equal(status.NoNewPrivs, '1');
    assert.equal(status.Seccomp, '2');
    const mkdir = await runtimeExec(c, ['mkdir', '/x']);
    assert.equal(mkdir.code, 1);
    assert.match(mkdir.stderr, /Cannot assign requested address/, 'errno 99 (EADDRNOTAVAIL), not EROFS');
    // The rule with an argument condition: kill(…, SIGUSR1) fails, kill(…, SIGUSR2) does not.
    const usr1 = await runtimeExec(c, ['sh', '-c', 'trap "" USR1; kill -USR1 $$']);
    assert.notEqual(usr1.code, 0);
    assert.match(usr1.stderr, /Address family not supported/, 'errno 97');
    assert.equal((await runtimeExec(c, ['sh', '-c', 'trap "" USR2; kill -USR2 $$'])).code, 0);
  });

  it('should give it the rlimits and oom_score_adj, and put it in the cgroup of the init', async () => {
    assert.deepEqual((await ok(c, ['sh', '-c', 'ulimit -n; ulimit -u; cat /proc/self/oom_score_adj'])).trim().split('\n'), ['512', '77', '123']);
    assert.deepEqual((await ok(c, ['cat', '/proc/self/cgroup'])).trim().split('\n'), cgroupOf(c.initPid));
  });

  it('should make the container again when the spec changes', () => {
    const changed = ensureRuncContainer({ ...RICH, oomScoreAdj: 124 });
    assert.notEqual(changed.initPid, c.initPid);
    assert.equal(readFileSync(`/proc/${changed.initPid}/oom_score_adj`, 'utf8').trim(), '124');
    c = ensureRuncContainer(RICH);
  });
});

describe('OCI fixture: runc with a user namespace', () => {
  let c: OciContainer;
  before(() => { c = ensureRuncContainer(USERNS); });
  after(() => { removeRuncContainer(USERNS.id); });

  it('should map 0..65535 to 100000.. and keep its own user and cgroup namespaces', async () => {
    assertRuncState(c);
    assert.notEqual(readlinkSync(`/proc/${c.initPid}/ns/user`), readlinkSync('/proc/self/ns/user'));
    assert.equal(statSync(`/proc/${c.initPid}`).uid, 100000);
    const [uidMap, gidMap, uid, capEff, ...cgroups] = (await ok(c, ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; grep CapEff /proc/self/status; cat /proc/self/cgroup'])).trim().split('\n');
    assert.deepEqual(uidMap!.trim().split(/\s+/), ['0', '100000', '65536']);
    assert.deepEqual(gidMap!.trim().split(/\s+/), ['0', '100000', '65536']);
    assert.equal(uid, '0');
    assert.equal(capEff!.split(/\s+/)[1], hex(CAP.KILL | CAP.NET_BIND_SERVICE | CAP.AUDIT_WRITE), "runc spec's default sets");
    for (const line of cgroups) assert.ok(line.endsWith(':/'), `cgroup namespace: ${line}`);
  });
});

describe('OCI fixture: crun', () => {
  let c: OciContainer;
  before(() => { c = ensureCrunContainer(CRUN); });
  after(() => { removeCrunContainer(CRUN.id); });

  it("should keep crun's status, config.json copy and compiled seccomp.bpf under /run/crun", () => {
    assert.equal(c.root, CRUN_ROOT);
    const status = JSON.parse(readFileSync(`${CRUN_ROOT}/${c.id}/status`, 'utf8'));
    assert.equal(status.pid, c.initPid);
    assert.equal(status['process-start-time'], startTime(c.initPid));
    assert.equal(status.bundle, c.bundle);
    assert.equal(status['cgroup-path'], `${CGROUP_PARENT}/${CRUN.id}`);
    assert.deepEqual(readFileSync(`${CRUN_ROOT}/${c.id}/config.json`), readFileSync(`${c.bundle}/config.json`));
    assert.ok(statSync(`${CRUN_ROOT}/${c.id}/seccomp.bpf`).size > 0);
  });

  it('should run `crun exec` in the container, under its seccomp filter', async () => {
    assert.equal((await ok(c, ['hostname'])).trim(), CRUN.id);
    const mkdir = await runtimeExec(c, ['mkdir', '/x']);
    assert.equal(mkdir.code, 1);
    assert.match(mkdir.stderr, /Cannot assign requested address/);
    assert.equal(ensureCrunContainer(CRUN).initPid, c.initPid, 'idempotent');
  });
});

describe('OCI fixture: Podman (runc)', () => {
  let c: OciContainer;
  before(() => { c = ensurePodmanContainer(); });
  after(() => { removePodmanContainer(); });

  it('should keep runc state under /run/runc/<64-hex id> and the bundle under containers storage', async () => {
    assert.match(c.id, /^[0-9a-f]{64}$/);
    assertRuncState(c);
    assert.match(c.bundle, /^\/var\/lib\/containers\/storage\/overlay-containers\/[0-9a-f]{64}\/userdata$/);
    assert.equal((await ok(c, ['sh', '-c', 'ulimit -n'])).trim(), '1024');
    // Podman's `--user 1000` takes the groups that name u1000, not the primary one (Docker adds it: below).
    assert.equal((await runtimeExec(c, ['id'], { user: '1000', cwd: '/tmp' })).stdout.trim(), 'uid=1000(u1000) gid=1000(g1000) groups=10(g10),20(g20)');
    assert.deepEqual((await ok(c, ['cat', '/proc/self/cgroup'])).trim().split('\n'), cgroupOf(c.initPid));
    assert.equal(ensurePodmanContainer().initPid, c.initPid, 'idempotent');
  });
});

describe('OCI fixture: Docker (runc through containerd)', () => {
  let c: OciContainer;
  let started: ReturnType<typeof startDocker>;
  before(() => {
    started = startDocker();
    c = ensureDockerContainer();
  });
  after(() => {
    removeDockerContainer();
    stopDocker();
  });

  it('should keep runc state under /run/docker/runtime-runc/moby/<id> and the bundle under containerd', async () => {
    assert.equal(c.root, DOCKER_RUNC_ROOT);
    assertRuncState(c);
    const options = JSON.parse(readFileSync(`${c.bundle}/options.json`, 'utf8'));
    assert.equal(options.root, '/var/run/docker/runtime-runc');
    assert.equal((await ok(c, ['hostname'])).trim(), c.id.slice(0, 12));
    assert.equal((await runtimeExec(c, ['id'], { user: '1000', cwd: '/tmp' })).stdout.trim(), 'uid=1000(u1000) gid=1000(g1000) groups=10(g10),20(g20),1000(g1000)');
    assert.equal((await ok(c, ['grep', 'CapEff', '/proc/self/status'])).trim().split(/\s+/)[1], '00000000a80425fb', "Docker's 14 capabilities");
    assert.equal(ensureDockerContainer().initPid, c.initPid, 'idempotent');
  });

  it('should stop the daemons it started', () => {
    removeDockerContainer();
    assert.ok(!existsSync(`${DOCKER_RUNC_ROOT}/${c.id}`));
    stopDocker();
    const running = dockerDaemonPids();
    if (started.dockerd) assert.equal(running.dockerd, undefined, 'dockerd stopped');
    if (started.containerd) assert.equal(running.containerd, undefined, 'containerd stopped');
  });
});

describe('OCI fixture: clean up', () => {
  it('should leave no container, state or cgroup behind', () => {
    for (const spec of [RICH, USERNS]) assert.ok(!existsSync(`${RUNC_ROOT}/${spec.id}`), `${RUNC_ROOT}/${spec.id}`);
    assert.ok(!existsSync(`${CRUN_ROOT}/${CRUN.id}`));
    for (const h of cgroupHierarchies()) assert.ok(!existsSync(`${h}${CGROUP_PARENT}`), `${h}${CGROUP_PARENT}`);
    assert.notEqual(spawnSync('podman', ['container', 'exists', 'attachkit-podman']).status, 0, 'no Podman container left');
  });
});
