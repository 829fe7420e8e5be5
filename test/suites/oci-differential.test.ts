import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import '@attachkit/oci-plugin'; // its target kind: { oci, root? }
import { runCli } from '../helpers/cli.js';
import {
  DEFAULT_PATH, ensureCrunContainer, ensureDockerContainer, ensurePodmanContainer, ensureRuncContainer,
  removeCrunContainer, removeDockerContainer, removePodmanContainer, removeRuncContainer, runtimeExec, startDocker, stopDocker,
  type OciContainer, type OciSpec,
} from '../oci/containers.js';
import { richSpec } from '../oci/specs.js';

/**
 * The same probe through the runtime's own exec (`runc exec`, `docker
 * exec`: the reference) and through `attachkit --oci`, compared line by
 * line: identity, cwd, environment, capability sets, no_new_privs, seccomp,
 * limits, oom_score_adj, umask, the errno of a denied syscall, cgroups.
 * attachkit's CLI keeps the caller's stdin from being a terminal here (no
 * pty), as `runc exec` without -t.
 */

const PROBE = [
  'id', 'pwd', 'env | sort', "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status", 'ulimit -n', 'ulimit -u',
  'cat /proc/self/oom_score_adj', 'umask', '(mkdir /probe-x 2>&1 && rmdir /probe-x) || true', "sh -c 'kill -USR1 $$' 2>&1 | sed 's/pid [0-9]*/pid N/'; sh -c 'kill -USR1 $$'; echo status $?", 'cat /proc/self/cgroup | sort',
].join('; echo ---; ');

const RICH: OciSpec = richSpec('attachkit-ocid-rich');
const PRIVILEGED: OciSpec = { id: 'attachkit-ocid-plain' };
const USERNS: OciSpec = { id: 'attachkit-ocid-userns', userns: true, cgroupns: true };

/** The probe's sections, each as its lines (so a failure shows which differs). */
const sections = (out: string): Record<string, string> => {
  const names = ['id', 'pwd', 'env', 'status', 'nofile', 'nproc', 'oom', 'umask', 'mkdir', 'kill', 'cgroup'];
  return Object.fromEntries(out.split('---\n').map((part, i) => [names[i] ?? String(i), part.trim()]));
};

async function compare(c: OciContainer, id = c.id): Promise<void> {
  const reference = await runtimeExec(c, ['sh', '-c', PROBE]);
  assert.equal(reference.code, 0, reference.stderr);
  const ours = await runCli(['--oci', id, ...(c.runtime === 'crun' ? ['--oci-root', c.root] : []), '--', 'sh', '-c', PROBE]);
  assert.equal(ours.code, 0, ours.stderr);
  assert.deepEqual(sections(ours.stdout), sections(reference.stdout));
}

describe('OCI containers: attachkit --oci against runc exec / docker exec', () => {
  describe('runc', () => {
    const made: OciContainer[] = [];
    before(() => { for (const spec of [RICH, PRIVILEGED, USERNS]) made.push(ensureRuncContainer(spec)); });
    after(() => { for (const c of made) removeRuncContainer(c.id); });

    it('should give what runc exec gives: a rich spec (uid 1000, groups, ambient cap, no_new_privs, seccomp with an argument rule, rlimits, oom_score_adj, cwd, env)', async () => {
      await compare(made[0]!);
    });
    it('should give what runc exec gives: a plain privileged container', async () => {
      await compare(made[1]!);
    });
    it('should give what runc exec gives: a container with its own user and cgroup namespaces', async () => {
      await compare(made[2]!);
    });
    it('should take a unique id prefix, and refuse an unknown id and an ambiguous prefix with one line each', async () => {
      const r = await runCli(['--oci', 'attachkit-ocid-ri', '--', 'true']);
      assert.deepEqual([r.code, r.stderr], [0, '']);
      const unknown = await runCli(['--oci', 'no-such-container', '--', 'true']);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^attachkit: resolve-target: no OCI container 'no-such-container' \(looked in \/run\/runc, \/run\/crun, .*\)\n$/);
      const ambiguous = await runCli(['--oci', 'attachkit-ocid-', '--', 'true']);
      assert.equal(ambiguous.code, 1);
      assert.match(ambiguous.stderr, /^attachkit: resolve-target: container id 'attachkit-ocid-' is ambiguous: attachkit-ocid-plain .*attachkit-ocid-rich .*attachkit-ocid-userns .*\n$/);
    });
    it('should attach through the library with { oci }', async () => {
      const proc = await defaultPipeline().spawn({ target: { oci: RICH.id }, command: ['id', '-u'], stdio: ['ignore', 'pipe', 'pipe'] });
      const out = await proc.output();
      assert.deepEqual([out.exitCode, out.stdout], [0, '1000\n'], out.stderr);
    });
  });

  describe('crun', () => {
    let c: OciContainer;
    before(() => { c = ensureCrunContainer({ id: 'attachkit-ocid-crun', seccomp: RICH.seccomp!, uid: 1000, gid: 1000, cwd: '/tmp', env: [DEFAULT_PATH, 'FOO=crun'] }); });
    after(() => removeCrunContainer(c.id));
    it("should apply the container's spec as runc would (crun exec leaves out the user and cwd), with crun's own compiled seccomp filter", async () => {
      const r = await runCli(['--oci', c.id, '--', 'sh', '-c', 'id -u; pwd; echo $FOO; (mkdir /probe-x 2>&1 && rmdir /probe-x) || true; grep ^Seccomp: /proc/self/status']);
      assert.equal(r.code, 0, r.stderr);
      const reference = await runtimeExec(c, ['sh', '-c', '(mkdir /probe-x 2>&1 && rmdir /probe-x) || true']);
      assert.equal(r.stdout, `1000\n/tmp\ncrun\n${reference.stdout}Seccomp:\t2\n`);
    });
  });

  describe('Docker and Podman (runc under them)', () => {
    let docker: OciContainer;
    let podman: OciContainer;
    before(() => {
      startDocker();
      docker = ensureDockerContainer();
      podman = ensurePodmanContainer();
    });
    after(() => {
      removeDockerContainer();
      removePodmanContainer();
      stopDocker();
    });
    it('should give what docker exec gives, by a 12-character id prefix', async () => {
      await compare(docker, docker.id.slice(0, 12));
    });
    it("should apply a Podman container's spec", async () => {
      const r = await runCli(['--oci', podman.id, '--', 'sh', '-c', "grep -E '^(CapBnd|Seccomp):' /proc/self/status; id -u"]);
      const reference = await runtimeExec(podman, ['sh', '-c', "grep -E '^(CapBnd|Seccomp):' /proc/self/status; id -u"]);
      assert.deepEqual([r.code, r.stdout], [0, reference.stdout], r.stderr);
    });
  });
});
