import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernelAtLeast, parseMountinfo, parseProcCgroup, place } from '../src/index.js';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`;

describe('cgroup hierarchies', () => {
  it('should find v1 and v2 hierarchies in a hybrid mount table', () => {
    assert.deepEqual(parseMountinfo(HYBRID).map((h) => [h.id, h.mountPoint, h.unified]), [
      ['cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct', false],
      ['memory', '/sys/fs/cgroup/memory', false],
      ['name=systemd', '/sys/fs/cgroup/systemd', false],
      ['unified', '/sys/fs/cgroup/unified', true],
    ]);
  });

  it('should map /proc/<pid>/cgroup lines to host directories', () => {
    const memberships = parseProcCgroup('4:memory:/lxc.payload.c1\n2:cpu,cpuacct:/lxc.payload.c1\n9:name=systemd:/x\n0::/lxc.payload.c1\n');
    assert.deepEqual(place(memberships, parseMountinfo(HYBRID)).map((p) => p.dir), [
      '/sys/fs/cgroup/memory/lxc.payload.c1',
      '/sys/fs/cgroup/cpu,cpuacct/lxc.payload.c1',
      '/sys/fs/cgroup/systemd/x',
      '/sys/fs/cgroup/unified/lxc.payload.c1',
    ]);
  });

  it('should honour a mount of a sub-tree (a caller inside a cgroup namespace) and skip what lies outside it', () => {
    const mounts = parseMountinfo('41 31 0:38 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n');
    assert.deepEqual(place(parseProcCgroup('0::/outer/c1\n'), mounts).map((p) => p.dir), ['/sys/fs/cgroup/c1']);
    assert.deepEqual(place(parseProcCgroup('0::/elsewhere\n'), mounts), []);
  });

  it('should work on a pure cgroup2 host', () => {
    const mounts = parseMountinfo('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n');
    assert.deepEqual(place(parseProcCgroup('0::/\n'), mounts).map((p) => p.dir), ['/sys/fs/cgroup']);
  });

  it('should unescape octal escapes in mount points', () => {
    assert.equal(parseMountinfo('1 1 0:1 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n')[0]!.mountPoint, '/mnt/with space');
  });

  it('should know which kernels have CLONE_INTO_CGROUP (5.7)', () => {
    assert.deepEqual(['5.4.0-150-generic', '5.6.19', '5.7.0', '5.10.0-28-amd64', '6.18.44-fc'].map((v) => kernelAtLeast(v, 5, 7)),
      [false, false, true, true, true]);
  });
});
