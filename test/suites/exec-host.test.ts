import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import '@attachkit/host-plugin'; // the request's execHost, mountHost
import { collect, openFdCount, zombies } from '../helpers/process.js';
import { ensureContainer, initPid, stopContainer, targetArgs, type ContainerSpec } from '../lxc/containers.js';
import { attachkit, lxcAttach, oneErrorLine } from '../lxc/differential.js';
import { ensureDistroless, removeDistroless } from '../oci/distroless.js';
import { ensureRuncContainer, removeRuncContainer, runtimeExec, type OciContainer } from '../oci/containers.js';
import { richSpec } from '../oci/specs.js';

/**
 * --exec-host: a program of the host run inside a container's full
 * isolation, from a sealed copy, on real LXC containers (privileged and
 * unprivileged) and a runc container whose rootfs holds one static busybox
 * and nothing else. The isolation must be the container's exactly: the
 * same probe through lxc-attach (the reference) and through attachkit with
 * a host busybox, and a dynamic Debian program's view of /proc/self.
 */

const PRIV: ContainerSpec = { name: 'attachkit-exechost' };
const UNPRIV: ContainerSpec = { name: 'attachkit-exechost-unpriv', unpriv: true };
const DISTROLESS = 'attachkit-exechost-distroless';
const RICH = richSpec('attachkit-exechost-rich');
const HOST_BUSYBOX = '/bin/busybox';
const PROBE_C = fileURLToPath(new URL('../../security/host-probe.c', import.meta.url));
/** The seals of a sealed copy: F_SEAL_SEAL | SHRINK | GROW | WRITE. */
const SEALED = 0xf;

/** What the isolation is made of, as a process sees it of itself. The mount namespace is left out: see below. */
const PROBE = [
  'id', 'hostname', "grep -E '^(Cap|NoNewPrivs|Seccomp|Uid|Gid|Groups)' /proc/self/status", 'cat /proc/self/cgroup | sort',
  'for ns in pid uts ipc net user cgroup; do readlink /proc/self/ns/$ns; done', 'ulimit -n', 'umask', 'env | sort', 'pwd',
].join('; echo ---; ');

describe('--exec-host: a host program inside the container', () => {
  let scratch: string;
  let probe: string;
  let probeDynamic: string;
  let distroless: OciContainer;
  let rich: OciContainer;
  before(() => {
    for (const c of [PRIV, UNPRIV]) ensureContainer(c);
    distroless = ensureDistroless(DISTROLESS);
    rich = ensureRuncContainer(RICH);
    scratch = mkdtempSync(join(tmpdir(), 'attachkit-exechost-'));
    probe = join(scratch, 'host-probe');
    probeDynamic = join(scratch, 'host-probe-dyn');
    for (const [out, flags] of [[probe, ['-static']], [probeDynamic, []]] as const) {
      const r = spawnSync('cc', [...flags, '-O2', '-Wall', '-Werror', '-o', out, PROBE_C], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    writeFileSync(join(scratch, 'host-only'), 'host\n');
  });
  after(() => {
    for (const c of [PRIV, UNPRIV]) stopContainer(c);
    removeDistroless(DISTROLESS);
    removeRuncContainer(RICH.id);
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const c of [PRIV, UNPRIV]) {
    const kind = c.unpriv ? 'unprivileged' : 'privileged';
    describe(`${kind} LXC container ${c.name}`, () => {
      it("should list the container's root with the host's /usr/bin/ls (dynamic), as its own ls does", async () => {
        const ours = await attachkit([...targetArgs(c), '--exec-host', '--', '/usr/bin/ls', '-1', '/']);
        assert.equal(ours.code, 0, ours.stderr);
        const theirs = await attachkit([...targetArgs(c), '--', 'ls', '-1', '/']);
        assert.equal(ours.stdout, theirs.stdout);
        assert.match(ours.stdout, /^selinux$/m); // the busybox template's own
      });

      it('should apply exactly the isolation lxc-attach applies (a host busybox running the differential probe)', async () => {
        const reference = await lxcAttach([...targetArgs(c), '--', 'sh', '-c', PROBE]);
        assert.equal(reference.code, 0, reference.stderr);
        const ours = await attachkit([...targetArgs(c), '--exec-host', '--', HOST_BUSYBOX, 'sh', '-c', PROBE]);
        assert.equal(ours.code, 0, ours.stderr);
        assert.deepEqual(ours.stdout.split('---\n'), reference.stdout.split('---\n'));
      });

      it("should give a dynamic host program the container's isolation, in a private copy of the container's mount namespace", async () => {
        const status = (out: string) => out.split('\n').filter((l) => /^(Cap|NoNewPrivs|Seccomp|Uid|Gid|Groups)/.test(l)).join('\n');
        const ours = await attachkit([...targetArgs(c), '--exec-host', '--', 'cat', '/proc/self/status', '/proc/self/cgroup']);
        const theirs = await lxcAttach([...targetArgs(c), '--', 'cat', '/proc/self/status', '/proc/self/cgroup']);
        assert.equal(ours.code, 0, ours.stderr);
        assert.equal(status(ours.stdout), status(theirs.stdout));
        assert.equal(ours.stdout.split('\n').filter((l) => /^\d+:/.test(l)).join('\n'), theirs.stdout.split('\n').filter((l) => /^\d+:/.test(l)).join('\n'));
        const init = initPid(c);
        const ns = await attachkit([...targetArgs(c), '--exec-host', '--', 'readlink', ...['pid', 'net', 'user', 'mnt'].map((n) => `/proc/self/ns/${n}`)]);
        assert.equal(ns.code, 0, ns.stderr);
        const [pid, net, user, mnt] = ns.stdout.trim().split('\n');
        assert.deepEqual([pid, net, user], ['pid', 'net', 'user'].map((n) => readlinkSync(`/proc/${init}/ns/${n}`)));
        assert.notEqual(mnt, readlinkSync(`/proc/${init}/ns/mnt`), 'the loader and libraries are seen in a private view only');
      });

      it('should run a static program from a sealed memfd: no host path, no host fd, nothing of the host reachable', async () => {
        for (const program of [probe, probeDynamic]) {
          const r = await attachkit([...targetArgs(c), '--exec-host', '--', program, join(scratch, 'host-only'), `/proc/1/root${scratch}/host-only`, `/proc/self/root${scratch}/host-only`, '/proc/self/exe']);
          assert.equal(r.code, 0, r.stderr);
          const lines = r.stdout.trim().split('\n');
          const field = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.slice(name.length + 1);
          assert.match(field('exe') ?? '', program === probe ? /^\/memfd:host-probe \(deleted\)$/ : /^\/memfd:ld-linux-[\w-]+\.so\.\d \(deleted\)$/);
          assert.equal(Number(field('seals')) & SEALED, SEALED, `seals: ${field('seals')}`);
          assert.equal(field('exe-write'), 'ETXTBSY');
          assert.equal(field('exe-chmod'), 'EPERM');
          assert.deepEqual(lines.filter((l) => l.startsWith('fd ')).map((l) => l.split(' ')[1]), ['0', '1', '2']);
          assert.deepEqual(lines.filter((l) => l.startsWith('path ')), [
            `path ${scratch}/host-only ENOENT`, `path /proc/1/root${scratch}/host-only ENOENT`, `path /proc/self/root${scratch}/host-only ENOENT`, 'path /proc/self/exe ok',
          ]);
        }
      });

      it("should leave what the command execs to the container: its own programs and loader, no LD_* variable", async () => {
        const r = await attachkit([...targetArgs(c), '--exec-host', '--', 'env', 'sh', '-c', 'readlink /proc/self/exe; env | grep ^LD_; grep -c attachkit-host /proc/self/maps']);
        assert.deepEqual(r.stdout.trim().split('\n'), ['/bin/busybox', '0'], r.stderr);
      });
    });
  }

  describe(`runc container ${DISTROLESS}: a rootfs with one static busybox, no shell, no libc`, () => {
    it("should list the container's root with the host's /usr/bin/ls", async () => {
      const plain = await attachkit(['--oci', DISTROLESS, '--', 'ls', '/']);
      assert.equal(plain.code, 127, 'the container has no ls of its own');
      const r = await attachkit(['--oci', DISTROLESS, '--exec-host', '--', '/usr/bin/ls', '-1', '/']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['busybox', 'dev', 'proc', 'sys']);
    });

    it("should run a host busybox and dynamic Debian programs with the container's capabilities and user", async () => {
      const r = await attachkit(['--oci', DISTROLESS, '--exec-host', '--', HOST_BUSYBOX, 'sh', '-c', "grep -E '^Cap(Eff|Bnd)' /proc/self/status; id -u; ls /"]);
      const reference = spawnSync('runc', ['--root', distroless.root, 'exec', DISTROLESS, '/busybox', 'grep', '-E', '^Cap(Eff|Bnd)', '/proc/self/status'], { encoding: 'utf8' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${reference.stdout}0\nbusybox\ndev\nproc\nsys\n`);
      const dyn = await attachkit(['--oci', DISTROLESS, '--exec-host', '--', 'grep', '-E', '^Cap(Eff|Bnd)', '/proc/self/status']);
      assert.deepEqual([dyn.code, dyn.stdout], [0, reference.stdout], dyn.stderr);
    });

    it("should exec the container's own program from a host one", async () => {
      const r = await attachkit(['--oci', DISTROLESS, '--exec-host', '--', 'env', '/busybox', 'echo', 'inside']);
      assert.deepEqual([r.code, r.stdout], [0, 'inside\n'], r.stderr);
    });
  });

  describe(`runc container ${RICH.id}: uid 1000, groups, no_new_privs, seccomp, rlimits, cwd, env`, () => {
    it('should give a host busybox what runc exec gives the container\'s', async () => {
      const reference = await runtimeExec(rich, ['sh', '-c', PROBE]);
      assert.equal(reference.code, 0, reference.stderr);
      const ours = await attachkit(['--oci', RICH.id, '--exec-host', '--', HOST_BUSYBOX, 'sh', '-c', PROBE]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.deepEqual(ours.stdout.split('---\n'), reference.stdout.split('---\n'));
    });

    it("should run a dynamic host program as the container's user, under its seccomp filter", async () => {
      const fields = /^(Uid|Gid|Groups|Cap\w+|NoNewPrivs|Seccomp(_filters)?):/;
      const reference = await runtimeExec(rich, ['cat', '/proc/self/status']);
      const ours = await attachkit(['--oci', RICH.id, '--exec-host', '--', 'cat', '/proc/self/status']);
      assert.equal(ours.code, 0, ours.stderr);
      const pick = (out: string) => out.split('\n').filter((l) => fields.test(l)).join('\n');
      assert.equal(pick(ours.stdout), pick(reference.stdout));
      assert.match(pick(ours.stdout), /^Uid:\s+1000\s/m);
    });
  });

  describe('refusals and the library', () => {
    it('should refuse with one line: a command missing on the host, a script, no command', async () => {
      for (const [args, pattern] of [
        [['--', 'no-such-host-program'], /^attachkit: exec-host: no executable 'no-such-host-program' on the host \(PATH=/],
        [['--', '/usr/bin/ldd'], /^attachkit: exec-host: \/usr\/bin\/ldd is not an ELF program/],
        [[], /^attachkit: exec-host: --exec-host needs a command/],
      ] as const) {
        const r = await attachkit([...targetArgs(PRIV), '--exec-host', ...args]);
        assert.notEqual(r.code, 0);
        assert.match(oneErrorLine(r), pattern);
      }
    });

    it("should exec a dynamic program directly when the container's mount namespace is not joined (-s NETWORK): the host's loader is where the kernel looks", async () => {
      const r = await attachkit([...targetArgs(PRIV), '-s', 'NETWORK', '--exec-host', '--', 'readlink', '/proc/self/exe', '/proc/self/ns/mnt']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['/memfd:readlink (deleted)', readlinkSync('/proc/self/ns/mnt')]);
    });

    it('should list and explain its stages in `attachkit stages`', async () => {
      const r = await attachkit(['stages', ...targetArgs(PRIV), '--exec-host']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /exec-host +on +run a host program .*\(--exec-host\)/);
      assert.match(r.stdout, /mount-host +on +bind host paths .*--exec-host/);
      const off = await attachkit(['stages', ...targetArgs(PRIV)]);
      assert.match(off.stdout, /exec-host +off .*\(no --exec-host\)/);
    });

    it('should take execHost in a library request, and leak no fd or process, whether it runs or is refused', async () => {
      const pipeline = defaultPipeline();
      const run = async () => {
        const out = await collect(await pipeline.spawn({ target: { name: PRIV.name }, command: ['ls', '/'], execHost: true, stdio: ['ignore', 'pipe', 'pipe'] }));
        assert.equal(out.exitCode, 0, out.stderr);
        assert.match(out.stdout, /^selinux$/m);
      };
      await run(); // the first attach of a process loads the executor's memfd, once
      const fds = openFdCount();
      await run();
      await assert.rejects(pipeline.spawn({ target: { name: PRIV.name }, command: ['no-such-host-program'], execHost: true }), /exec-host: no executable/);
      assert.equal(openFdCount(), fds);
      assert.deepEqual(zombies(), []);
    });
  });
});
