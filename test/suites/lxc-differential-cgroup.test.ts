import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseMountinfo } from '@attachkit/cgroup-plugin';
import { ensureContainer, hostPid, initPid, restartContainer, stopContainer, targetArgs, type ContainerSpec } from '../lxc/containers.js';
import { attachkit, both, lxcAttach, same, type Run } from '../lxc/differential.js';

/**
 * Cgroups (issue 5), the same attach through lxc-attach 5 and attachkit on
 * real LXC containers, privileged and unprivileged, on this hybrid host (v1
 * controllers and cgroup2). This file owns its containers.
 */

const CONTAINERS: readonly ContainerSpec[] = [{ name: 'attachkit-cg-priv' }, { name: 'attachkit-cg-unpriv', unpriv: true }];
const cgroupOf = (pid: number | 'self') => readFileSync(`/proc/${pid}/cgroup`, 'utf8');

/** A command that forks a background child at once and prints its pid (in the container's pid namespace). */
const FORKS = ['--', 'sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!'];

/** The cgroups of the background child of a FORKS run, read from the host; the child is killed then. */
function childCgroups(r: Run, init: number): string {
  assert.equal(r.code, 0, r.stderr);
  const pid = hostPid(init, Number(r.stdout));
  try {
    return cgroupOf(pid);
  } finally {
    process.kill(pid, 'SIGKILL');
  }
}

describe('cgroups: attachkit and lxc-attach 5 put the command in the same place (real LXC)', () => {
  before(() => { for (const c of CONTAINERS) ensureContainer(c); });
  after(() => { for (const c of CONTAINERS) stopContainer(c); });

  for (const c of CONTAINERS) {
    describe(`${c.unpriv ? 'unprivileged' : 'privileged'} container ${c.name}`, () => {
      it("should show the same /proc/self/cgroup inside: each v1 cgroup's root, LXC's .lxc leaf on cgroup2", async () => {
        const lines = same(await both([...targetArgs(c), '--', 'cat', '/proc/self/cgroup'])).trim().split('\n');
        assert.ok(lines.length > 1);
        for (const line of lines) assert.match(line, line.startsWith('0::') ? /^0::\/\.lxc$/ : /^\d+:[^:]+:\/$/);
      });

      it("should have a child forked at once born in the container's cgroups on every hierarchy (read from the host)", async () => {
        const init = initPid(c);
        // The init's cgroups, with LXC's leaf below the container's cgroup on cgroup2 (no internal processes there).
        const expected = cgroupOf(init).replace(/^0::(.*)$/m, '0::$1/.lxc');
        assert.equal(childCgroups(await lxcAttach([...targetArgs(c), ...FORKS]), init), expected, 'lxc-attach');
        assert.equal(childCgroups(await attachkit([...targetArgs(c), ...FORKS]), init), expected, 'attachkit');
      });

      it("should make LXC's .lxc leaf at the first attach as lxc-attach does: mode 0755, the container root's, files and all", async () => {
        const unified = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).find((h) => h.unified)!.mountPoint;
        const leaves: string[][] = [];
        for (const tool of [lxcAttach, attachkit]) {
          restartContainer(c);
          const leaf = `${unified}${/^0::(.*)$/m.exec(cgroupOf(initPid(c)))![1]}/.lxc`;
          assert.ok(!existsSync(leaf), `no ${leaf} before the first attach`);
          const r = await tool([...targetArgs(c), '--', 'true']);
          assert.equal(r.code, 0, r.stderr);
          leaves.push(['.', ...readdirSync(leaf).sort()].map((entry) => {
            const st = statSync(`${leaf}/${entry}`);
            return `${entry} ${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`;
          }));
        }
        assert.deepEqual(leaves[1], leaves[0]);
        const root = c.unpriv ? 100000 : 0;
        assert.ok(leaves[0]!.every((l) => l.includes(` ${root}:${root} `)), leaves[0]!.join('\n'));
        assert.equal(leaves[0]![0], `. ${root}:${root} 755`);
      });

      it("should leave the command in the caller's cgroups with -eCGROUP (attachkit takes -e CGROUP too)", async () => {
        const init = initPid(c);
        const ours = cgroupOf('self');
        same(await both([...targetArgs(c), '-eCGROUP', '--', 'cat', '/proc/self/cgroup']));
        // lxc-attach's -e has an optional argument: only -eCGROUP passes it (with `-e CGROUP` CGROUP would be the command).
        assert.equal(childCgroups(await lxcAttach([...targetArgs(c), '-eCGROUP', ...FORKS]), init), ours, 'lxc-attach -eCGROUP');
        for (const e of [['-eCGROUP'], ['-e', 'CGROUP']]) {
          assert.equal(childCgroups(await attachkit([...targetArgs(c), ...e, ...FORKS]), init), ours, `attachkit ${e.join(' ')}`);
        }
      });
    });
  }
});
