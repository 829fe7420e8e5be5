import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import '@attachkit/host-plugin'; // the request's execHost, mountHost
import { CLI } from '../helpers/cli.js';
import { collect, openFdCount, zombies } from '../helpers/process.js';
import { ensureContainer, initPid, rootfs, stopContainer, targetArgs, type ContainerSpec } from '../lxc/containers.js';
import { attachkit, oneErrorLine } from '../lxc/differential.js';
import { ensureDistroless, removeDistroless } from '../oci/distroless.js';

/**
 * --mount-host SRC:DST[:rw]: host paths bound for the command alone, in a
 * private copy of its mount namespace, on real LXC containers (privileged
 * and unprivileged) and a runc container with one static busybox. The
 * container's filesystem, its init and other attaches never see them; the
 * command cannot write through a read-only bind nor reach the host beyond
 * what was named.
 */

const PRIV: ContainerSpec = { name: 'attachkit-mounthost' };
const UNPRIV: ContainerSpec = { name: 'attachkit-mounthost-unpriv', unpriv: true };
const DISTROLESS = 'attachkit-mounthost-distroless';

/** The container's mount table, as its init sees it (mount ids and all). */
const mountsOf = (pid: number) => readFileSync(`/proc/${pid}/mountinfo`, 'utf8');

/** Start an attach that prints `ready` once the command runs, and keeps it running until its stdin closes. */
function held(args: readonly string[]): Promise<{ done: Promise<{ code: number | null; stdout: string; stderr: string }>; release: () => void }> {
  const child = spawn(CLI, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('ready\n')) resolve({ done, release: () => child.stdin.end() });
    });
    done.then((r) => reject(new Error(`the attach ended before it was ready: ${JSON.stringify(r)}`)), reject);
  });
}

describe('--mount-host: host paths for the command alone', () => {
  let scratch: string;
  before(() => {
    for (const c of [PRIV, UNPRIV]) ensureContainer(c);
    ensureDistroless(DISTROLESS);
    scratch = mkdtempSync(join(tmpdir(), 'attachkit-mounthost-'));
    mkdirSync(join(scratch, 'tree', 'sub'), { recursive: true });
    writeFileSync(join(scratch, 'tree', 'file'), 'from the host\n');
    writeFileSync(join(scratch, 'tree', 'sub', 'deep'), 'deep\n');
    writeFileSync(join(scratch, 'secret'), 'host only\n');
    writeFileSync(join(scratch, 'rw-file'), 'before\n');
    // Symlinks in the bound tree that point out of it: resolved inside the container, never on the host.
    symlinkSync(join(scratch, 'secret'), join(scratch, 'tree', 'abs-out'));
    symlinkSync('../secret', join(scratch, 'tree', 'rel-out'));
  });
  after(() => {
    for (const c of [PRIV, UNPRIV]) stopContainer(c);
    removeDistroless(DISTROLESS);
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const c of [PRIV, UNPRIV]) {
    const kind = c.unpriv ? 'unprivileged' : 'privileged';
    describe(`${kind} LXC container ${c.name}`, () => {
      it('should bind a host directory and a file, read-only by default, at targets that exist and that do not', async () => {
        const r = await attachkit([...targetArgs(c), '--mount-host', `${scratch}/tree:/mnt/tree`, '--mount-host', `${scratch}/tree/file:/opt/new/file`, '--',
          'sh', '-c', 'cat /mnt/tree/file /opt/new/file /mnt/tree/sub/deep; echo x > /mnt/tree/file; echo x > /opt/new/file; touch /mnt/tree/new; mkdir /opt/made; ls /opt; echo done']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'from the host\nfrom the host\ndeep\nnew\ndone\n');
        assert.match(r.stderr, /can't create \/mnt\/tree\/file: Read-only file system/);
        assert.match(r.stderr, /can't create \/opt\/new\/file: Read-only file system/);
        assert.match(r.stderr, /touch: \/mnt\/tree\/new: Read-only file system/);
        assert.match(r.stderr, /mkdir: can't create directory '\/opt\/made': Read-only file system/);
        assert.equal(readFileSync(join(scratch, 'tree', 'file'), 'utf8'), 'from the host\n');
        assert.ok(!existsSync(join(rootfs(c), 'opt')), "the container's filesystem is not written: no /opt");
      });

      it("should write through a bind with :rw, as the host's permissions let the command's user", async () => {
        // The unprivileged container's root is host uid 100000: the host file lets anyone write.
        writeFileSync(join(scratch, 'rw-file'), 'before\n', { mode: 0o666 });
        chmodSync(join(scratch, 'rw-file'), 0o666);
        const r = await attachkit([...targetArgs(c), '--mount-host', `${scratch}/rw-file:/etc/rw-file:rw`, '--', 'sh', '-c', 'echo after > /etc/rw-file']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(readFileSync(join(scratch, 'rw-file'), 'utf8'), 'after\n');
        assert.ok(!existsSync(join(rootfs(c), 'etc', 'rw-file')));
      });

      it('should keep the binds from the container: its init, another attach and its rootfs never see them; nothing is left after', async () => {
        const init = initPid(c);
        const before = mountsOf(init);
        const attach = await held([...targetArgs(c), '--mount-host', `${scratch}/tree:/tools`, '--', 'sh', '-c', 'ls /tools >/dev/null && echo ready && read x; exit 0']);
        try {
          assert.ok(!existsSync(`/proc/${init}/root/tools`), "the init's root has no /tools");
          assert.equal(mountsOf(init), before, "the container's mount table is unchanged");
          const other = await attachkit([...targetArgs(c), '--', 'sh', '-c', 'ls /tools; grep -c tools /proc/self/mountinfo']);
          assert.equal(other.stdout, '0\n');
          assert.match(other.stderr, /ls: \/tools: No such file or directory/);
        } finally {
          attach.release();
        }
        const r = await attach.done;
        assert.equal(r.code, 0, r.stderr);
        assert.equal(mountsOf(init), before);
        assert.ok(!existsSync(join(rootfs(c), 'tools')));
      });

      it("should not reach the host beyond what was named: .., symlinks out of the tree, /proc/self/root, /proc/1/root", async () => {
        const paths = ['/mnt/tree/../tree/file', '/mnt/tree/abs-out', '/mnt/tree/rel-out', `/proc/self/root${scratch}/secret`, `/proc/1/root${scratch}/secret`, `${scratch}/secret`];
        const r = await attachkit([...targetArgs(c), '--mount-host', `${scratch}/tree:/mnt/tree`, '--', 'sh', '-c',
          `for p in ${paths.join(' ')}; do cat $p 2>/dev/null || echo "$p unreachable"; done; cd /mnt/tree/../..; pwd; ls -d /mnt/tree/../../selinux`]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, ['from the host', ...paths.slice(1).map((p) => `${p} unreachable`), '/', '/mnt/tree/../../selinux', ''].join('\n'));
      });

      it("should not let a source inside the container's rootfs lead out of it (its symlinks are resolved inside)", async () => {
        const escape = join(rootfs(c), 'escape');
        rmSync(escape, { force: true });
        symlinkSync('/', escape);
        try {
          const r = await attachkit([...targetArgs(c), '--mount-host', `${escape}:/mnt/e`, '--mount-host', `${rootfs(c)}/escape${scratch}:/mnt/s`, '--', 'sh', '-c', 'ls /mnt/e; ls /mnt/s']);
          // /escape is the container's own root: the first bind shows it, the second names a path the container does not have.
          assert.notEqual(r.code, 0);
          assert.match(oneErrorLine(r), /^attachkit: mount-host: open of the host path .*\/escape\/tmp\/attachkit-mounthost-.* \(--mount-host\) failed: ENOENT/);
          const ok = await attachkit([...targetArgs(c), '--mount-host', `${escape}:/mnt/e`, '--', 'ls', '/mnt/e']);
          assert.equal(ok.code, 0, ok.stderr);
          assert.match(ok.stdout, /^selinux$/m);
          assert.doesNotMatch(ok.stdout, /^work$|^boot$/m);
        } finally {
          rmSync(escape, { force: true });
        }
      });
    });
  }

  describe(`runc container ${DISTROLESS}: a rootfs with one static busybox`, () => {
    it('should bind host directories into an almost empty root, with a host program', async () => {
      const r = await attachkit(['--oci', DISTROLESS, '--exec-host', '--mount-host', `${scratch}/tree:/debug`, '--', '/bin/busybox', 'sh', '-c', 'cat /debug/file; ls /; touch /debug/x 2>&1']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, 'from the host\nbusybox\ndebug\ndev\nproc\nsys\ntouch: /debug/x: Read-only file system\n');
    });
  });

  describe('refusals and the library', () => {
    it('should refuse bad values with one line and a non-zero status', async () => {
      for (const [spec, pattern, again] of [
        ['relative:/x', /^attachkit: --mount-host 'relative:\/x': the source must be an absolute path$/],
        [`${scratch}/tree:/`, /the target cannot be \/$/],
        [`${scratch}/tree`, /expects SRC:DST or SRC:DST:rw/],
        [`${scratch}/tree:/x:rx`, /expects SRC:DST or SRC:DST:rw/],
        [`${scratch}/no-such:/x`, /^attachkit: mount-host: open of the host path .*\/no-such \(--mount-host\) failed: ENOENT \(No such file or directory\)$/],
        [`${scratch}/tree/file:/etc`, /^attachkit: mount-host: \/etc is a directory in the container, and the host's .*\/tree\/file is not$/],
        [`${scratch}/tree:/etc/passwd/x`, /^attachkit: mount-host: \/etc\/passwd is not a directory in the container/],
        [`${scratch}/tree:/dangling/x`, /^attachkit: mount-host: \/dangling is a dangling symlink in the container: \/dangling\/x cannot be made through it$/],
        [`${scratch}/tree:/mnt/a`, /^attachkit: mount-host: mountHost: the target \/mnt\/a is given twice$/, `${scratch}/tree:/mnt/a`],
      ] as const) {
        const dangling = join(rootfs(PRIV), 'dangling');
        rmSync(dangling, { force: true });
        symlinkSync('/nonexistent', dangling);
        try {
          const r = await attachkit([...targetArgs(PRIV), '--mount-host', spec, ...(again ? ['--mount-host', again] : []), '--', 'true']);
          assert.equal(r.code, 1, spec);
          assert.match(oneErrorLine(r), pattern);
        } finally {
          rmSync(dangling, { force: true });
        }
      }
    });

    it('should take mountHost in a library request, and leak no fd or process', async () => {
      const pipeline = defaultPipeline();
      const run = async () => {
        const out = await collect(await pipeline.spawn({
          target: { name: PRIV.name }, command: ['cat', '/srv/host/file'], mountHost: [{ source: join(scratch, 'tree'), target: '/srv/host' }], stdio: ['ignore', 'pipe', 'pipe'],
        }));
        assert.deepEqual([out.exitCode, out.stdout], [0, 'from the host\n'], out.stderr);
      };
      await run();
      const fds = openFdCount();
      await run();
      await assert.rejects(pipeline.spawn({ target: { name: PRIV.name }, command: ['true'], mountHost: [{ source: 'relative', target: '/x' }] }), /mount-host: mountHost: relative:\/x: the source must be an absolute path/);
      assert.equal(openFdCount(), fds);
      assert.deepEqual(zombies(), []);
    });
  });
});
